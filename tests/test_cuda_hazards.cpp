// The emulated device's memcheck, racecheck and initcheck (engine/cuda/emu/hazards.cpp)
// catch the bugs planted in tests/planted_kernels.cu and pass their correct twins. They
// need the instrumented kernels of build/run_tests_hazards (make check runs it);
// build/run_tests says it skips them. (synccheck is the emulator's own, in every build:
// tests/test_cuda_emu.cpp; so is the AddressSanitizer build's memcheck.)
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/emu/hazards.hpp"
#include "engine/cuda/emu/launch_record.hpp"
#include "engine/ops.hpp"
#include "engine/tensor.hpp"
#include "tests/planted_kernels.hpp"

using Catch::Matchers::Contains;

namespace {

bool skipped_without_checks() {
  if (fc::emu::hazards::built()) return false;
  WARN("SKIPPED: memcheck, racecheck and initcheck need the instrumented kernels of build/run_tests_hazards (make check)");
  return true;
}

// Device memory from the caching allocator, as a tensor's storage.
struct DeviceFloats {
  explicit DeviceFloats(size_t n) : n(n), p(static_cast<float*>(fc::device_alloc(fc::Device::CUDA, n * 4))) {}
  ~DeviceFloats() { fc::device_free(fc::Device::CUDA, p, n * 4); }
  void upload(const std::vector<float>& v) { REQUIRE(cudaMemcpy(p, v.data(), n * 4, cudaMemcpyHostToDevice) == cudaSuccess); }
  std::vector<float> download() const {
    std::vector<float> v(n);
    REQUIRE(cudaMemcpy(v.data(), p, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
  size_t n;
  float* p;
};

// Runs the threads and blocks in index order while it lives (whatever FC_EMU_SCHEDULE
// says): the threads and blocks the findings below name are that order's.
struct IndexOrder {
  IndexOrder() : was(fc::emu::schedule()) { fc::emu::set_schedule(fc::emu::Schedule::forward); }
  ~IndexOrder() { fc::emu::set_schedule(was); }
  fc::emu::Schedule was;
};

std::string failure_of(const std::function<void()>& launch) {
  try {
    launch();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("racecheck: a missing __syncthreads and blocks writing one address", "[cuda][emu][hazards]") {
  if (skipped_without_checks()) return;
  IndexOrder in_index_order;
  const int n = 64;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i) host[i] = static_cast<float>(i);
  DeviceFloats x(n), y(n);
  x.upload(host);

  // With the barrier: no finding, and the tile reversed.
  REQUIRE(failure_of([&] { fc::planted::reverse_through_shared(x.p, y.p, n, true); }) == "");
  std::vector<float> got = y.download();
  for (int i = 0; i < n; ++i) REQUIRE(got[i] == host[n - 1 - i]);
  // Without it: thread 31 reads tile[32] in the interval thread 32 writes it (index
  // order: the findings of other orders name other threads).
  std::string err = failure_of([&] { fc::planted::reverse_through_shared(x.p, y.p, n, false); });
  INFO(err);
  CHECK_THAT(err, Contains("CUDA: launch of reverse_kernel failed"));
  CHECK_THAT(err, Contains("racecheck: kernel reverse_kernel, block (0, 0, 0): thread (32, 0, 0) writes what "
                           "thread (31, 0, 0) read with no barrier between them: a __shared__ variable at "));
  CHECK_THAT(err, Contains("more)"));

  // Atomics from every thread of 5 blocks: no finding, 160.
  DeviceFloats sum(1);
  sum.upload({0.f});
  REQUIRE(failure_of([&] { fc::planted::all_blocks_add_one(sum.p, 5, true); }) == "");
  CHECK(sum.download()[0] == 160.f);
  // A plain += by one thread of each block: block 1 meets block 0's write.
  err = failure_of([&] { fc::planted::all_blocks_add_one(sum.p, 5, false); });
  INFO(err);
  CHECK_THAT(err, Contains("racecheck: kernel add_one_kernel: block (1, 0, 0) reads what block (0, 0, 0) wrote in "
                           "the same launch: byte 0 of a live 4-byte tensor at "));
}

TEST_CASE("initcheck: a kernel or cuBLAS reading bytes nobody wrote", "[cuda][emu][hazards]") {
  if (skipped_without_checks()) return;
  IndexOrder in_index_order;
  const int n = 1024;
  DeviceFloats x(n), y(n);
  // Half of x written: thread 512 is the first to read a byte never written.
  REQUIRE(cudaMemset(x.p, 0, n / 2 * 4) == cudaSuccess);
  std::string err = failure_of([&] { fc::planted::twice(x.p, y.p, n); });
  INFO(err);
  CHECK_THAT(err, Contains("initcheck: kernel twice_kernel, block (4, 0, 0), thread (0, 0, 0) reads 4 bytes never "
                           "written: byte 2048 of a live 4096-byte tensor at "));
  CHECK_THAT(err, Contains("(and 511 more)"));
  // All of it written: no finding.
  REQUIRE(cudaMemset(x.p, 0, n * 4) == cudaSuccess);
  CHECK(failure_of([&] { fc::planted::twice(x.p, y.p, n); }) == "");

  // A block back from the cache holds the last tensor's bytes: unwritten for the new one.
  float* stale = nullptr;
  {
    DeviceFloats z(n);
    z.upload(std::vector<float>(n, 1.f));
    stale = z.p;
  }
  DeviceFloats again(n);
  REQUIRE(again.p == stale);  // the same block
  err = failure_of([&] { fc::planted::twice(again.p, y.p, n); });
  CHECK_THAT(err, Contains("initcheck: kernel twice_kernel, block (0, 0, 0), thread (0, 0, 0) reads 4 bytes never written"));

  // cuBLAS's inputs are checked too: a product of a tensor never written.
  fc::Tensor a = fc::Tensor::empty({8, 16}, fc::Device::CUDA);
  fc::Tensor b = fc::Tensor::ones({16, 4}).to(fc::Device::CUDA);
  err = failure_of([&] { fc::matmul(a, b); });
  INFO(err);
  CHECK_THAT(err, Contains("initcheck: cublasSgemmStridedBatched reads bytes never written: byte 0 of a live 512-byte tensor"));
}

TEST_CASE("memcheck: a kernel past a tensor's end or in a block back in the cache, a copy past the end", "[cuda][emu][hazards]") {
  if (skipped_without_checks()) return;
  IndexOrder in_index_order;
  // 1024 floats: a whole size class (4096 bytes), so that the byte past the end is in
  // the red zone (the next tensor's, without it). Thread 1024 reads x[1024].
  const int n = 1024;
  DeviceFloats y(n);
  float* gone = nullptr;
  {
    DeviceFloats x(n);
    x.upload(std::vector<float>(n, 1.f));
    REQUIRE(failure_of([&] { fc::planted::twice(x.p, y.p, n); }) == "");
    std::string err = failure_of([&] { fc::planted::twice(x.p, y.p, n + 1); });
    INFO(err);
    CHECK_THAT(err, Contains("memcheck: kernel twice_kernel, block (8, 0, 0), thread (0, 0, 0) reads 4 bytes at "
                             "byte 4096 of a live 4096-byte tensor at "));
    CHECK_THAT(err, Contains(": 0 bytes past its end"));
    // A copy one float too long.
    std::vector<float> host(n + 1);
    CHECK(cudaMemcpy(host.data(), x.p, (n + 1) * 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
    CHECK_THAT(fc::emu::last_error_detail(), Contains("memcheck: cudaMemcpy reads 4100 bytes at byte 4096 of a live 4096-byte tensor"));
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);  // read, and so cleared
    gone = x.p;
  }
  // x's block is back in the cache: a kernel still reading it is stopped.
  std::string err = failure_of([&] { fc::planted::twice(gone, y.p, n); });
  INFO(err);
  CHECK_THAT(err, Contains("memcheck: kernel twice_kernel, block (0, 0, 0), thread (0, 0, 0) reads 4 bytes at "));
  CHECK_THAT(err, Contains("(use after free)"));
}
