// engine/cuda/emu: the emulated CUDA device itself. Barriers really order the threads
// of a block, __shared__ memory is per block, shuffles and votes see the other lanes,
// atomics add up, launches outside a GPU's limits and barriers in divergent code are
// refused, device memory faults when host code touches it, and the cuBLAS sgemm
// follows cuBLAS's column-major convention. (Only in build/run_tests: built by g++,
// these kernels run on the emulator, never on a GPU.)
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <string>
#include <utility>
#include <tuple>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/emu/launch_record.hpp"

using Catch::Matchers::Contains;

namespace {

// y[b * n + t] = x[b * n + (n - 1 - t)], through shared memory.
__global__ void reverse_kernel(const float* x, float* y, bool barrier) {
  __shared__ float tile[256];
  unsigned t = threadIdx.x, n = blockDim.x, base = blockIdx.x * n;
  tile[t] = x[base + t];
  if (barrier) __syncthreads();
  y[base + t] = tile[n - 1 - t];
}

// Every thread of a block adds 1 to a __shared__ counter that thread 0 reset; the
// dynamic shared memory holds each thread's index, read back by its neighbour.
__global__ void per_block_kernel(int* counts, int* neighbours) {
  __shared__ int counter;
  FC_DYNAMIC_SHARED(int, ids);
  if (threadIdx.x == 0) counter = 0;
  ids[threadIdx.x] = static_cast<int>(blockIdx.x * 1000 + threadIdx.x);
  __syncthreads();
  atomicAdd(&counter, 1);
  __syncthreads();
  if (threadIdx.x == 0) counts[blockIdx.x] = counter;
  neighbours[blockIdx.x * blockDim.x + threadIdx.x] = ids[(threadIdx.x + 1) % blockDim.x];
}

// out[6 * i + ...]: the warp shuffles and votes of thread i (blocks of 40: a full warp
// and a partial one of 8 lanes).
__global__ void warp_kernel(int* out) {
  int lane = static_cast<int>(threadIdx.x % 32), i = static_cast<int>(threadIdx.x);
  int sum = lane;
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, o);
  int xsum = lane;
  for (int o = 1; o < 32; o <<= 1) xsum += __shfl_xor_sync(0xffffffffu, xsum, o);
  int from3 = __shfl_sync(0xffffffffu, i, 3);
  int up1 = __shfl_up_sync(0xffffffffu, i, 1);
  unsigned ballot = __ballot_sync(0xffffffffu, lane % 3 == 0);
  int all = __all_sync(0xffffffffu, lane < 40);
  out[6 * i + 0] = sum;
  out[6 * i + 1] = xsum;
  out[6 * i + 2] = from3;
  out[6 * i + 3] = up1;
  out[6 * i + 4] = static_cast<int>(ballot);
  out[6 * i + 5] = all;
}

__global__ void atomic_kernel(float* f, int* k, int64_t n) {
  FC_GRID_STRIDE(i, n) {
    atomicAdd(f, 0.5f);
    atomicAdd(k, 1);
  }
}

__global__ void noop_kernel(int) {}

__global__ void divergent_barrier_kernel(int* out) {
  // A bug: half the warp waits for the block, the other half for the warp.
  if (threadIdx.x < 16) __syncthreads();
  else __syncwarp();
  out[threadIdx.x] = 1;
}

// synccheck's planted bugs. Two __syncthreads in the two arms of a branch: every thread
// waits at a barrier, but not at the same one.
__global__ void two_barriers_kernel(int* out) {
  if (threadIdx.x % 2) __syncthreads();
  else __syncthreads();
  out[threadIdx.x] = 1;
}
// A shuffle whose mask leaves out lane 0, which calls it.
__global__ void mask_without_caller_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xfffffffeu, static_cast<int>(threadIdx.x), 1);
}
// Lane 31 returns early; the others shuffle with a mask that names it (`names_exited`), or
// with the mask of the lanes left (correct).
__global__ void shuffle_after_exit_kernel(int* out, bool names_exited) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_down_sync(names_exited ? 0xffffffffu : 0x7fffffffu, static_cast<int>(threadIdx.x), 1);
}
// The lanes of a warp at two different shuffles (a shuffle in divergent code).
__global__ void two_shuffles_kernel(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x < 8) v = __shfl_xor_sync(0xffffffffu, v, 1);
  else v = __shfl_xor_sync(0xffffffffu, v, 2);
  out[threadIdx.x] = v;
}

