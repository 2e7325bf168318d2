#include "apps/train/run_metrics.hpp"

#include <cstdio>

#include "engine/allocator.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"

namespace fc::app {

void write_json(const std::string& path, const std::string& text) { io::atomic_write_text(path, text + "\n"); }

void record_peak_memory(nlohmann::json& metrics, Device d) {
  metrics["peak_memory_mb"] = memory_stats(Device::CPU).peak_reserved_bytes / 1048576.0;
  if (d != Device::CPU) metrics["peak_device_memory_mb"] = memory_stats(d).peak_reserved_bytes / 1048576.0;
}

uint64_t host_waits(Device d) { return d == Device::CUDA ? cuda::host_waits() : 0; }

uint64_t kernel_launches(Device d) { return d == Device::CUDA ? cuda::kernel_launches() : 0; }

StepCounters::StepCounters(Device d)
    : device_(d), waits_(host_waits(d)), system_allocs_(memory_stats(d).system_allocs), launches_(kernel_launches(d)) {}

void StepCounters::add_step_to(HostWaits& w, bool first_step) const {
  ++w.steps;
  w.waits += static_cast<int64_t>(host_waits(device_) - waits_);
  if (first_step) return;
  ++w.later_steps;
  w.system_allocs += static_cast<int64_t>(memory_stats(device_).system_allocs - system_allocs_);
  w.launches += static_cast<int64_t>(kernel_launches(device_) - launches_);
}

void record_host_waits(const char* program, nlohmann::json& metrics, const HostWaits& w, Device d) {
  if (d == Device::CPU) return;
  const double per_step = w.later_steps > 0 ? static_cast<double>(w.launches) / w.later_steps : 0.0;
  metrics["host_waits_in_steady_steps"] = {{"steps", w.steps},
                                           {"waits", w.waits},
                                           {"later_steps", w.later_steps},
                                           {"system_allocs", w.system_allocs},
                                           {"launches_per_step", per_step}};
  if (dist::is_root())
    std::fprintf(stderr,
                 "%s: the host waited for the device %lld times in %lld steady training steps; %lld device "
                 "allocations in the %lld after the first; %.0f kernel launches a step\n",
                 program, static_cast<long long>(w.waits), static_cast<long long>(w.steps),
                 static_cast<long long>(w.system_allocs), static_cast<long long>(w.later_steps), per_step);
}

}  // namespace fc::app
