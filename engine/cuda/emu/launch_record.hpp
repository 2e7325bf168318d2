#pragma once
// Launch shapes of the emulated device, for the resource report
// (tests/test_cuda_resources.cpp): while recording is on, every FC_LAUNCH notes its
// kernel's name as written at the launch ("unary_kernel", "tiled_attention_kernel<32>"),
// its threads a block and its dynamic shared memory (engine/cuda/emu/cuda_emu.cpp).
// A header of its own: cuda_emu.hpp defines the names of device code (warpSize,
// threadIdx, ...) as macros, which a host program that reads these must not see.
#include <cstddef>
#include <string>
#include <vector>

namespace fc::emu {

struct LaunchShape {
  std::string kernel;
  unsigned threads = 0;
  size_t dynamic_shared = 0;
};

void record_launches(bool on);
// Each distinct shape once, in first-seen order.
std::vector<LaunchShape> recorded_launches();

}  // namespace fc::emu
