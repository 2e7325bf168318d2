#pragma once
// The emulated CUDA device: CUDA's execution model on the CPU, so that the sources of
// the CUDA backend (engine/cuda/*.cu) compile with g++ and run in CI without a GPU.
//
// - A launch runs every block of the grid in turn. The threads of a block are fibers
//   (ucontext) that really interleave: each runs until it reaches a barrier
//   (__syncthreads, __syncwarp, a shuffle or a vote), and none passes the barrier
//   before every thread it waits for has arrived. Code that forgets a barrier reads
//   stale shared memory here as it would on a GPU.
// - __shared__ variables are shared by the threads of a block (blocks run one at a
//   time); dynamic shared memory is filled with NaN bytes before each block.
// - The launch limits of a GPU (1024 threads a block, block and grid dimensions,
//   48 KB of dynamic shared memory unless raised by cudaFuncSetAttribute, 227 KB at
//   most) are checked; a launch outside them fails as on a GPU, and
//   cudaGetLastError() returns the error.
// - Device memory lives in one reserved range kept PROT_NONE except during launches and
//   copies, so host code that touches a device pointer crashes as it would on a GPU.
// - Every call completes before it returns, unless asynchronous streams are on
//   (FC_EMU_ASYNC=SEED: a stream's work runs later on a device thread,
//   device_queue.hpp). cuBLAS's sgemm maps onto OpenBLAS with cuBLAS's column-major
//   semantics.
// - synccheck: a launch fails when the threads a barrier releases wait at different
//   barriers (file and line), or lanes at a warp barrier pass different masks, a mask
//   without themselves or naming a lane that has exited. memcheck, racecheck and
//   initcheck need the kernels instrumented: hazards.cpp (make check).
// Only what engine/cuda uses is here.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>

#include "engine/cuda/emu/launch_record.hpp"

// ---- the language
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Blocks run one at a time on the calling thread, so a function-local static is shared
// by the threads of a block (and holds the previous block's values, as on a GPU).
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
// The vector type the kernels load four floats of shared memory with (16-byte aligned).
struct alignas(16) float4 {
  float x, y, z, w;
};

// ---- the runtime API
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct CUstream_st;
using cudaStream_t = CUstream_st*;
constexpr unsigned cudaStreamNonBlocking = 1;
// Events: every call has completed when it returns, so an event has passed as soon as
// it is recorded (cudaEventQuery is cudaSuccess; never cudaErrorNotReady).
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaEventDisableTiming = 2;

// The fields of cudaDeviceProp that flowcpp reads.
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
};
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);

template <class... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value);

template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
template <class T>
cudaError_t cudaMallocHost(T** p, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(p), bytes);
}

// ---- cuBLAS (sgemm only)
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
struct cublasContext;
using cublasHandle_t = cublasContext*;
cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
// Column-major C = alpha op(A) op(B) + beta C for each of `batch` matrices.
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* a, int lda,
                                         long long stride_a, const float* b, int ldb,
                                         long long stride_b, const float* beta, float* c,
                                         int ldc, long long stride_c, int batch);

// ---- the emulator's own interface
namespace fc::emu {

struct ThreadState {
  uint3 idx;
  unsigned linear;  // threadIdx in x-fastest order
};
struct BlockState {
  uint3 idx;
  dim3 dim, grid;
  unsigned char* dynamic_shared;
};
extern __thread ThreadState* t_thread;
extern __thread BlockState* t_block;

// Barriers, from inside a kernel: every live thread of the block, or the live lanes
// of the warp that `mask` names. Each names its place in the source: synccheck fails a
// launch whose threads meet at different barriers (divergent code), whose warp barrier
// leaves out the calling lane, names a lane that has exited, or is reached by lanes
// passing different masks.
void block_barrier(const char* file, int line);
void warp_barrier(unsigned mask, const char* file, int line);
// The 32 exchange slots of the calling thread's warp, its lane, and how many lanes
// the warp has (fewer in the last warp of a block that is not a multiple of 32).
uint64_t* warp_slots();
unsigned lane_id();
unsigned warp_lanes();

// The limits a launch must respect, as on an H200 (compute capability 9.0).
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDimZ = 64;
constexpr unsigned kMaxGridDimX = 2147483647u, kMaxGridDimYZ = 65535;
constexpr size_t kDefaultDynamicShared = 48 << 10;
constexpr size_t kMaxDynamicShared = 227 << 10;

// Runs body() for every thread of every block; on a launch outside the limits, or a
// barrier that some threads never reach, records the error for cudaGetLastError().
// With asynchronous streams the launch is checked at once and its blocks run later, on
// the device thread (device_queue.hpp).
void run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t stream,
              std::function<void()> body);
void set_max_dynamic_shared(const void* kernel, int bytes);
// The details of the last launch failure ("" if none), for error messages.
const char* last_error_detail();

// Device memory is accessible to host code only between open() and close(); the
// launches, copies and cuBLAS calls open it.
struct DeviceAccess {
  DeviceAccess();
  ~DeviceAccess();
  DeviceAccess(const DeviceAccess&) = delete;
  DeviceAccess& operator=(const DeviceAccess&) = delete;
};
bool is_device_pointer(const void* p);

