#pragma once
// What the flowcpp side of every benchmark shares: its timing options, timing with
// warm-up, the median, and the process's peak RSS (the number compared with PyTorch's).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "apps/cli/options.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/kernels.hpp"
#include "engine/profiler.hpp"
#include "engine/threads.hpp"

namespace fc::bench {

struct TimingOptions {
  int64_t iters = 0, warmup = 0, threads = 0;
};

// --iters, --warmup and --threads, with these defaults.
inline void add_timing_options(cxxopts::Options& o, TimingOptions& t, int iters, int warmup) {
  o.add_options()
      ("iters", "timed runs", cxxopts::value<int64_t>(t.iters)->default_value(std::to_string(iters)))
      ("warmup", "untimed runs first", cxxopts::value<int64_t>(t.warmup)->default_value(std::to_string(warmup)))
      ("threads", "CPU threads (0: OMP_NUM_THREADS or all cores)",
       cxxopts::value<int64_t>(t.threads)->default_value("0"));
}

// Parses (with --help), checks the timing options and sets the thread count.
inline void parse_options(cxxopts::Options& o, const TimingOptions& t, int argc, char** argv) {
  app::parse_with_help(o, argc, argv);
  app::require_range("iters", t.iters, 1, 1000000);
  app::require_range("warmup", t.warmup, 0, 1000000);
  app::require_range("threads", t.threads, 0, 1024);
  set_num_threads(static_cast<int>(t.threads));
}

// A usage error unless value is one of the allowed ones.
inline void require_one_of(const char* option, const std::string& value,
                           const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    throw app::UsageError("option '--" + std::string(option) + "': must be " + app::join(allowed, ", ") +
                          ", got '" + value + "'");
}

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

// The kernel launches of one timed run of the last time_it on CUDA (0 on the CPU).
inline double& launches_per_run() {
  static double v = 0;
  return v;
}

// Runs f warmup times, then iters timed times (ms each); the profiler counts only the
// timed ones. Each timed run ends when the device has finished its work (a GPU runs
// kernels after the host has queued them).
template <class F>
std::vector<double> time_it(int warmup, int iters, F f, Device device = Device::CPU) {
  using Clock = std::chrono::steady_clock;
  auto sync = FC_KERNEL(device, synchronize, "time_it");
  for (int i = 0; i < warmup; ++i) f();
  sync();
  profiler::reset();
  const uint64_t launches0 = device == Device::CUDA ? cuda::kernel_launches() : 0;
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    auto t0 = Clock::now();
    f();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  launches_per_run() =
      device == Device::CUDA && iters > 0 ? static_cast<double>(cuda::kernel_launches() - launches0) / iters : 0.0;
  return ms;
}

}  // namespace fc::bench
