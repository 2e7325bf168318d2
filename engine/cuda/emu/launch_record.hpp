#pragma once
// What a test may ask of the emulated device beyond CUDA's API. Launch shapes, for the resource report
// (tests/test_cuda_resources.cpp): while recording is on, every FC_LAUNCH notes its
// kernel's name as written at the launch ("unary_kernel", "tiled_attention_kernel<32>"),
// its threads a block and its dynamic shared memory (engine/cuda/emu/cuda_emu.cpp).
// A header of its own: cuda_emu.hpp defines the names of device code (warpSize,
// threadIdx, ...) as macros, which a host program that reads these must not see.
#include <cstddef>
#include <cstdint>
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

// Schedules: the order in which the emulator runs the threads of each barrier interval
// and the blocks of each grid. forward (the default) is index order; reverse the
// opposite; random a new seeded permutation every time. FC_EMU_SCHEDULE=reverse or
// random:SEED sets it for a whole run. A correct kernel's results do not depend on it
// beyond the float reassociation it allows; a race (a missing __syncthreads, two
// blocks writing one address) shows as different results.
enum class Schedule { forward, reverse, random };
void set_schedule(Schedule kind, uint64_t seed = 0);
Schedule schedule();

// Asynchronous streams (engine/cuda/emu/device_queue.hpp): a stream's work runs later, on
// a device thread, after a seeded random delay. FC_EMU_ASYNC=SEED turns them on for a
// whole run; set_async in a test (after the device work before it). hold_device(true)
// keeps queued work from running until hold_device(false).
void set_async(bool on, uint64_t seed = 1);
bool async_streams();
void hold_device(bool on);
// True in the checks' build (build/run_tests_hazards: engine/cuda/emu/hazards.cpp), which
// has no asynchronous streams.
bool hazard_checks_built();

}  // namespace fc::emu