template <class T>
T* device_array(size_t n) {
  T* p = nullptr;
  REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess);
  return p;
}

template <class T>
std::vector<T> download(const T* p, size_t n) {
  std::vector<T> h(n);
  REQUIRE(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  return h;
}

template <class T>
void upload(T* p, const std::vector<T>& h) {
  REQUIRE(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
}

// Runs f in a child process; true when the child crashed (a signal, or ASan's report
// of one) instead of returning.
template <class F>
bool crashes(F f) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // The crash is expected: no report from the test framework or a sanitizer.
    std::signal(SIGSEGV, SIG_DFL);
    std::signal(SIGBUS, SIG_DFL);
    FILE* null = std::freopen("/dev/null", "w", stderr);
    null = std::freopen("/dev/null", "w", stdout);
    (void)null;
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return (WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS)) ||
         (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

// A planted race: thread t reads what thread t - 1 wrote to shared memory, with the
// __syncthreads between them only when `synced`. Index order hides the race.
__global__ void shift_kernel(const float* x, float* y, bool synced) {
  __shared__ float tile[256];
  unsigned t = threadIdx.x;
  tile[t] = x[blockIdx.x * blockDim.x + t];
  if (synced) __syncthreads();
  y[blockIdx.x * blockDim.x + t] = t > 0 ? tile[t - 1] : 0.f;
}

// Another: every block writes its index to the same address (the last block wins).
__global__ void last_block_wins_kernel(int* out) {
  if (threadIdx.x == 0) out[0] = static_cast<int>(blockIdx.x);
}

#ifdef __SANITIZE_ADDRESS__
// What a child process running f wrote to stderr before it died ("" when it returned).
template <class F>
std::string crash_report(F f) {
  std::fflush(nullptr);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    f();
    _exit(0);
  }
  close(fds[1]);
  std::string err;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : err;
}

// A planted off-by-one: thread i writes y[i + 1].
__global__ void off_by_one_kernel(float* y, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i + 1] = 1.f;
}
// And one the other way: thread i reads y[i - 1].
__global__ void one_before_kernel(const float* y, float* out, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = y[i - 1];
}
#endif

}  // namespace

TEST_CASE("CUDA emulator: memcheck stops a kernel's access past a tensor's end or into a freed one", "[cuda][emu]") {
#ifndef __SANITIZE_ADDRESS__
  WARN("SKIPPED: memcheck runs in make check's AddressSanitizer build (engine/allocator.cpp poisons the red zones)");
#else
  // 1000 floats from the caching allocator, as a tensor's storage: 4000 bytes, then a red zone.
  const size_t bytes = 1000 * sizeof(float);
  float* y = static_cast<float*>(fc::device_alloc(fc::Device::CUDA, bytes));
  std::string err = crash_report([y] { FC_LAUNCH(off_by_one_kernel, 4, 256, 0, nullptr, y, int64_t{1000}); });
  INFO(err);
  // Thread 999 (block 3, thread 231) writes y[1000]: the first byte past the tensor.
  CHECK_THAT(err, Contains("memcheck: kernel off_by_one_kernel, block (3, 0, 0), thread (231, 0, 0): "));
  CHECK_THAT(err, Contains("is byte 4000 of a live 4000-byte tensor at "));
  CHECK_THAT(err, Contains(": 0 bytes past its end"));
  // The same kernel within bounds runs.
  CHECK(crash_report([y] { FC_LAUNCH(off_by_one_kernel, 4, 256, 0, nullptr, y, int64_t{999}); }).empty());
  // A read before the start: thread 0 reads y[-1].
  float* out = static_cast<float*>(fc::device_alloc(fc::Device::CUDA, bytes));
  err = crash_report([y, out] { FC_LAUNCH(one_before_kernel, 4, 256, 0, nullptr, y, out, int64_t{1000}); });
  CHECK_THAT(err, Contains("memcheck: kernel one_before_kernel, block (0, 0, 0), thread (0, 0, 0): "));
  CHECK_THAT(err, Contains("is byte -4 of a live 4000-byte tensor at "));
  CHECK_THAT(err, Contains(": 4 bytes before its start"));
  fc::device_free(fc::Device::CUDA, out, bytes);
  // A freed block is poisoned whole: a kernel that still writes there is stopped.
  fc::device_free(fc::Device::CUDA, y, bytes);
  err = crash_report([y] { FC_LAUNCH(off_by_one_kernel, 1, 32, 0, nullptr, y, int64_t{8}); });
  CHECK_THAT(err, Contains("memcheck: kernel off_by_one_kernel, block (0, 0, 0), thread (0, 0, 0): "));
  CHECK_THAT(err, Contains("(use after free)"));
#endif
}

