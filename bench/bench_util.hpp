#pragma once
// What the flowcpp side of every benchmark shares: timing with warm-up, the median,
// and the process's peak RSS (the number compared with PyTorch's).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "engine/profiler.hpp"

namespace fc::bench {

inline double peak_rss_mb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Runs f warmup times, then iters timed times (ms each); the profiler counts only the
// timed ones.
template <class F>
std::vector<double> time_it(int warmup, int iters, F f) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) f();
  profiler::reset();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

}  // namespace fc::bench
