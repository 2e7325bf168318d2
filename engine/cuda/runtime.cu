// The CUDA backend's runtime: the device check, its stream and cuBLAS handle, raw
// device memory for the caching allocator (engine/allocator.cpp), and host <-> device
// copies through pinned memory: uploads through a ring that lets them run behind the
// queue without the host waiting (engine/cuda/staging_ring.hpp), downloads (which the
// host must wait for) through one staging buffer. Every wait of the host for the
// device is counted (host_waits()).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "engine/cuda/backend.hpp"
#include "engine/dist.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"
#include "engine/cuda/staging_ring.hpp"
#ifndef __CUDACC__
#include "engine/cuda/emu/hazards.hpp"
#endif

namespace fc::cuda {

namespace {

// The GPU this process uses: under mpirun, one per rank of a machine (its local rank
// modulo the machine's count), else device 0.
int g_device = 0;

// "" when this process's device can be used, else why not. The runtime loads the driver itself
// (dlopen), so a program linked with it starts on a machine with no GPU or driver.
std::string probe_device() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(e);
  }
  if (count == 0) return "cudaGetDeviceCount found none";
  g_device = dist::local_rank() % count;
  e = cudaSetDevice(g_device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(e);
  }
  return "";
}

constexpr size_t kStagingFloats = size_t{1} << 20;  // 4 MiB of pinned memory
// 16 MiB of pinned memory for uploads: a training step's batch (the paper CIFAR-10
// batch is 1.5 MiB) goes through it, and comes round again only tens of steps later.
constexpr size_t kRingFloats = size_t{1} << 22;

std::atomic<uint64_t> g_host_waits{0};
std::atomic<uint64_t> g_launches{0};

struct Runtime {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  float* staging = nullptr;  // pinned: copies from it run at full bus speed
  std::mutex staging_mu;
  StagingRing<cudaEvent_t>* uploads = nullptr;  // under staging_mu too
};

StagingRing<cudaEvent_t>* make_upload_ring(cudaStream_t stream) {
  float* base = nullptr;
  check(cudaMallocHost(&base, kRingFloats * sizeof(float)), "cudaMallocHost");
  StagingRing<cudaEvent_t>::Hooks h;
  h.record = [stream] {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventRecord(e, stream), "cudaEventRecord");
    return e;
  };
  h.done = [](const cudaEvent_t& e) {
    cudaError_t r = cudaEventQuery(e);
    if (r == cudaErrorNotReady) {
      // Not an error; clear it should the runtime have noted it, so that the next
      // launch check does not take it for the launch's.
      if (cudaPeekAtLastError() == cudaErrorNotReady) cudaGetLastError();
      return false;
    }
    check(r, "cudaEventQuery");
    return true;
  };
  h.wait = [](const cudaEvent_t& e) {
    g_host_waits.fetch_add(1, std::memory_order_relaxed);
    check(cudaEventSynchronize(e), "cudaEventSynchronize");
  };
  h.destroy = [](cudaEvent_t& e) { cudaEventDestroy(e); };
  return new StagingRing<cudaEvent_t>(base, kRingFloats, std::move(h));
}

Runtime& runtime() {
  static Runtime* rt = [] {
    require_device();
    auto* r = new Runtime;  // leaked: used by tensors freed after main returns
    check(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    FC_CHECK(cublasCreate(&r->blas) == CUBLAS_STATUS_SUCCESS, "CUDA: cublasCreate failed");
    FC_CHECK(cublasSetStream(r->blas, r->stream) == CUBLAS_STATUS_SUCCESS,
             "CUDA: cublasSetStream failed");
    check(cudaMallocHost(&r->staging, kStagingFloats * sizeof(float)), "cudaMallocHost");
    r->uploads = make_upload_ring(r->stream);
    return r;
  }();
  return *rt;
}

void* device_malloc(size_t bytes) {
  require_device();
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // out of memory: the caching allocator frees its cache and retries
    return nullptr;
  }
  return p;
}

void device_free(void* p) { cudaFree(p); }

}  // namespace

std::string unavailable_reason() {
  static const std::string why = probe_device();
  return why;
}

void require_device() {
  const std::string& why = unavailable_reason();
  FC_CHECK(why.empty(), "no CUDA device: " << why);
}

std::string device_description() {
  require_device();
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, g_device), "cudaGetDeviceProperties");
  char line[400];
  if (emulated())
    std::snprintf(line, sizeof line, "%s", p.name);
  else
    std::snprintf(line, sizeof line, "%s (%.1f GiB, sm_%d%d%s)", p.name, p.totalGlobalMem / 1073741824.0, p.major,
                  p.minor, g_device ? (", device " + std::to_string(g_device)).c_str() : "");
  return line;
}

bool emulated() {
#ifdef __CUDACC__
  return false;
#else
  return true;
#endif
}

