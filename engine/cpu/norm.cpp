// Group normalisation and softmax: each one pass (or two) per group or row, with the
// statistics summed in double so that large groups (a 128-channel group norm over
// 28x28 is 100,000 elements) keep float precision.
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/fast_math.hpp"
#include "engine/cpu/per_item.hpp"
#include "engine/parallel.hpp"

namespace fc::cpu {

namespace {
thread_local std::vector<float> tl_silu_grad;
}  // namespace

void group_norm(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                float* rstd, int64_t n, int64_t c, int64_t s, int64_t groups, float eps,
                bool silu) {
  const int64_t cg = c / groups, len = cg * s;
  // One work item per (image, group); each is len contiguous elements.
  parallel_for(n * groups, len >= 4096 ? 0 : 64, [&](int64_t b, int64_t e) {
    for (int64_t ng = b; ng < e; ++ng) {
      const float* xg = x + ng * len;
      double sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum, sq)
      for (int64_t i = 0; i < len; ++i) {
        sum += xg[i];
        sq += static_cast<double>(xg[i]) * xg[i];
      }
      double m = sum / len, var = sq / len - m * m;
      if (var < 0) var = 0;
      float mf = static_cast<float>(m), r = static_cast<float>(1.0 / std::sqrt(var + eps));
      mean[ng] = mf;
      rstd[ng] = r;
      int64_t g = ng % groups;
      float* yg = y + ng * len;
      for (int64_t ci = 0; ci < cg; ++ci) {
        int64_t ch = g * cg + ci;
        float a = r * (gamma ? gamma[ch] : 1.f);
        float b0 = (beta ? beta[ch] : 0.f) - mf * a;
        const float* xc = xg + ci * s;
        float* yc = yg + ci * s;
        if (silu) {
#pragma omp simd
          for (int64_t i = 0; i < s; ++i) {
            const float z = xc[i] * a + b0;
            yc[i] = z * fast_sigmoid(z);
          }
        } else {
#pragma omp simd
          for (int64_t i = 0; i < s; ++i) yc[i] = xc[i] * a + b0;
        }
      }
    }
  });
}

// With silu, the gradient at the group norm's output, gz = gy SiLU'(z), is made per group
// in a per-thread buffer (z recomputed from x) and stands in for gy below.
void group_norm_backward(const float* x, const float* gamma, const float* beta, const float* mean,
                         const float* rstd, const float* gy, float* gx, float* ggamma,
                         float* gbeta, int64_t n, int64_t c, int64_t s, int64_t groups,
                         bool silu) {
  const int64_t cg = c / groups, len = cg * s;
  // Per (image, channel): sum gy and sum gy * xhat. The parameter gradients are their
  // sums over images; the input gradient needs them summed over the group's channels:
  //   gx = rstd (gamma gy - mean_g(gamma gy) - xhat mean_g(gamma gy xhat)).
  std::vector<float> sum_gy(static_cast<size_t>(n * c)), sum_gyx(static_cast<size_t>(n * c));
  parallel_for(n * groups, len >= 4096 ? 0 : 64, [&](int64_t b, int64_t e) {
    for (int64_t ng = b; ng < e; ++ng) {
      int64_t img = ng / groups, g = ng % groups;
      float m = mean[ng], r = rstd[ng];
      const float* gyg = gy + ng * len;
      if (silu) {
        float* gz = scratch(tl_silu_grad, len);
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t ch = g * cg + ci;
          const float a = r * (gamma ? gamma[ch] : 1.f);
          const float b0 = (beta ? beta[ch] : 0.f) - m * a;
          const float* xc = x + ng * len + ci * s;
          const float* gc = gyg + ci * s;
          float* out = gz + ci * s;
#pragma omp simd
          for (int64_t i = 0; i < s; ++i) {
            const float z = xc[i] * a + b0, sg = fast_sigmoid(z);
            out[i] = gc[i] * sg * (1.f + z * (1.f - sg));
          }
        }
        gyg = gz;
      }
      double a1 = 0, a2 = 0;  // sums over the group of gamma gy and gamma gy xhat
      for (int64_t ci = 0; ci < cg; ++ci) {
        int64_t ch = g * cg + ci;
        const float* xc = x + ng * len + ci * s;
        const float* gc = gyg + ci * s;
        double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t i = 0; i < s; ++i) {
          sg += gc[i];
          sgx += static_cast<double>(gc[i]) * ((xc[i] - m) * r);
        }
        sum_gy[img * c + ch] = static_cast<float>(sg);
        sum_gyx[img * c + ch] = static_cast<float>(sgx);
        float gm = gamma ? gamma[ch] : 1.f;
        a1 += gm * sg;
        a2 += gm * sgx;
      }
      if (!gx) continue;
      float mean1 = static_cast<float>(a1 / len), mean2 = static_cast<float>(a2 / len);
      for (int64_t ci = 0; ci < cg; ++ci) {
        int64_t ch = g * cg + ci;
        float gm = gamma ? gamma[ch] : 1.f;
        const float* xc = x + ng * len + ci * s;
        const float* gc = gyg + ci * s;
        float* out = gx + ng * len + ci * s;
#pragma omp simd
        for (int64_t i = 0; i < s; ++i) {
          float xhat = (xc[i] - m) * r;
          out[i] = r * (gm * gc[i] - mean1 - xhat * mean2);
        }
      }
    }
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    double sg = 0, sgx = 0;
    for (int64_t img = 0; img < n; ++img) {
      sg += sum_gy[img * c + ch];
      sgx += sum_gyx[img * c + ch];
    }
    if (gbeta) gbeta[ch] = static_cast<float>(sg);
    if (ggamma) ggamma[ch] = static_cast<float>(sgx);
  }
}

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, cols >= 4096 ? 0 : kTranscendentalGrain / (cols + 1), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      std::memcpy(y + r * cols, x + r * cols, sizeof(float) * cols);
      softmax_in_place(y + r * cols, cols);
    }
  });
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
  parallel_for(rows, cols >= 4096 ? 0 : kElementwiseGrain / (cols + 1), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* yr = y + r * cols;
      const float* gr = gy + r * cols;
      float* out = gx + r * cols;
      float dot = 0.f;
#pragma omp simd reduction(+ : dot)
      for (int64_t i = 0; i < cols; ++i) dot += yr[i] * gr[i];
#pragma omp simd
      for (int64_t i = 0; i < cols; ++i) out[i] = yr[i] * (gr[i] - dot);
    }
  });
}

}  // namespace fc::cpu
