// CUDA elementwise kernels: one grid-stride loop each. The op is a switch inside the
// loop (uniform over the grid, so it costs no divergence), which keeps the number of
// kernels, and nvcc's compile time, small. The one-input ops' formulas are
// engine/unary_formulas.hpp's, shared with the CPU kernels.
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"
#include "engine/unary_formulas.hpp"

namespace fc::cuda {

namespace {

__global__ void fill_kernel(float* y, int64_t n, float v) {
  FC_GRID_STRIDE(i, n) y[i] = v;
}

__global__ void axpy_kernel(float alpha, const float* x, float* y, int64_t n) {
  FC_GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

__global__ void scale_kernel(float* y, int64_t n, float s) {
  FC_GRID_STRIDE(i, n) y[i] *= s;
}

// The coefficient is computed by every thread from the one device value (a broadcast
// load), so the host never waits for the norm.
__global__ void scale_to_norm_kernel(float* y, int64_t n, const float* sum_sq, float max_norm) {
  const float coef = max_norm / (sqrtf(*sum_sq) + 1e-6f);
  if (coef >= 1.f) return;
  FC_GRID_STRIDE(i, n) y[i] *= coef;
}

// CUDA's exp for the shared formulas (engine/unary_formulas.hpp).
struct DeviceExp {
  FC_HOST_DEVICE float operator()(float v) const { return expf(v); }
};

__device__ inline float sigmoid(float v) {
  return unary_value(UnaryOp::Sigmoid, v, 0.f, DeviceExp{});
}

__global__ void unary_kernel(UnaryOp op, const float* x, float* y, int64_t n, float s) {
  FC_GRID_STRIDE(i, n) y[i] = unary_value(op, x[i], s, DeviceExp{});
}

// x or y may be null when the op's gradient does not read it.
__global__ void unary_backward_kernel(UnaryOp op, const float* x, const float* y, const float* gy,
                                      float* gx, int64_t n, float s) {
  const GradientReads reads = unary_gradient_reads(op);
  FC_GRID_STRIDE(i, n) {
    const float xv = reads == GradientReads::Input ? x[i] : 0.f;
    const float yv = reads == GradientReads::Output ? y[i] : 0.f;
    gx[i] = unary_gradient(op, xv, yv, gy[i], s);
  }
}

__device__ inline float binary_value(BinaryOp op, float u, float v) {
  switch (op) {
    case BinaryOp::Add: return u + v;
    case BinaryOp::Sub: return u - v;
    case BinaryOp::Mul: return u * v;
    case BinaryOp::Div: return u / v;
  }
  return u;
}

__global__ void binary_kernel(BinaryOp op, const float* a, const float* b, float* y, BroadcastPlan p) {
  FC_GRID_STRIDE(i, p.n) {
    int64_t ia = i, ib = i;
    switch (p.kind) {
      case BroadcastPlan::Same: break;
      case BroadcastPlan::AScalar: ia = 0; break;
      case BroadcastPlan::BScalar: ib = 0; break;
      case BroadcastPlan::BRows: ib = i % p.inner; break;
      case BroadcastPlan::BCols: ib = i / p.inner; break;
      case BroadcastPlan::General: {
        int64_t rem = i;
        ia = ib = 0;
        for (int d = p.ndim - 1; d >= 0; --d) {
          int64_t c = rem % p.shape[d];
          rem /= p.shape[d];
          ia += c * p.a_strides[d];
          ib += c * p.b_strides[d];
        }
        break;
      }
    }
    y[i] = binary_value(op, a[ia], b[ib]);
  }
}

__global__ void strided_copy_kernel(const float* x, float* y, StridedPlan p, int64_t n) {
  FC_GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      off += (rem % p.shape[d]) * p.strides[d];
      rem /= p.shape[d];
    }
    y[i] = x[off];
  }
}

__global__ void copy_rows_kernel(const float* x, int64_t xn, int64_t xs, float* y, int64_t yn,
                                 int64_t ys, int64_t outer, int64_t block, int64_t inner) {
  FC_GRID_STRIDE(i, outer * block) {
    int64_t o = i / block, j = i % block;
    y[(o * yn + ys) * inner + j] = x[(o * xn + xs) * inner + j];
  }
}

__global__ void fill_rows_kernel(const float* bias, float* y, int64_t n, int64_t cols) {
  FC_GRID_STRIDE(i, n) y[i] = bias[i % cols];
}

__global__ void bias_silu_kernel(const float* z, const float* bias, float* y, float* s, int64_t n,
                                 int64_t cols) {
  FC_GRID_STRIDE(i, n) {
    float v = z[i] + (bias ? bias[i % cols] : 0.f);
    float sg = sigmoid(v);
    if (s) s[i] = sg;
    y[i] = v * sg;
  }
}

__global__ void silu_backward_kernel(const float* y, const float* s, const float* gy, float* gz,
                                     int64_t n) {
  FC_GRID_STRIDE(i, n) gz[i] = gy[i] * (s[i] + y[i] * (1.f - s[i]));
}

// gy is a device scalar: read by the kernel, so the host never waits for it.
__global__ void mse_backward_kernel(const float* a, const float* b, const float* gy, float* ga,
                                    int64_t n) {
  float k = 2.f * gy[0] / static_cast<float>(n);
  FC_GRID_STRIDE(i, n) ga[i] = k * (a[i] - b[i]);
}

}  // namespace

