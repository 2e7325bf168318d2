// Fused scaled dot-product attention on channels-first q, k, v [d, t] per batch-head.
// The t x t weights live only in a per-thread buffer: forward keeps the log-sum-exp of
// each row, and backward recomputes the weights from it (as flash attention does), so
// a 28x28 feature map costs 784 floats per row saved instead of 784 x 784 per sample.
// Batch-heads are spread over the threads, each running one-thread sgemms.
#include <omp.h>

#include <cmath>
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/per_item.hpp"
#include "engine/cpu/fast_math.hpp"

namespace fc::cpu {

namespace {

thread_local std::vector<float> tl_weights, tl_grad_weights, tl_delta, tl_inv_sum;

// p [t, t] = q^T k log2(e) / sqrt(d): the scores of every query row against every key,
// in units of log2, so that the weights are 2^(score - lse) (2^x is cheaper than e^x).
void scores(const float* q, const float* k, float* p, int64_t d, int64_t t) {
  const float alpha = 1.4426950408889634f / std::sqrt(static_cast<float>(d));
  gemm(true, false, t, t, d, alpha, q, t, 0, k, t, 0, 0.f, p, t, 0, 1);
}

}  // namespace

void attention(const float* qkv, float* out, float* lse, int64_t bh, int64_t d, int64_t t) {
  for_each_item(bh, 2, [&](int64_t i) {
    const float* q = qkv + i * 3 * d * t;
    const float* k = q + d * t;
    const float* v = k + d * t;
    float* p = scratch(tl_weights, t * t);
    float* inv_sum = scratch(tl_inv_sum, t);
    scores(q, k, p, d, t);
    // Unnormalised weights 2^(score - max); dividing the d x t output by each row's sum
    // afterwards is cheaper than dividing the t x t weights.
    for (int64_t r = 0; r < t; ++r) {
      float m;
      const float sum = exp_minus_max<fast_exp2_nonpositive>(p + r * t, t, &m);
      lse[i * t + r] = m + std::log2(sum);
      inv_sum[r] = 1.f / sum;
    }
    // out [d, t] = v [d, t] @ p^T: out[c, r] = sum_s v[c, s] p[r, s].
    float* o = out + i * d * t;
    gemm(false, true, d, t, t, 1.f, v, t, 0, p, t, 0, 0.f, o, t, 0, 1);
    for (int64_t c = 0; c < d; ++c)
#pragma omp simd
      for (int64_t r = 0; r < t; ++r) o[c * t + r] *= inv_sum[r];
  });
}

void attention_backward(const float* qkv, const float* out, const float* lse, const float* gout,
                        float* gqkv, int64_t bh, int64_t d, int64_t t) {
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  for_each_item(bh, 2, [&](int64_t i) {
    const float* q = qkv + i * 3 * d * t;
    const float* k = q + d * t;
    const float* v = k + d * t;
    const float* o = out + i * d * t;
    const float* go = gout + i * d * t;
    float* gq = gqkv + i * 3 * d * t;
    float* gk = gq + d * t;
    float* gv = gk + d * t;
    float* p = scratch(tl_weights, t * t);
    float* gp = scratch(tl_grad_weights, t * t);
    // The weights again, from the saved log-sum-exp: p = 2^(score - lse).
    scores(q, k, p, d, t);
    for (int64_t r = 0; r < t; ++r) {
      float* row = p + r * t;
      float l = lse[i * t + r];
#pragma omp simd
      for (int64_t s = 0; s < t; ++s) row[s] = fast_exp2_nonpositive(row[s] - l);
    }
    // gv [d, t] = gout [d, t] @ p: gv[c, s] = sum_r gout[c, r] p[r, s].
    gemm(false, false, d, t, t, 1.f, go, t, 0, p, t, 0, 0.f, gv, t, 0, 1);
    // gp [t, t] = gout^T v: gp[r, s] = sum_c gout[c, r] v[c, s].
    gemm(true, false, t, t, d, 1.f, go, t, 0, v, t, 0, 0.f, gp, t, 0, 1);
    // Through the softmax: gscore[r, s] = p (gp - sum_s p gp), and sum_s p gp equals
    // sum_c gout[c, r] out[c, r] (a d-long dot instead of a t-long one).
    float* delta = scratch(tl_delta, t);
    for (int64_t r = 0; r < t; ++r) delta[r] = 0.f;
    for (int64_t c = 0; c < d; ++c)
#pragma omp simd
      for (int64_t r = 0; r < t; ++r) delta[r] += go[c * t + r] * o[c * t + r];
    for (int64_t r = 0; r < t; ++r) {
      float* row = gp + r * t;
      const float* prow = p + r * t;
      const float dr = delta[r];
#pragma omp simd
      for (int64_t s = 0; s < t; ++s) row[s] = prow[s] * (row[s] - dr) * scale;
    }
    // score = q^T k * scale: gq [d, t] = k @ gscore^T, gk [d, t] = q @ gscore.
    gemm(false, true, d, t, t, 1.f, k, t, 0, gp, t, 0, 0.f, gq, t, 0, 1);
    gemm(false, false, d, t, t, 1.f, q, t, 0, gp, t, 0, 0.f, gk, t, 0, 1);
  });
}

}  // namespace fc::cpu
