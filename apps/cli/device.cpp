#include "apps/cli/device.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/options.hpp"
#include "engine/allocator.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/dist.hpp"
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

flow::VelocityFn velocity_on(Device d, const flow::VelocityFn& v) {
  if (d == Device::CPU) return v;
  return [d, v](const Tensor& x, float t) {
    Tensor y = v(x.device() == d ? x : x.to(d), t);
    return x.device() == y.device() ? y : y.to(x.device());
  };
}

}  // namespace fc::app