void fill(float* y, int64_t n, float v) {
  if (n > 0) FC_LAUNCH(fill_kernel, blocks_for(n), kThreads, 0, stream(), y, n, v);
}

void copy(const float* x, float* y, int64_t n) {
  if (n > 0)
    check(cudaMemcpyAsync(y, x, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, stream()),
          "cudaMemcpyAsync (device to device)");
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  if (n > 0) FC_LAUNCH(axpy_kernel, blocks_for(n), kThreads, 0, stream(), alpha, x, y, n);
}

void scale(float* y, int64_t n, float s) {
  if (n > 0) FC_LAUNCH(scale_kernel, blocks_for(n), kThreads, 0, stream(), y, n, s);
}

void scale_to_norm(float* y, int64_t n, const float* sum_sq, float max_norm) {
  if (n > 0) FC_LAUNCH(scale_to_norm_kernel, blocks_for(n), kThreads, 0, stream(), y, n, sum_sq, max_norm);
}

void unary(UnaryOp op, const float* x, float* y, int64_t n, float s) {
  if (n > 0) FC_LAUNCH(unary_kernel, blocks_for(n), kThreads, 0, stream(), op, x, y, n, s);
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx,
                    int64_t n, float s) {
  FC_CHECK(unary_gradient_reads(op) != GradientReads::None,
           "unary_backward: no fused gradient for this op");
  if (n > 0)
    FC_LAUNCH(unary_backward_kernel, blocks_for(n), kThreads, 0, stream(), op, x, y, gy, gx, n, s);
}

void binary(BinaryOp op, const float* a, const float* b, float* y, const BroadcastPlan& plan) {
  if (plan.n > 0) FC_LAUNCH(binary_kernel, blocks_for(plan.n), kThreads, 0, stream(), op, a, b, y, plan);
}

void strided_copy(const float* x, float* y, const StridedPlan& plan) {
  int64_t n = plan.ndim == 0 ? 1 : plan.n;  // a 0-d plan copies its one element
  if (n > 0) FC_LAUNCH(strided_copy_kernel, blocks_for(n), kThreads, 0, stream(), x, y, plan, n);
}

void copy_rows(const float* x, int64_t xn, int64_t xs, float* y, int64_t yn, int64_t ys,
               int64_t outer, int64_t len, int64_t inner) {
  int64_t total = outer * len * inner;
  if (total > 0)
    FC_LAUNCH(copy_rows_kernel, blocks_for(total), kThreads, 0, stream(), x, xn, xs, y, yn, ys, outer,
              len * inner, inner);
}

void fill_rows(const float* bias, float* y, int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  if (n > 0) FC_LAUNCH(fill_rows_kernel, blocks_for(n), kThreads, 0, stream(), bias, y, n, cols);
}

void bias_silu(const float* z, const float* bias, float* y, float* s, int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  if (n > 0) FC_LAUNCH(bias_silu_kernel, blocks_for(n), kThreads, 0, stream(), z, bias, y, s, n, cols);
}

void silu_backward_bias(const float* y, const float* s, const float* gy, float* gz, float* gbias,
                        int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  if (n > 0) FC_LAUNCH(silu_backward_kernel, blocks_for(n), kThreads, 0, stream(), y, s, gy, gz, n);
  if (gbias) sum_axis(gz, gbias, 1, rows, cols);  // column sums
}

void mse_backward(const float* a, const float* b, const float* gy, float* ga, int64_t n) {
  if (n > 0) FC_LAUNCH(mse_backward_kernel, blocks_for(n), kThreads, 0, stream(), a, b, gy, ga, n);
}

}  // namespace fc::cuda
