// The CUDA backend's runtime: the device check, its stream and cuBLAS handle, raw
// device memory for the caching allocator (engine/allocator.cpp), and host <-> device
// copies through a pinned staging buffer.
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "engine/cuda/backend.hpp"
#include "engine/dist.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"

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

struct Runtime {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  float* staging = nullptr;  // pinned: copies from it run at full bus speed
  std::mutex staging_mu;
};

Runtime& runtime() {
  static Runtime* rt = [] {
    require_device();
    auto* r = new Runtime;  // leaked: used by tensors freed after main returns
    check(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    FC_CHECK(cublasCreate(&r->blas) == CUBLAS_STATUS_SUCCESS, "CUDA: cublasCreate failed");
    FC_CHECK(cublasSetStream(r->blas, r->stream) == CUBLAS_STATUS_SUCCESS,
             "CUDA: cublasSetStream failed");
    check(cudaMallocHost(&r->staging, kStagingFloats * sizeof(float)), "cudaMallocHost");
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

void check(cudaError_t e, const char* what) {
  FC_CHECK(e == cudaSuccess, "CUDA: " << what << ": " << cudaGetErrorString(e));
}

void check_launch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
#ifdef __CUDACC__
  FC_CHECK(e == cudaSuccess, "CUDA: launch of " << kernel << " failed: " << cudaGetErrorString(e));
#else
  FC_CHECK(e == cudaSuccess, "CUDA: launch of " << kernel << " failed: " << cudaGetErrorString(e)
                                                << " (" << fc::emu::last_error_detail() << ")");
#endif
}

RawAllocator raw_allocator() { return {device_malloc, device_free}; }

void synchronize() { check(cudaStreamSynchronize(runtime().stream), "cudaStreamSynchronize"); }

void to_host(const float* x, float* y, int64_t n) {
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lock(rt.staging_mu);
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
