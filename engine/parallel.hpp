#pragma once
// Splits [0, n) into one contiguous chunk per OpenMP thread, or runs it on the
// calling thread when n is below `grain` (a parallel region costs microseconds, more
// than a small loop). The same OpenMP pool serves OpenBLAS (its OpenMP build).
#include <omp.h>

#include <cstdint>

namespace fc {

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t begin = t * chunk, end = begin + chunk < n ? begin + chunk : n;
    if (begin < end) f(begin, end);
  }
}

// Cheap elementwise work: below this many elements one thread is faster.
constexpr int64_t kElementwiseGrain = 1 << 15;

}  // namespace fc
