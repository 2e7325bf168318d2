#pragma once
// The one thread pool: OpenMP's, shared by our loops and by OpenBLAS.
namespace fc {
// Sets the threads for our loops and for BLAS (n <= 0 keeps the default, which
// respects OMP_NUM_THREADS).
void set_num_threads(int n);
int num_threads();
}  // namespace fc