cudaStream_t stream() { return runtime().stream; }
cublasHandle_t blas() { return runtime().blas; }

namespace {
// What the emulator knows of an error beyond its code (memcheck's finding in a copy, the
// limit a launch broke): " (...)", or "" on a GPU.
std::string error_detail() {
#ifdef __CUDACC__
  return "";
#else
  return std::string(" (") + fc::emu::last_error_detail() + ")";
#endif
}
}  // namespace

void note_flops([[maybe_unused]] double flops) {
#ifndef __CUDACC__
  fc::emu::hazards::note_flops(flops);
#endif
}

void check(cudaError_t e, const char* what) {
  FC_CHECK(e == cudaSuccess, "CUDA: " << what << ": " << cudaGetErrorString(e) << error_detail());
}

void check_launch(const char* kernel) {
  count_launch();
  cudaError_t e = cudaGetLastError();
  FC_CHECK(e == cudaSuccess, "CUDA: launch of " << kernel << " failed: " << cudaGetErrorString(e) << error_detail());
}

#ifdef __CUDACC__
RawAllocator raw_allocator() { return {device_malloc, device_free}; }
#else
// The emulator's memcheck and initcheck: a tensor's bytes, and only those, are there to
// be accessed while it lives, unwritten when it is handed out; with red zones around
// them where the checks are built in.
RawAllocator raw_allocator() {
  return {device_malloc, device_free, fc::emu::hazards::tensor_handed_out, fc::emu::hazards::tensor_taken_back,
          fc::emu::hazards::built() ? size_t{64} : 0};
}
#endif

uint64_t host_waits() { return g_host_waits.load(std::memory_order_relaxed); }
namespace {
constexpr int64_t kDefaultScratchChunkFloats = int64_t{1} << 26;
std::atomic<int64_t> g_scratch_chunk_floats{kDefaultScratchChunkFloats};
}  // namespace
int64_t scratch_chunk_floats() { return g_scratch_chunk_floats.load(std::memory_order_relaxed); }
void set_scratch_chunk_floats(int64_t floats) {
  g_scratch_chunk_floats.store(floats > 0 ? floats : kDefaultScratchChunkFloats, std::memory_order_relaxed);
}

uint64_t kernel_launches() { return g_launches.load(std::memory_order_relaxed); }
void count_launch() { g_launches.fetch_add(1, std::memory_order_relaxed); }

void synchronize() {
  g_host_waits.fetch_add(1, std::memory_order_relaxed);
  check(cudaStreamSynchronize(runtime().stream), "cudaStreamSynchronize");
}

void to_host(const float* x, float* y, int64_t n) {
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lock(rt.staging_mu);
  if (n > 0) g_host_waits.fetch_add(1, std::memory_order_relaxed);  // the host reads what the queue makes
  for (int64_t done = 0; done < n;) {
    size_t count = static_cast<size_t>(n - done) < kStagingFloats ? static_cast<size_t>(n - done) : kStagingFloats;
    check(cudaMemcpyAsync(rt.staging, x + done, count * sizeof(float), cudaMemcpyDeviceToHost, rt.stream),
          "cudaMemcpyAsync (to host)");
    check(cudaStreamSynchronize(rt.stream), "cudaStreamSynchronize");
    std::memcpy(y + done, rt.staging, count * sizeof(float));
    done += static_cast<int64_t>(count);
  }
}

void from_host(const float* x, float* y, int64_t n) {
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lock(rt.staging_mu);
  if (n <= 0) return;
  if (static_cast<size_t>(n) <= rt.uploads->max_upload()) {  // no wait: the copy runs in its turn
    float* region = rt.uploads->acquire(static_cast<size_t>(n));
    std::memcpy(region, x, static_cast<size_t>(n) * sizeof(float));
    check(cudaMemcpyAsync(y, region, static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice, rt.stream),
          "cudaMemcpyAsync (from host)");
    rt.uploads->queued();
    return;
  }
  g_host_waits.fetch_add(1, std::memory_order_relaxed);  // a large upload (weights): chunks, each waited for
  for (int64_t done = 0; done < n;) {
    size_t count = static_cast<size_t>(n - done) < kStagingFloats ? static_cast<size_t>(n - done) : kStagingFloats;
    std::memcpy(rt.staging, x + done, count * sizeof(float));
    check(cudaMemcpyAsync(y + done, rt.staging, count * sizeof(float), cudaMemcpyHostToDevice, rt.stream),
          "cudaMemcpyAsync (from host)");
    // The staging buffer is reused by the next chunk (or call) only after this copy.
    check(cudaStreamSynchronize(rt.stream), "cudaStreamSynchronize");
    done += static_cast<int64_t>(count);
  }
}

}  // namespace fc::cuda
