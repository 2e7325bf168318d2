// Scaled dot-product attention on channels-first q, k, v [d, t] per batch-head, as the
// CPU kernel computes it, in one of two forms:
// - tiled (engine/cuda/attention_tiled.cu): an online softmax over tiles of keys, the
//   t x t weights never in device memory; for d <= kTiledMaxD, and the default there;
// - cuBLAS (here): the t x t weights of a chunk of batch-heads in device scratch, between
//   strided-batched sgemms around a row-softmax kernel; any d. The code to read (the
//   tiled one is the fast code); set_attention_kernel(AttentionKernel::gemm) picks it.
// Both keep the log-sum-exp of each row in base 2 for backward, which recomputes the
// weights from it, so either backward takes either forward's lse.
#include <cmath>

#include "engine/cuda/attention_tiled.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/cuda/block_reduce.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

namespace {


// Each row of p (scores in units of log2) becomes its softmax; lse = the row's log2-sum-exp2.
__global__ void softmax2_rows_kernel(float* p, float* lse, int64_t rows, int64_t t) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float l = block_softmax_row<true>(p + r * t, p + r * t, t);
    if (threadIdx.x == 0) lse[r] = l;
  }
}

// p = 2^(score - lse of its row): the weights again.
__global__ void weights_from_lse_kernel(float* p, const float* lse, int64_t rows, int64_t t) {
  FC_GRID_STRIDE(i, rows * t) p[i] = exp2f(p[i] - lse[i / t]);
}

// delta[i, r] = sum_c gout[i, c, r] out[i, c, r] (= sum_s p gp of row r).
__global__ void attention_delta_kernel(const float* gout, const float* out, float* delta, int64_t nb, int64_t d,
                                       int64_t t) {
  FC_GRID_STRIDE(j, nb * t) {
    int64_t i = j / t, r = j % t;
    float acc = 0.f;
    for (int64_t c = 0; c < d; ++c) acc += gout[(i * d + c) * t + r] * out[(i * d + c) * t + r];
    delta[j] = acc;
  }
}

// Through the softmax: gscore = p (gp - delta) * scale.
__global__ void score_grad_kernel(const float* p, float* gp, const float* delta, int64_t rows, int64_t t,
                                  float scale) {
  FC_GRID_STRIDE(i, rows * t) gp[i] = p[i] * (gp[i] - delta[i / t]) * scale;
}

int64_t heads_per_chunk(int64_t bh, int64_t t) {
  int64_t nb = t > 0 ? scratch_chunk_floats() / (t * t) : bh;  // weights of nb heads at a time
  return nb < 1 ? 1 : (nb > bh ? bh : nb);
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(rows < kMaxBlocks ? rows : kMaxBlocks); }

// p_i [t, t] = q_i^T k_i log2(e) / sqrt(d) for nb batch-heads from q.
void scores(const float* q, float* p, int64_t nb, int64_t d, int64_t t) {
  const float alpha = 1.4426950408889634f / std::sqrt(static_cast<float>(d));
  gemm(true, false, t, t, d, alpha, q, t, 3 * d * t, q + d * t, t, 3 * d * t, 0.f, p, t, t * t, nb);
}

AttentionKernel g_attention_kernel = AttentionKernel::tiled;

bool use_tiled(int64_t d) { return g_attention_kernel != AttentionKernel::gemm && tiled_attention_fits(d); }

}  // namespace

void set_attention_kernel(AttentionKernel k) { g_attention_kernel = k; }

void attention(const float* qkv, float* out, float* lse, int64_t bh, int64_t d, int64_t t) {
  if (bh == 0 || t == 0) return;
  if (d == 0) {
    fill(lse, bh * t, std::log2(static_cast<float>(t)));  // scores all 0
    return;
  }
  if (use_tiled(d)) {
    tiled_attention(qkv, out, lse, bh, d, t);
    return;
  }
  const int64_t chunk = heads_per_chunk(bh, t);
  Scratch weights(static_cast<size_t>(chunk * t * t) * sizeof(float));
  float* p = weights.as<float>();
  for (int64_t i0 = 0; i0 < bh; i0 += chunk) {
    int64_t nb = bh - i0 < chunk ? bh - i0 : chunk;
    const float* q = qkv + i0 * 3 * d * t;
    scores(q, p, nb, d, t);
    FC_LAUNCH(softmax2_rows_kernel, row_blocks(nb * t), kThreads, 0, stream(), p, lse + i0 * t, nb * t, t);
    // out_i [d, t] = v_i [d, t] @ p_i^T
    gemm(false, true, d, t, t, 1.f, q + 2 * d * t, t, 3 * d * t, p, t, t * t, 0.f, out + i0 * d * t, t, d * t, nb);
  }
}

void attention_backward(const float* qkv, const float* out, const float* lse, const float* gout, float* gqkv,
                        int64_t bh, int64_t d, int64_t t) {
  if (bh == 0 || t == 0 || d == 0) return;
  if (use_tiled(d)) {
    Scratch rows(static_cast<size_t>(bh * t) * sizeof(float));
    float* delta = rows.as<float>();
    FC_LAUNCH(attention_delta_kernel, blocks_for(bh * t), kThreads, 0, stream(), gout, out, delta, bh, d, t);
    tiled_attention_backward(qkv, lse, delta, gout, gqkv, bh, d, t);
    return;
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(d));
  const int64_t chunk = heads_per_chunk(bh, t);
  Scratch weights(static_cast<size_t>(2 * chunk * t * t + chunk * t) * sizeof(float));
  float* p = weights.as<float>();
  float* gp = p + chunk * t * t;
  float* delta = gp + chunk * t * t;
  const int64_t dt = d * t, tt = t * t;
  for (int64_t i0 = 0; i0 < bh; i0 += chunk) {
    int64_t nb = bh - i0 < chunk ? bh - i0 : chunk;
    const float* q = qkv + i0 * 3 * dt;
    const float* k = q + dt;
    const float* v = k + dt;
    const float* go = gout + i0 * dt;
    float* gq = gqkv + i0 * 3 * dt;
    float* gk = gq + dt;
    float* gv = gk + dt;
    scores(q, p, nb, d, t);
    FC_LAUNCH(weights_from_lse_kernel, blocks_for(nb * tt), kThreads, 0, stream(), p, lse + i0 * t, nb * t, t);
    gemm(false, false, d, t, t, 1.f, go, t, dt, p, t, tt, 0.f, gv, t, 3 * dt, nb);   // gv = gout @ p
    gemm(true, false, t, t, d, 1.f, go, t, dt, v, t, 3 * dt, 0.f, gp, t, tt, nb);    // gp = gout^T v
    FC_LAUNCH(attention_delta_kernel, blocks_for(nb * t), kThreads, 0, stream(), go, out + i0 * dt, delta, nb, d, t);
    FC_LAUNCH(score_grad_kernel, blocks_for(nb * tt), kThreads, 0, stream(), p, gp, delta, nb * t, t, scale);
    gemm(false, true, d, t, t, 1.f, k, t, 3 * dt, gp, t, tt, 0.f, gq, t, 3 * dt, nb);  // gq = k @ gscore^T
    gemm(false, false, d, t, t, 1.f, q, t, 3 * dt, gp, t, tt, 0.f, gk, t, 3 * dt, nb); // gk = q @ gscore
  }
}

}  // namespace fc::cuda
