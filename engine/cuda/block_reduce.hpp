#pragma once
// Device helpers shared by the CUDA kernels: block-wide reductions (warp shuffles, then
// one value per warp through shared memory), a block-wide row softmax, and device
// scratch memory from the caching allocator.
#include "engine/allocator.hpp"
#include "engine/cuda/cuda_common.hpp"

namespace fc::cuda {

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
// (NaN propagates or not depending on the order; a row holding a NaN comes out NaN
// either way in the kernels that use it, as on the CPU.)
struct MaxOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

template <class T, class Op>
__device__ inline T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

// op over v of every thread of the block, returned to every thread (blockDim.x a
// multiple of 32). Every thread of the block must call it. Each instantiation has its
// own shared memory.
template <class T, class Op>
__device__ inline T block_reduce(T v, Op op, T identity) {
  __shared__ T partial[32];
  __shared__ T total;
  unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_reduce(v, op);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_reduce(lane < warps ? partial[lane] : identity, op);
    if (lane == 0) total = v;
  }
  __syncthreads();
  T r = total;
  __syncthreads();  // partial and total are written again by the next call
  return r;
}

__device__ inline double block_sum(double v) { return block_reduce(v, SumOp(), 0.0); }
__device__ inline float block_max(float v) { return block_reduce(v, MaxOp(), -INFINITY); }

// y = the softmax of the row x[0..n) (y may be x), by the whole block: exp(x - max), or
// 2^(x - max) with base2 (scores in units of log2). Returns the row's log-sum-exp in
// the same base.
template <bool base2>
__device__ inline float block_softmax_row(const float* x, float* y, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = x[i] > m ? x[i] : m;
  m = block_max(m);
  double sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float e = base2 ? exp2f(x[i] - m) : expf(x[i] - m);
    y[i] = e;
    sum += e;
  }
  sum = block_sum(sum);
  float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] *= inv;
  return m + static_cast<float>(base2 ? log2(sum) : log(sum));
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
