// Our CUDA kernels under the emulator's other schedules (engine/cuda/emu/launch_record.hpp):
// every row of the op table (tests/op_cases.hpp), forward and backward on CUDA tensors,
// gives the same numbers when the threads of each barrier interval and the blocks of
// each grid run in reverse or in seeded random orders, and when the backend's stream
// runs asynchronously (its work queued, run later on the device thread). A race between
// threads or blocks, or host code that does not wait for the device, would change them.
// (The planted bugs these catch are in tests/test_cuda_emu.cpp.)
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/autograd.hpp"
#include "engine/cuda/emu/launch_record.hpp"
#include "engine/ops.hpp"
#include "tests/op_cases.hpp"
#include "tests/test_util.hpp"

using namespace fc;

namespace {

// Every row's output and input gradients on CUDA tensors, in one list.
std::vector<std::vector<float>> every_row_on_cuda() {
  std::vector<std::vector<float>> results;
  uint64_t seed = 4000;
  for (const test::OpCase& c : test::op_cases()) {
    for (std::vector<float>& r : test::row_forward_backward(c, Device::CUDA, seed)) results.push_back(std::move(r));
    seed += c.shapes.size();
  }
  return results;
}

// Bit for bit, but for the float atomics' order (sums scattered into one address).
void check_same_numbers(const std::vector<std::vector<float>>& want, const std::vector<std::vector<float>>& got) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("result " << i);
    REQUIRE(got[i].size() == want[i].size());
    CHECK(nmse(want[i], got[i]) <= 1e-12);
  }
}

}  // namespace

TEST_CASE("CUDA schedules: every op-table row gives the same numbers in reverse and random thread and block orders",
          "[cuda][emu][schedules]") {
  const emu::Schedule was = emu::schedule();
  emu::set_schedule(emu::Schedule::forward);
  const std::vector<std::vector<float>> want = every_row_on_cuda();
  struct Run {
    const char* name;
    emu::Schedule kind;
    uint64_t seed;
  };
  for (const Run& run : {Run{"reverse", emu::Schedule::reverse, 0}, Run{"random:1", emu::Schedule::random, 1},
                         Run{"random:2", emu::Schedule::random, 2}}) {
    INFO("schedule " << run.name);
    emu::set_schedule(run.kind, run.seed);
    check_same_numbers(want, every_row_on_cuda());
  }
  emu::set_schedule(was);
}

TEST_CASE("CUDA asynchronous streams: every op-table row gives the same numbers when the host does not wait",
          "[cuda][emu][schedules]") {
  if (emu::hazard_checks_built()) {
    WARN("SKIPPED: asynchronous streams are not in the checks' build (build/run_tests runs this)");
    return;
  }
  const bool was = emu::async_streams();
  emu::set_async(false);
  const std::vector<std::vector<float>> want = every_row_on_cuda();
  for (uint64_t seed : {1, 2}) {
    INFO("FC_EMU_ASYNC=" << seed);
    emu::set_async(true, seed);
    check_same_numbers(want, every_row_on_cuda());
  }
  emu::set_async(was);
}
