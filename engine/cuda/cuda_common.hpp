#pragma once
// Included by every source of the CUDA backend (engine/cuda/*.cu). Under nvcc it is
// the CUDA runtime and cuBLAS; under g++ the same sources compile against the emulated
// device (engine/cuda/emu/cuda_emu.hpp). Kernels are launched with FC_LAUNCH, which is
// kernel<<<grid, block, shared, stream>>>(args) on a GPU and the emulator's launcher
// otherwise, followed in both by a check of the launch.
#include <cstdint>

#ifdef __CUDACC__
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define FC_LAUNCH(kernel, grid, block, shared, stream, ...)              \
  do {                                                                   \
    kernel<<<(grid), (block), (shared), (stream)>>>(__VA_ARGS__);         \
    ::fc::cuda::check_launch(#kernel);                                   \
  } while (0)
// The dynamic shared memory of a kernel, as an array of T.
#define FC_DYNAMIC_SHARED(T, name)                     \
  extern __shared__ __align__(16) unsigned char fc_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(fc_dynamic_shared_)
#else
#include "engine/cuda/emu/cuda_emu.hpp"
#define FC_LAUNCH(kernel, grid, block, shared, stream, ...)                         \
  do {                                                                              \
    const dim3 fc_block_(block);                                                    \
    const size_t fc_shared_ = (shared);                                             \
    ::fc::emu::note_launch(#kernel, fc_block_, fc_shared_);                         \
    ::fc::emu::launch(kernel, (grid), fc_block_, fc_shared_, (stream), __VA_ARGS__); \
    ::fc::cuda::check_launch(#kernel);                                              \
  } while (0)
#define FC_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::fc::emu::t_block->dynamic_shared)
#endif

#include "engine/error.hpp"

namespace fc::cuda {

// The backend's stream and cuBLAS handle (created on first use; throws
// "no CUDA device: ..." where there is none).
cudaStream_t stream();
cublasHandle_t blas();
// Throws "no CUDA device: <why>" unless a device can be used.
void require_device();
// Throws "CUDA: <what>: <error>" unless e is cudaSuccess.
void check(cudaError_t e, const char* what);
// After a launch: throws, naming the kernel, if the launch failed; counts the launch.
void check_launch(const char* kernel);
// Counts one launch that FC_LAUNCH did not make (a cuBLAS call): kernel_launches().
void count_launch();
// The floating-point operations of the next launch, where they matter to its time (the
// attention kernels; gemm's are cuBLAS's): the emulator's traffic log for the roofline
// prediction (bench/roofline.py). Nothing on a GPU.
void note_flops(double flops);
// The most floats of device scratch one chunk of an op's work takes (im2col columns,
// attention weights): 2^26, 256 MiB, unless set_scratch_chunk_floats lowered it.
int64_t scratch_chunk_floats();

// Grid-stride loops: kThreads a block, at most kMaxBlocks blocks (the emulator runs
// fewer, larger blocks' worth of work per thread: each thread costs it a fiber).
constexpr int kThreads = 256;
#ifdef __CUDACC__
constexpr int64_t kMaxBlocks = 4096;
#else
constexpr int64_t kMaxBlocks = 16;
#endif
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

}  // namespace fc::cuda

// for (i over [0, n)) spread over every thread of the grid.
#define FC_GRID_STRIDE(i, n)                                                          \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
