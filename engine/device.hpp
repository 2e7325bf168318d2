#pragma once
#include <cstdint>

namespace fc {

// Where a tensor's storage lives. The op layer is device-agnostic; each device has
// its own kernel table (engine/kernels.hpp) and its own caching allocator.
enum class Device : uint8_t { CPU = 0, CUDA = 1 };
constexpr int kNumDevices = 2;

inline const char* device_name(Device d) { return d == Device::CPU ? "CPU" : "CUDA"; }

}  // namespace fc
