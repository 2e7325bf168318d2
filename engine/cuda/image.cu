// CUDA kernels of the image ops: 2x upsampling and 2x2 pooling (a thread per output),
// softmax over rows and group normalisation (+ SiLU) with their backward passes (a block
// per row or per (image, group), statistics summed in double as on the CPU).
#include "engine/cuda/block_reduce.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

namespace {

__global__ void upsample2x_kernel(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  const int64_t wo = 2 * w, per_plane = 4 * h * w;
  FC_GRID_STRIDE(t, planes * per_plane) {
    int64_t p = t / per_plane, r = t % per_plane, oy = r / wo, ox = r % wo;
    y[t] = x[(p * h + oy / 2) * w + ox / 2] * scale;
  }
}

__global__ void pool2x_sum_kernel(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  const int64_t ho = h / 2, wo = w / 2;
  FC_GRID_STRIDE(t, planes * ho * wo) {
    int64_t p = t / (ho * wo), oy = t / wo % ho, ox = t % wo;
    const float* x0 = x + (p * h + 2 * oy) * w + 2 * ox;
    y[t] = scale * (x0[0] + x0[1] + x0[w] + x0[w + 1]);
  }
}

__device__ inline float sigmoid(float v) { return 1.f / (1.f + expf(-v)); }

// A block per row (rows walked with a stride of the grid: uniform over the block).
__global__ void softmax_kernel(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) block_softmax_row<false>(x + r * cols, y + r * cols, cols);
}

__global__ void softmax_backward_kernel(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* yr = y + r * cols;
    const float* gr = gy + r * cols;
    double dot = 0;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) dot += yr[i] * gr[i];
    float d = static_cast<float>(block_sum(dot));
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) gx[r * cols + i] = yr[i] * (gr[i] - d);
  }
}

// A block per (image, group) of len = (c / groups) * s contiguous elements.
__global__ void group_norm_kernel(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                  float* rstd, int64_t items, int64_t groups, int64_t cg, int64_t s, float eps,
                                  bool silu) {
  const int64_t len = cg * s;
  for (int64_t ng = blockIdx.x; ng < items; ng += gridDim.x) {
    const float* xg = x + ng * len;
    double sum = 0, sq = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      sum += xg[i];
      sq += static_cast<double>(xg[i]) * xg[i];
    }
    sum = block_sum(sum);
    sq = block_sum(sq);
    double m = sum / len, var = sq / len - m * m;
    if (var < 0) var = 0;
    float mf = static_cast<float>(m), r = static_cast<float>(1.0 / sqrt(var + eps));
    if (threadIdx.x == 0) {
      mean[ng] = mf;
      rstd[ng] = r;
    }
    int64_t g = ng % groups;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      int64_t ch = g * cg + i / s;
      float a = r * (gamma ? gamma[ch] : 1.f);
      float z = xg[i] * a + ((beta ? beta[ch] : 0.f) - mf * a);
      y[ng * len + i] = silu ? z * sigmoid(z) : z;
    }
  }
}

// The gradient at the normalised output (through SiLU when the forward had it).
__device__ inline float norm_grad(const float* x, const float* gy, int64_t i, float a, float b0, bool silu) {
  if (!silu) return gy[i];
  float z = x[i] * a + b0, sg = sigmoid(z);
  return gy[i] * sg * (1.f + z * (1.f - sg));
}