TEST_CASE("CUDA emulator: __syncthreads orders the threads of a block", "[cuda][emu]") {
  // In index order (whatever FC_EMU_SCHEDULE says): the count of wrong slots below is that order's.
  const fc::emu::Schedule was = fc::emu::schedule();
  fc::emu::set_schedule(fc::emu::Schedule::forward);
  const unsigned blocks = 3, n = 256;
  std::vector<float> x(blocks * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  float* dx = device_array<float>(x.size());
  float* dy = device_array<float>(x.size());
  upload(dx, x);
  auto expected = [&](size_t i) { return x[i / n * n + (n - 1 - i % n)]; };

  FC_LAUNCH(reverse_kernel, blocks, n, 0, nullptr, dx, dy, true);
  std::vector<float> y = download(dy, x.size());
  for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == expected(i));

  // Without the barrier the first threads read slots the last ones have not written.
  FC_LAUNCH(reverse_kernel, blocks, n, 0, nullptr, dx, dy, false);
  y = download(dy, x.size());
  size_t wrong = 0;
  for (size_t i = 0; i < y.size(); ++i) wrong += y[i] != expected(i);
  CHECK(wrong >= blocks * n / 2);
  fc::emu::set_schedule(was);
  cudaFree(dx);
  cudaFree(dy);
}

TEST_CASE("CUDA emulator: shared memory is per block, dynamic shared memory too", "[cuda][emu]") {
  const unsigned blocks = 4, n = 96;
  int* counts = device_array<int>(blocks);
  int* neighbours = device_array<int>(blocks * n);
  FC_LAUNCH(per_block_kernel, blocks, n, n * sizeof(int), nullptr, counts, neighbours);
  for (int c : download(counts, blocks)) CHECK(c == static_cast<int>(n));
  std::vector<int> nb = download(neighbours, blocks * n);
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < n; ++t) REQUIRE(nb[b * n + t] == static_cast<int>(b * 1000 + (t + 1) % n));
  cudaFree(counts);
  cudaFree(neighbours);
}

TEST_CASE("CUDA emulator: warp shuffles and votes, full and partial warps", "[cuda][emu]") {
  const int n = 40;
  int* out = device_array<int>(6 * n);
  FC_LAUNCH(warp_kernel, 1, n, 0, nullptr, out);
  std::vector<int> o = download(out, 6 * n);
  for (int i = 0; i < n; ++i) {
    INFO("thread " << i);
    int lane = i % 32, lanes = i < 32 ? 32 : 8;
    // shfl_down: lane 0 gets the sum of its warp.
    if (i == 0) CHECK(o[0] == 496);  // (lanes that do not exist give undefined values)
    if (i < 32) CHECK(o[6 * i + 1] == 496);  // butterfly: every lane of a full warp has the sum
    CHECK(o[6 * i + 2] == i - lane + 3);
    CHECK(o[6 * i + 3] == (lane == 0 ? i : i - 1));
    unsigned expect = 0;
    for (int l = 0; l < lanes; ++l) expect |= (l % 3 == 0 ? 1u : 0u) << l;
    CHECK(static_cast<unsigned>(o[6 * i + 4]) == expect);
    CHECK(o[6 * i + 5] == 1);
  }
  cudaFree(out);
}

