#pragma once
// Device helpers shared by the CUDA kernels: block-wide sum and maximum (warp shuffles,
// then one value per warp through shared memory), and device scratch memory from the
// caching allocator.
#include "engine/allocator.hpp"
#include "engine/cuda/cuda_common.hpp"

namespace fc::cuda {

template <class T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__device__ inline T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    T u = __shfl_down_sync(0xffffffffu, v, o);
    v = u > v ? u : v;
  }
  return v;
}

// The sum of v over the block, returned to every thread (blockDim.x a multiple of 32).
// Every thread of the block must call it.
__device__ inline double block_sum(double v) {
  __shared__ double partial[32];
  __shared__ double total;
  unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_sum(lane < warps ? partial[lane] : 0.0);
    if (lane == 0) total = v;
  }
  __syncthreads();
  double r = total;
  __syncthreads();  // partial and total are written again by the next call
  return r;
}

// The maximum of v over the block (NaN propagates or not, as with the CPU's scan: a row
// with a NaN comes out NaN either way), returned to every thread.
__device__ inline float block_max(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_max(lane < warps ? partial[lane] : -INFINITY);
    if (lane == 0) total = v;
  }
  __syncthreads();
  float r = total;
  __syncthreads();
  return r;
}

// Device scratch from the caching allocator (no cudaMalloc in a steady state), given
// back when it goes out of scope: later work on the stream is ordered after its use.
struct Scratch {
  explicit Scratch(size_t bytes) : bytes(bytes), p(device_alloc(Device::CUDA, bytes)) {}
  ~Scratch() { device_free(Device::CUDA, p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
  size_t bytes;
  void* p;
};

}  // namespace fc::cuda