// Per (image, group): per-channel sums of the output gradient g and of g * xhat (kept
// for the parameter gradients), then gx = rstd (gamma g - mean(gamma g) - xhat
// mean(gamma g xhat)).
__global__ void group_norm_backward_kernel(const float* x, const float* gamma, const float* beta,
                                           const float* mean, const float* rstd, const float* gy, float* gx,
                                           float* sum_g, float* sum_gx, int64_t items, int64_t c, int64_t groups,
                                           int64_t cg, int64_t s, bool silu) {
  const int64_t len = cg * s;
  for (int64_t ng = blockIdx.x; ng < items; ng += gridDim.x) {
    int64_t img = ng / groups, g = ng % groups;
    float m = mean[ng], r = rstd[ng];
    const float* xg = x + ng * len;
    const float* gyg = gy + ng * len;
    double a1 = 0, a2 = 0;
    for (int64_t ci = 0; ci < cg; ++ci) {
      int64_t ch = g * cg + ci;
      float gm = gamma ? gamma[ch] : 1.f, a = r * gm, b0 = (beta ? beta[ch] : 0.f) - m * a;
      double sg = 0, sgx = 0;
      for (int64_t i = ci * s + threadIdx.x; i < (ci + 1) * s; i += blockDim.x) {
        float gi = norm_grad(xg, gyg, i, a, b0, silu);
        sg += gi;
        sgx += static_cast<double>(gi) * ((xg[i] - m) * r);
      }
      sg = block_sum(sg);
      sgx = block_sum(sgx);
      if (threadIdx.x == 0) {
        sum_g[img * c + ch] = static_cast<float>(sg);
        sum_gx[img * c + ch] = static_cast<float>(sgx);
      }
      a1 += gm * sg;
      a2 += gm * sgx;
    }
    if (!gx) continue;
    float mean1 = static_cast<float>(a1 / len), mean2 = static_cast<float>(a2 / len);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      int64_t ch = g * cg + i / s;
      float gm = gamma ? gamma[ch] : 1.f, a = r * gm, b0 = (beta ? beta[ch] : 0.f) - m * a;
      float xhat = (xg[i] - m) * r;
      gx[ng * len + i] = r * (gm * norm_grad(xg, gyg, i, a, b0, silu) - mean1 - xhat * mean2);
    }
  }
}

// ggamma / gbeta [c]: the per-image sums added over the images, in order.
__global__ void group_norm_params_kernel(const float* sum_g, const float* sum_gx, float* ggamma, float* gbeta,
                                         int64_t n, int64_t c) {
  FC_GRID_STRIDE(ch, c) {
    double sg = 0, sgx = 0;
    for (int64_t img = 0; img < n; ++img) {
      sg += sum_g[img * c + ch];
      sgx += sum_gx[img * c + ch];
    }
    if (gbeta) gbeta[ch] = static_cast<float>(sg);
    if (ggamma) ggamma[ch] = static_cast<float>(sgx);
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(rows < kMaxBlocks ? rows : kMaxBlocks); }

}  // namespace

void upsample2x(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  int64_t n = planes * 4 * h * w;
  if (n > 0) FC_LAUNCH(upsample2x_kernel, blocks_for(n), kThreads, 0, stream(), x, y, planes, h, w, scale);
}

void pool2x_sum(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  int64_t n = planes * (h / 2) * (w / 2);
  if (n > 0) FC_LAUNCH(pool2x_sum_kernel, blocks_for(n), kThreads, 0, stream(), x, y, planes, h, w, scale);
}

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows > 0 && cols > 0) FC_LAUNCH(softmax_kernel, row_blocks(rows), kThreads, 0, stream(), x, y, rows, cols);
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
  if (rows > 0 && cols > 0)
    FC_LAUNCH(softmax_backward_kernel, row_blocks(rows), kThreads, 0, stream(), y, gy, gx, rows, cols);
}

void group_norm(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                int64_t n, int64_t c, int64_t s, int64_t groups, float eps, bool silu) {
  int64_t items = n * groups;
  if (items > 0)
    FC_LAUNCH(group_norm_kernel, row_blocks(items), kThreads, 0, stream(), x, gamma, beta, y, mean, rstd, items,
              groups, c / groups, s, eps, silu);
}

void group_norm_backward(const float* x, const float* gamma, const float* beta, const float* mean,
                         const float* rstd, const float* gy, float* gx, float* ggamma, float* gbeta, int64_t n,
                         int64_t c, int64_t s, int64_t groups, bool silu) {
  int64_t items = n * groups;
  Scratch sums(static_cast<size_t>(2 * (n * c > 0 ? n * c : 1)) * sizeof(float));
  float* sum_g = sums.as<float>();
  float* sum_gx = sum_g + n * c;
  if (items > 0)
    FC_LAUNCH(group_norm_backward_kernel, row_blocks(items), kThreads, 0, stream(), x, gamma, beta, mean, rstd,
              gy, gx, sum_g, sum_gx, items, c, groups, c / groups, s, silu);
  if ((ggamma || gbeta) && c > 0)
    FC_LAUNCH(group_norm_params_kernel, blocks_for(c), kThreads, 0, stream(), sum_g, sum_gx, ggamma, gbeta, n, c);
}

}  // namespace fc::cuda