TEST_CASE("CUDA emulator: atomics from every thread of several blocks", "[cuda][emu]") {
  float* f = device_array<float>(1);
  int* k = device_array<int>(1);
  REQUIRE(cudaMemset(f, 0, sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMemset(k, 0, sizeof(int)) == cudaSuccess);
  const int64_t n = 3001;
  FC_LAUNCH(atomic_kernel, 5, 128, 0, nullptr, f, k, n);
  CHECK(download(f, 1)[0] == 0.5f * n);
  CHECK(download(k, 1)[0] == n);
  cudaFree(f);
  cudaFree(k);
}

TEST_CASE("CUDA emulator: launches outside a GPU's limits are refused", "[cuda][emu]") {
  auto launch = [](dim3 grid, dim3 block, size_t shared) { FC_LAUNCH(noop_kernel, grid, block, shared, nullptr, 0); };
  launch(1, 1024, 0);  // at the limit: fine
  REQUIRE_THROWS_WITH(launch(1, 1025, 0),
                      Contains("noop_kernel") && Contains("invalid configuration") && Contains("1024"));
  REQUIRE_THROWS_WITH(launch(1, dim3(1, 1, 65), 0), Contains("invalid configuration"));
  REQUIRE_THROWS_WITH(launch(1, dim3(32, 32, 2), 0), Contains("invalid configuration"));
  REQUIRE_THROWS_WITH(launch(dim3(1, 65536), 1, 0), Contains("grid"));
  REQUIRE_THROWS_WITH(launch(0, 1, 0), Contains("grid"));
  REQUIRE_THROWS_WITH(launch(1, 0, 0), Contains("invalid configuration"));
  // Dynamic shared memory: 48 KB unless the kernel asks for more, 227 KB at most.
  REQUIRE_THROWS_WITH(launch(1, 32, (48 << 10) + 4), Contains("shared memory") && Contains("cudaFuncSetAttribute"));
  REQUIRE(cudaFuncSetAttribute(noop_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 << 10) == cudaSuccess);
  launch(1, 32, 100 << 10);
  REQUIRE_THROWS_WITH(launch(1, 32, (100 << 10) + 4), Contains("shared memory"));
  REQUIRE(cudaFuncSetAttribute(noop_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 << 10) ==
          cudaErrorInvalidValue);
  REQUIRE(cudaGetLastError() == cudaSuccess);  // each failure above was reported once
}

TEST_CASE("CUDA emulator: a barrier in divergent code fails the launch", "[cuda][emu]") {
  int* out = device_array<int>(32);
  auto launch = [out] { FC_LAUNCH(divergent_barrier_kernel, 1, 32, 0, nullptr, out); };
  REQUIRE_THROWS_WITH(launch(), Contains("deadlock"));
  cudaFree(out);
}

TEST_CASE("CUDA emulator: synccheck fails barriers in divergent code and masks that name the wrong lanes", "[cuda][emu]") {
  int* out = device_array<int>(64);
  auto failure = [](const std::function<void()>& launch) -> std::string {
    try {
      launch();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  std::string err = failure([out] { FC_LAUNCH(two_barriers_kernel, 1, 64, 0, nullptr, out); });
  CHECK_THAT(err, Contains("synccheck: kernel two_barriers_kernel, block (0, 0, 0): threads "));
  CHECK_THAT(err, Contains(" wait at different __syncthreads (tests/test_cuda_emu.cpp:"));
  err = failure([out] { FC_LAUNCH(mask_without_caller_kernel, 1, 32, 0, nullptr, out); });
  CHECK_THAT(err, Contains("synccheck: kernel mask_without_caller_kernel, block (0, 0, 0), thread (0, 0, 0): the "
                           "warp barrier at tests/test_cuda_emu.cpp:"));
  CHECK_THAT(err, Contains(" has mask 0xfffffffe, which leaves out the calling lane 0"));
  err = failure([out] { FC_LAUNCH(shuffle_after_exit_kernel, 1, 32, 0, nullptr, out, true); });
  CHECK_THAT(err, Contains("synccheck: kernel shuffle_after_exit_kernel, block (0, 0, 0): the warp barrier at "
                           "tests/test_cuda_emu.cpp:"));
  CHECK_THAT(err, Contains(" names lane 31 (thread (31, 0, 0)), which has exited"));
  CHECK(failure([out] { FC_LAUNCH(shuffle_after_exit_kernel, 1, 32, 0, nullptr, out, false); }) == "");
  std::vector<int> got = download(out, 31);
  for (int i = 0; i < 30; ++i) CHECK(got[i] == i + 1);
  err = failure([out] { FC_LAUNCH(two_shuffles_kernel, 1, 32, 0, nullptr, out); });
  CHECK_THAT(err, Contains("synccheck: kernel two_shuffles_kernel, block (0, 0, 0): lanes "));
  CHECK_THAT(err, Contains(" of warp 0 meet at different warp barriers or masks (tests/test_cuda_emu.cpp:"));
  cudaFree(out);
}

TEST_CASE("CUDA emulator: asynchronous streams run a stream's work later; a host write into a buffer in flight shows",
          "[cuda][emu]") {
  if (fc::emu::hazard_checks_built()) {
    WARN("SKIPPED: asynchronous streams are not in the checks' build (build/run_tests runs this)");
    return;
  }
  const bool was_async = fc::emu::async_streams();
  const size_t n = 1000;
  float* pinned = nullptr;
  REQUIRE(cudaMallocHost(&pinned, n * sizeof(float)) == cudaSuccess);
  float* dev = device_array<float>(n);
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
  cudaEvent_t copied = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming) == cudaSuccess);
  auto fill = [&](float v) { std::fill(pinned, pinned + n, v); };
  // The bug: the host rewrites the pinned buffer while the copy from it may still be
  // queued. The value the device ends up with.
  auto upload_then_rewrite = [&] {
    fc::emu::hold_device(true);  // (with asynchronous streams: the copy waits for the test)
    fill(1.f);
    REQUIRE(cudaMemcpyAsync(dev, pinned, n * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
    REQUIRE(cudaEventRecord(copied, s) == cudaSuccess);
    const cudaError_t before = cudaEventQuery(copied);
    fill(2.f);  // too early
    fc::emu::hold_device(false);
    REQUIRE(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(cudaEventQuery(copied) == cudaSuccess);
    std::vector<float> got = download(dev, n);
    CHECK(std::all_of(got.begin(), got.end(), [&](float v) { return v == got[0]; }));
    return std::make_pair(got[0], before);
  };
  // Every call synchronous: the bug is hidden.
  fc::emu::set_async(false);
  auto [value, query] = upload_then_rewrite();
  CHECK(value == 1.f);
  CHECK(query == cudaSuccess);
  // Asynchronous streams: the copy runs after the rewrite and carries the wrong values.
  fc::emu::set_async(true, 5);
  std::tie(value, query) = upload_then_rewrite();
  CHECK(value == 2.f);
  CHECK(query == cudaErrorNotReady);
  // The fix: wait for the copy's event before writing the buffer again.
  fill(1.f);
  REQUIRE(cudaMemcpyAsync(dev, pinned, n * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
  REQUIRE(cudaEventRecord(copied, s) == cudaSuccess);
  REQUIRE(cudaEventSynchronize(copied) == cudaSuccess);
  fill(2.f);
  REQUIRE(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(download(dev, n)[0] == 1.f);
  // A download read before its stream is synchronized holds what was there before.
  fc::emu::hold_device(true);
  REQUIRE(cudaMemcpyAsync(pinned, dev, n * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(pinned[0] == 2.f);
  fc::emu::hold_device(false);
  REQUIRE(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(pinned[0] == 1.f);
  // A kernel on the stream runs later too, and cudaDeviceSynchronize waits for it.
  fc::emu::hold_device(true);
  FC_LAUNCH(reverse_kernel, 1, 256, 0, s, dev, dev + 256, true);
  fc::emu::hold_device(false);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(download(dev + 256, 1)[0] == 1.f);
  fc::emu::set_async(was_async);
  cudaEventDestroy(copied);
  cudaStreamDestroy(s);
  cudaFree(dev);
  cudaFreeHost(pinned);
}

TEST_CASE("CUDA emulator: schedules run threads and blocks in another order and expose races", "[cuda][emu]") {
  using fc::emu::Schedule;
  const fc::emu::Schedule was = fc::emu::schedule();
  const unsigned n = 64, blocks = 3;
  std::vector<float> x(n * blocks), want(n * blocks);
  for (unsigned i = 0; i < n * blocks; ++i) x[i] = static_cast<float>(i);
  for (unsigned i = 0; i < n * blocks; ++i) want[i] = i % n == 0 ? 0.f : x[i - 1];
  float* dx = device_array<float>(n * blocks);
  float* dy = device_array<float>(n * blocks);
  int* last = device_array<int>(1);
  upload(dx, x);
  auto shifted = [&](bool synced) {
    FC_LAUNCH(shift_kernel, blocks, n, 0, nullptr, dx, dy, synced);
    return download(dy, n * blocks);
  };
  auto last_block = [&] {
    FC_LAUNCH(last_block_wins_kernel, 5, 32, 0, nullptr, last);
    return download(last, 1)[0];
  };
  fc::emu::set_schedule(Schedule::forward);
  CHECK(shifted(false) == want);  // index order hides the missing barrier
  CHECK(last_block() == 4);
  fc::emu::set_schedule(Schedule::reverse);
  CHECK(shifted(false) != want);
  CHECK(shifted(true) == want);
  CHECK(last_block() == 0);
  std::vector<int> winners;
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    fc::emu::set_schedule(Schedule::random, seed);
    CHECK(shifted(false) != want);
    CHECK(shifted(true) == want);
    winners.push_back(last_block());
  }
  // Some seed lets another block than the last win.
  CHECK(std::count(winners.begin(), winners.end(), 4) < static_cast<long>(winners.size()));
  fc::emu::set_schedule(was);
  cudaFree(dx);
  cudaFree(dy);
  cudaFree(last);
}

TEST_CASE("CUDA emulator: host code that touches device memory crashes", "[cuda][emu]") {
  float* p = device_array<float>(16);
  REQUIRE(cudaMemset(p, 0, 16 * sizeof(float)) == cudaSuccess);
  FC_LAUNCH(atomic_kernel, 1, 32, 0, nullptr, p, reinterpret_cast<int*>(p + 8), int64_t{4});
  // Copies and launches work; a plain read or write from the host does not.
  CHECK(download(p, 1)[0] == 2.f);
  CHECK(crashes([p] {
    volatile float v = p[0];
    (void)v;
  }));
  CHECK(crashes([p] { *static_cast<volatile float*>(p + 3) = 1.f; }));
  // Host memory is not device memory either: cudaMemcpy checks the direction.
  std::vector<float> h(4);
  CHECK(cudaMemcpy(p, h.data(), 16, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  cudaFree(p);
}

TEST_CASE("CUDA emulator: cuBLAS sgemm is column-major", "[cuda][emu]") {
  // Column-major A (2 x 3) = [1 3 5; 2 4 6], B (3 x 2) = [1 0; 0 1; 1 1].
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 1, 0, 1, 1}, c(4, 100.f);
  float* da = device_array<float>(6);
  float* db = device_array<float>(6);
  float* dc = device_array<float>(4);
  upload(da, a);
  upload(db, b);
  upload(dc, c);
  cublasHandle_t h;
  REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  float alpha = 1.f, beta = 0.f;
  REQUIRE(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, da, 2, 0, db, 3, 0, &beta,
                                    dc, 2, 0, 1) == CUBLAS_STATUS_SUCCESS);
  CHECK(download(dc, 4) == std::vector<float>{6, 8, 8, 10});  // [1+5, 3+5; 2+6, 4+6]
  // A^T A^... : C (3 x 3) needs ldc >= 3; too small a leading dimension is refused.
  CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, 3, 3, 2, &alpha, da, 2, 0, da, 2, 0, &beta, dc,
                                  2, 0, 1) == CUBLAS_STATUS_INVALID_VALUE);
  cublasDestroy(h);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}
