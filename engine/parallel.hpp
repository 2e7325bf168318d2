#pragma once
// Splits [0, n) into one contiguous chunk per OpenMP thread, or runs it on the
// calling thread when n is below `grain` (a parallel region costs microseconds, more
// than a small loop). The same OpenMP pool serves OpenBLAS (its OpenMP build).
#include <omp.h>

#include <cstdint>

namespace fc {

// The serial path calls the body through this out-of-line function: inlined into
// parallel_for's own code, GCC 12 failed to vectorise some bodies ("latch block not
// empty") and ran AdamW and SiLU scalar.
template <class F>
[[gnu::noinline]] void run_range(F& f, int64_t begin, int64_t end) {
  f(begin, end);
}

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    run_range(f, int64_t{0}, n);
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

// Cheap elementwise work (a load, an add, a store): below this many elements one
// thread is faster than waking the others.
constexpr int64_t kElementwiseGrain = 1 << 15;
// Elementwise work with an exp or a division per element (SiLU, sigmoid and their
// gradients) pays for a second thread much earlier.
constexpr int64_t kTranscendentalGrain = 1 << 12;

}  // namespace fc
