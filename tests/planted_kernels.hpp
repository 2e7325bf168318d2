#pragma once
// Kernels with deliberate bugs, and their correct twins, for the emulated device's
// racecheck and initcheck (tests/test_cuda_hazards.cpp). In a .cu file of their own so
// that the hazards build instruments them as it does engine/cuda (Makefile, TEST_CU).
// Each launches on the backend's stream and throws, naming the kernel, if the launch
// fails (FC_LAUNCH's check).

namespace fc::planted {

// y[i] = x[n - 1 - i] through a __shared__ tile, one block of n <= 256 threads; without
// the barrier between the tile's write and read (a missing __syncthreads).
void reverse_through_shared(const float* x, float* y, int n, bool barrier);
// `blocks` blocks of 32 threads add to *out: every thread 1, atomically; or thread 0 of
// each block 1 with a plain read-modify-write (the blocks race on one address).
void all_blocks_add_one(float* out, int blocks, bool atomic);
// y[i] = 2 x[i] for i < n, one thread an element.
void twice(const float* x, float* y, int n);

}  // namespace fc::planted
