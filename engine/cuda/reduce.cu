// CUDA reductions. Full sums run in two passes (a fixed number of blocks write partial
// sums, one block adds them), in double, in an order fixed by the grid: the result does
// not change from run to run. Axis sums and maxima walk k in order per output, as the
// CPU kernels do.
#include "engine/cuda/block_reduce.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"
#include "engine/strided_max.hpp"

namespace fc::cuda {

namespace {

enum class Terms { Values, Squares, SquaredDiffs };

__device__ inline double term(Terms t, const float* a, const float* b, int64_t i) {
  switch (t) {
    case Terms::Values: return a[i];
    case Terms::Squares: return static_cast<double>(a[i]) * a[i];
    case Terms::SquaredDiffs: {
      float d = a[i] - b[i];
      return static_cast<double>(d) * d;
    }
  }
  return 0.0;
}

__global__ void partial_sums_kernel(Terms t, const float* a, const float* b, int64_t n, double* partial) {
  double acc = 0.0;
  FC_GRID_STRIDE(i, n) acc += term(t, a, b, i);
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// y[0] = (sum of partial[0..count)) / divisor, by one block.
__global__ void final_sum_kernel(const double* partial, int64_t count, double divisor, float* y) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) y[0] = static_cast<float>(acc / divisor);
}

void reduce_all(Terms t, const float* a, const float* b, int64_t n, double divisor, float* y) {
  unsigned blocks = blocks_for(n);
  Scratch partial(blocks * sizeof(double));
  double* p = partial.as<double>();
  FC_LAUNCH(partial_sums_kernel, blocks, kThreads, 0, stream(), t, a, b, n, p);
  FC_LAUNCH(final_sum_kernel, 1, kThreads, 0, stream(), p, static_cast<int64_t>(blocks), divisor, y);
}

// Row sums (inner == 1): a block per row, the row's elements spread over its threads.
__global__ void row_sums_kernel(const float* x, float* y, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {  // uniform over the block
    const float* xr = x + r * n;
    double acc = 0.0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) acc += xr[k];
    acc = block_sum(acc);
    if (threadIdx.x == 0) y[r] = static_cast<float>(acc);
  }
}

// Column sums: a thread per output (o, i), adding k in order (coalesced over i).
__global__ void column_sums_kernel(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  FC_GRID_STRIDE(t, outer * inner) {
    int64_t o = t / inner, i = t % inner;
    const float* xp = x + o * n * inner + i;
    float acc = 0.f;
    for (int64_t k = 0; k < n; ++k) acc += xp[k * inner];
    y[t] = acc;
  }
}

__global__ void max_axis_kernel(const float* x, float* y, float* idx, int64_t outer, int64_t n,
                                int64_t inner) {
  FC_GRID_STRIDE(t, outer * inner) {
    int64_t o = t / inner, i = t % inner;
    int64_t arg = 0;
    float best = strided_max(x + o * n * inner + i, n, inner, &arg);
    y[t] = best;
    idx[t] = static_cast<float>(arg);
  }
}

// Each output routes to its own element of gx: no two threads write the same place.
__global__ void max_axis_backward_kernel(const float* gy, const float* idx, float* gx, int64_t outer,
                                         int64_t n, int64_t inner) {
  FC_GRID_STRIDE(t, outer * inner) {
    int64_t o = t / inner, i = t % inner, k = static_cast<int64_t>(idx[t]);
    gx[(o * n + k) * inner + i] += gy[t];
  }
}

}  // namespace

void sum_all(const float* x, float* y, int64_t n) { reduce_all(Terms::Values, x, x, n, 1.0, y); }

void sum_squares(const float* x, float* y, int64_t n) { reduce_all(Terms::Squares, x, x, n, 1.0, y); }

void mse(const float* a, const float* b, float* y, int64_t n) {
  reduce_all(Terms::SquaredDiffs, a, b, n, static_cast<double>(n), y);  // n = 0 gives NaN, as on the CPU
}

void sum_axis(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return;
  if (inner == 1) {
    unsigned blocks = static_cast<unsigned>(outer < kMaxBlocks ? outer : kMaxBlocks);
    FC_LAUNCH(row_sums_kernel, blocks, kThreads, 0, stream(), x, y, outer, n);
  } else {
    FC_LAUNCH(column_sums_kernel, blocks_for(outer * inner), kThreads, 0, stream(), x, y, outer, n, inner);
  }
}

void max_axis(const float* x, float* y, float* idx, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner > 0)
    FC_LAUNCH(max_axis_kernel, blocks_for(outer * inner), kThreads, 0, stream(), x, y, idx, outer, n, inner);
}

void max_axis_backward(const float* gy, const float* idx, float* gx, int64_t outer, int64_t n,
                       int64_t inner) {
  if (outer * inner > 0)
    FC_LAUNCH(max_axis_backward_kernel, blocks_for(outer * inner), kThreads, 0, stream(), gy, idx, gx,
              outer, n, inner);
}

}  // namespace fc::cuda