void note_launch(const char* kernel, dim3 block, size_t dynamic_shared);  // FC_LAUNCH calls it (launch_record.hpp)

// kernel<<<grid, block, shared, stream>>>(args...): the arguments are converted to the
// kernel's parameter types once, and every thread gets its own copy, as on a GPU.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared, cudaStream_t stream,
            A&&... args) {
  // Held by the launch (which may run after this returns: asynchronous streams).
  auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
  run_grid(reinterpret_cast<const void*>(kernel), grid, block, shared, stream,
           [kernel, params] { std::apply(kernel, *params); });
}

template <class T>
T shuffle_from(T v, unsigned src, unsigned mask, const char* file, int line) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable<T>::value,
                "the emulator shuffles values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  uint64_t* slots = warp_slots();
  slots[lane_id()] = bits;
  warp_barrier(mask, file, line);  // every lane has written
  uint64_t got = src < warp_lanes() ? slots[src] : bits;
  warp_barrier(mask, file, line);  // every lane has read before the slots are written again
  T out;
  std::memcpy(&out, &got, sizeof(T));
  return out;
}

}  // namespace fc::emu

template <class... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<size_t>(value) > fc::emu::kMaxDynamicShared)
    return cudaErrorInvalidValue;
  fc::emu::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
  return cudaSuccess;
}

// ---- built-in variables and functions of device code
#define threadIdx (::fc::emu::t_thread->idx)
#define blockIdx (::fc::emu::t_block->idx)
#define blockDim (::fc::emu::t_block->dim)
#define gridDim (::fc::emu::t_block->grid)
#define warpSize 32

// (The trailing arguments are the call's place in the source, filled in by the compiler:
// synccheck's reports name it.)
#define FC_EMU_SITE const char *file = __builtin_FILE(), int line = __builtin_LINE()
inline void __syncthreads(FC_EMU_SITE) { fc::emu::block_barrier(file, line); }
inline void __syncwarp(unsigned mask = 0xffffffffu, FC_EMU_SITE) { fc::emu::warp_barrier(mask, file, line); }

template <class T>
T __shfl_sync(unsigned m, T v, int src, int width = 32, FC_EMU_SITE) {
  unsigned lane = fc::emu::lane_id(), base = lane & ~static_cast<unsigned>(width - 1);
  return fc::emu::shuffle_from(v, base + (static_cast<unsigned>(src) & (width - 1)), m, file, line);
}
template <class T>
T __shfl_down_sync(unsigned m, T v, unsigned delta, int width = 32, FC_EMU_SITE) {
  unsigned lane = fc::emu::lane_id(), in = lane & (width - 1);
  return fc::emu::shuffle_from(v, in + delta < static_cast<unsigned>(width) ? lane + delta : lane, m, file, line);
}
template <class T>
T __shfl_up_sync(unsigned m, T v, unsigned delta, int width = 32, FC_EMU_SITE) {
  unsigned lane = fc::emu::lane_id(), in = lane & (width - 1);
  return fc::emu::shuffle_from(v, in >= delta ? lane - delta : lane, m, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned m, T v, int mask, int width = 32, FC_EMU_SITE) {
  unsigned lane = fc::emu::lane_id(), src = lane ^ static_cast<unsigned>(mask);
  unsigned base = lane & ~static_cast<unsigned>(width - 1);
  return fc::emu::shuffle_from(v, src >= base + width ? lane : src, m, file, line);
}
inline unsigned __ballot_sync(unsigned m, int predicate, FC_EMU_SITE) {
  uint64_t* slots = fc::emu::warp_slots();
  slots[fc::emu::lane_id()] = predicate != 0;
  fc::emu::warp_barrier(m, file, line);
  unsigned mask = 0;
  for (unsigned l = 0; l < fc::emu::warp_lanes(); ++l)
    if (m >> l & 1) mask |= static_cast<unsigned>(slots[l]) << l;
  fc::emu::warp_barrier(m, file, line);
  return mask;
}
inline int __any_sync(unsigned m, int predicate, FC_EMU_SITE) { return __ballot_sync(m, predicate, file, line) != 0; }
inline int __all_sync(unsigned m, int predicate, FC_EMU_SITE) {
  unsigned lanes = fc::emu::warp_lanes();
  unsigned all = (lanes == 32 ? 0xffffffffu : (1u << lanes) - 1) & m;
  return __ballot_sync(m, predicate, file, line) == all;
}
#undef FC_EMU_SITE

// Atomics. Threads interleave only at barriers, but the builtins keep them atomic
// whatever runs the blocks.
inline float atomicAdd(float* p, float v) {
  // A compare-and-swap on the bits, as float has no fetch-add.
  uint32_t* u = reinterpret_cast<uint32_t*>(p);
  uint32_t old = __atomic_load_n(u, __ATOMIC_RELAXED), want;
  float f;
  do {
    std::memcpy(&f, &old, 4);
    f += v;
    std::memcpy(&want, &f, 4);
  } while (!__atomic_compare_exchange_n(u, &old, want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  std::memcpy(&f, &old, 4);
  return f;
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline int atomicMax(int* p, int v) {
  int old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline int atomicCAS(int* p, int compare, int value) {
  __atomic_compare_exchange_n(p, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }

// Math intrinsics of device code that the host has no name for.
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
