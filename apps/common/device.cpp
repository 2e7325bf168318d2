#include "apps/common/device.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/interrupt.hpp"
#include "apps/common/options.hpp"
#include "engine/dist.hpp"
#include "engine/allocator.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/threads.hpp"

namespace fc::app {

void add_device_option(cxxopts::Options& options, std::string& choice) {
  options.add_options()("device",
                        "where to train and sample: auto (a GPU when there is one), cpu or cuda",
                        cxxopts::value<std::string>(choice)->default_value("auto"));
}

Device resolve_device(const std::string& choice) {
  if (choice == "cpu") return Device::CPU;
  if (choice == "auto") return cuda::unavailable_reason().empty() && !cuda::emulated() ? Device::CUDA : Device::CPU;
  if (choice == "cuda") {
    const std::string why = cuda::unavailable_reason();
    if (!why.empty()) throw UsageError("option '--device cuda': no CUDA device: " + why);
    return Device::CUDA;
  }
  throw UsageError("option '--device': must be auto, cpu or cuda, got '" + choice + "'");
}

std::string describe_device(Device d) {
  if (d == Device::CPU) return "CPU (" + std::to_string(num_threads()) + " threads)";
  return "CUDA: " + cuda::device_description();
}

std::string announce_device(const char* program, Device d) {
  std::string text = describe_device(d);
  if (dist::is_root()) {
    std::fprintf(stderr, "%s: device %s\n", program, text.c_str());
    if (dist::size() > 1 && d == Device::CUDA)
      std::fprintf(stderr, "%s: %d ranks; gradients averaged by %s\n", program, dist::size(),
                   cuda::communicator_name().c_str());
  }
  return text;
}

void init_ranks(Device d) {
  dist::init();
  if (dist::size() == 1) return announce_interrupts();
  // Every rank writes its device into its own slot; the maximum over ranks gathers them.
  std::vector<double> devices(static_cast<size_t>(dist::size()), 0.0);
  devices[static_cast<size_t>(dist::rank())] = d == Device::CPU ? 1.0 : 2.0;
  dist::all_reduce_max(devices.data(), static_cast<int64_t>(devices.size()));
  bool same = true;
  std::string each;
  for (size_t r = 0; r < devices.size(); ++r) {
    same = same && devices[r] == devices[0];
    each += (r ? ", " : "") + std::string("rank ") + std::to_string(r) + " " + (devices[r] == 1.0 ? "cpu" : "cuda");
  }
  if (!same)
    throw UsageError("option '--device': the ranks disagree (" + each +
                     "); every rank of a run must use the same kind of device (say --device cpu or --device cuda)");
  announce_interrupts();
}

void record_peak_memory(nlohmann::json& metrics, Device d) {
  metrics["peak_memory_mb"] = memory_stats(Device::CPU).peak_reserved_bytes / 1048576.0;
  if (d != Device::CPU) metrics["peak_device_memory_mb"] = memory_stats(d).peak_reserved_bytes / 1048576.0;
}

uint64_t host_waits(Device d) { return d == Device::CUDA ? cuda::host_waits() : 0; }
uint64_t kernel_launches(Device d) { return d == Device::CUDA ? cuda::kernel_launches() : 0; }

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

flow::VelocityFn velocity_on(Device d, const flow::VelocityFn& v) {
  if (d == Device::CPU) return v;
  return [d, v](const Tensor& x, float t) {
    Tensor y = v(x.device() == d ? x : x.to(d), t);
    return x.device() == y.device() ? y : y.to(x.device());
  };
}

}  // namespace fc::app
