// Tiled attention with an online softmax (flash attention's scheme, in fp32): a block
// takes 32 query rows (or 32 keys) of one batch-head and walks the other side in tiles
// of 32, so the t x t weights never exist in device memory and the only thing saved for
// backward is the log-sum-exp of each row (base 2, as the CPU kernel keeps it).
//
// Layout: q, k, v, out are channels-first [d, t] per batch-head, so a tile of 32
// positions is 32 consecutive floats of each channel: every global load is coalesced.
// The d channels of a tile all sit in shared memory, which bounds d (kTiledMaxD; the
// cuBLAS form in attention.cu takes the rest).
//
// Backward runs two kernels so that nothing needs atomics and every result is the same
// from run to run: one per key tile accumulates gk and gv over every query tile, one per
// query tile accumulates gq over every key tile; both recompute the weights from q, k
// and the saved log-sum-exp.
#include <cmath>

#include "engine/cuda/attention_tiled.hpp"
#include "engine/cuda/cuda_common.hpp"

namespace fc::cuda {

namespace {

constexpr int kTile = 32;                  // positions a tile: one per lane
constexpr int kWarps = 8;                  // 256 threads
constexpr int kPerWarp = kTile / kWarps;   // rows (or keys) each warp owns in a tile
constexpr int kTileThreads = kWarps * 32;
constexpr float kLog2e = 1.4426950408889634f;
// The inner loops read four positions of a tile at once (one 16-byte shared load) and
// go over whole tiles: positions past the end of the sequence are zero in the tiles
// and have weight 0.
static_assert(kPerWarp == 4, "a warp's positions are one float4");

__device__ inline float warp_max(float v) {
  // (b > a ? b : a) keeps a NaN that arrives first and a row of NaN stays NaN, as on the CPU.
  for (int o = 16; o > 0; o >>= 1) {
    float b = __shfl_xor_sync(0xffffffffu, v, o);
    v = b > v ? b : v;
  }
  return v;
}
__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Four consecutive floats of shared memory in one load (p 16-byte aligned).
__device__ inline float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
// acc[0..4) += s * (v.x, v.y, v.z, v.w)
__device__ inline void add_scaled4(float* acc, float s, const float4& v) {
  acc[0] += s * v.x;
  acc[1] += s * v.y;
  acc[2] += s * v.z;
  acc[3] += s * v.w;
}
// (v.x, v.y, v.z, v.w) . (a[0], a[1], a[2], a[3])
__device__ inline float dot4(const float4& v, const float* a) { return v.x * a[0] + v.y * a[1] + v.z * a[2] + v.w * a[3]; }

// dst[c][p] = src[c * t + p0 + p] for c < d, p < kTile; 0 past the end of the sequence.
template <int DMAX>
__device__ inline void load_tile(float (*dst)[kTile], const float* src, int d, int64_t t, int64_t p0) {
  for (int e = threadIdx.x; e < d * kTile; e += blockDim.x) {
    int c = e / kTile, p = e % kTile;
    dst[c][p] = p0 + p < t ? src[c * t + p0 + p] : 0.f;
  }
}

// p[c * t] = scale * acc[j] for the channels c = warp + 8 j < d this thread holds
// (one position of a [d, t] tensor: the lanes of a warp write consecutive positions).
template <int DMAX>
__device__ inline void store_channels(float* p, const float* acc, float scale, int d, int64_t t, int warp) {
  for (int j = 0; j < DMAX / kWarps; ++j) {
    int c = warp + kWarps * j;
    if (c < d) p[c * t] = acc[j] * scale;
  }
}

unsigned tile_blocks(int64_t jobs) { return static_cast<unsigned>(jobs < kMaxBlocks ? jobs : kMaxBlocks); }

// out and lse for one (batch-head, query tile) a job. In the score phase warp w owns
// query rows kPerWarp w + j and lane l key l of the tile, so each row's max and sum are
// warp shuffles; in the output phase lane l owns row l and channels w + 8 j.
template <int DMAX>
__global__ void __launch_bounds__(kTileThreads)
    tiled_attention_kernel(const float* qkv, float* out, float* lse, int64_t bh, int d, int64_t t, float alpha) {
  __shared__ __align__(16) float qs[DMAX][kTile];
  __shared__ __align__(16) float kvs[DMAX][kTile];  // k of the key tile, then its v
  __shared__ float ps[kTile][kTile + 1];   // the tile's weights (+1: no bank conflicts)
  __shared__ float rescale[kTile], row_sum[kTile];
  static_assert(sizeof(qs) + sizeof(kvs) + sizeof(ps) + 2 * sizeof(rescale) <= 48 * 1024, "48 KB static shared");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t tiles = (t + kTile - 1) / kTile;
  for (int64_t job = blockIdx.x; job < bh * tiles; job += gridDim.x) {
    const int64_t i = job / tiles, r0 = job % tiles * kTile;
    const float* q = qkv + i * 3 * d * t;
    const float* k = q + d * t;
    const float* v = k + d * t;
    __syncthreads();  // the previous job is done with qs
    load_tile<DMAX>(qs, q, d, t, r0);
    float m[kPerWarp], l[kPerWarp];
    for (int j = 0; j < kPerWarp; ++j) m[j] = -INFINITY, l[j] = 0.f;
    float acc[DMAX / kWarps] = {};
    for (int64_t s0 = 0; s0 < t; s0 += kTile) {
      __syncthreads();  // kvs and ps are free again
      load_tile<DMAX>(kvs, k, d, t, s0);
      __syncthreads();
      float sc[kPerWarp] = {};
      for (int c = 0; c < d; ++c) add_scaled4(sc, kvs[c][lane], load4(&qs[c][kPerWarp * warp]));
      const bool key = s0 + lane < t;
      for (int j = 0; j < kPerWarp; ++j) {
        float x = key ? sc[j] * alpha : -INFINITY;
        float mn = warp_max(x);
        mn = m[j] > mn ? m[j] : mn;  // finite: every tile holds a key
        float p = exp2f(x - mn);
        float a = exp2f(m[j] - mn);  // 0 on the first tile
        l[j] = l[j] * a + warp_sum(p);
        m[j] = mn;
        ps[kPerWarp * warp + j][lane] = p;
        if (lane == 0) rescale[kPerWarp * warp + j] = a;
      }
      __syncthreads();  // k read, weights written
      load_tile<DMAX>(kvs, v, d, t, s0);
      __syncthreads();
      const float a = rescale[lane];
      for (int j = 0; j < DMAX / kWarps; ++j) acc[j] *= a;
      for (int s = 0; s < kTile; s += 4) {
        const float p[4] = {ps[lane][s], ps[lane][s + 1], ps[lane][s + 2], ps[lane][s + 3]};
        for (int j = 0; j < DMAX / kWarps; ++j) {
          int c = warp + kWarps * j;
          if (c < d) acc[j] += dot4(load4(&kvs[c][s]), p);
        }
      }
    }
    if (lane == 0)
      for (int j = 0; j < kPerWarp; ++j) {
        int r = kPerWarp * warp + j;
        row_sum[r] = l[j];
        if (r0 + r < t) lse[i * t + r0 + r] = m[j] + log2f(l[j]);
      }
    __syncthreads();
    if (r0 + lane < t) {
      store_channels<DMAX>(out + i * d * t + r0 + lane, acc, 1.f / row_sum[lane], d, t, warp);
    }
  }
}

// gk, gv for one (batch-head, key tile) a job, over every query tile. Weights phase:
// lane l owns query row l, warp w keys kPerWarp w + j. Accumulation phase: lane l owns
// key l and channels w + 8 j of gk and gv.
template <int DMAX>
__global__ void __launch_bounds__(kTileThreads)
    tiled_attention_gkv_kernel(const float* qkv, const float* lse, const float* delta, const float* gout,
                               float* gqkv, int64_t bh, int d, int64_t t, float alpha, float scale) {
  __shared__ __align__(16) float ks[DMAX][kTile], vs[DMAX][kTile], qs[DMAX][kTile], gos[DMAX][kTile];
  __shared__ float ps[kTile][kTile + 1], gss[kTile][kTile + 1];  // [query][key]
  static_assert(4 * sizeof(ks) + 2 * sizeof(ps) <= 48 * 1024, "48 KB static shared");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t tiles = (t + kTile - 1) / kTile;
  for (int64_t job = blockIdx.x; job < bh * tiles; job += gridDim.x) {
    const int64_t i = job / tiles, s0 = job % tiles * kTile;
    const float* q = qkv + i * 3 * d * t;
    const float* go = gout + i * d * t;
    __syncthreads();  // the previous job is done with ks, vs
    load_tile<DMAX>(ks, q + d * t, d, t, s0);
    load_tile<DMAX>(vs, q + 2 * d * t, d, t, s0);
    float gk[DMAX / kWarps] = {}, gv[DMAX / kWarps] = {};
    for (int64_t r0 = 0; r0 < t; r0 += kTile) {
      __syncthreads();  // qs, gos, ps, gss are free again
      load_tile<DMAX>(qs, q, d, t, r0);
      load_tile<DMAX>(gos, go, d, t, r0);
      __syncthreads();
      float sc[kPerWarp] = {}, gp[kPerWarp] = {};
      for (int c = 0; c < d; ++c) {
        add_scaled4(sc, qs[c][lane], load4(&ks[c][kPerWarp * warp]));
        add_scaled4(gp, gos[c][lane], load4(&vs[c][kPerWarp * warp]));
      }
      const bool row = r0 + lane < t;
      const float l = row ? lse[i * t + r0 + lane] : 0.f, dr = row ? delta[i * t + r0 + lane] : 0.f;
      for (int j = 0; j < kPerWarp; ++j) {
        int s = kPerWarp * warp + j;
        float p = row && s0 + s < t ? exp2f(sc[j] * alpha - l) : 0.f;
        ps[lane][s] = p;
        gss[lane][s] = p * (gp[j] - dr) * scale;
      }
      __syncthreads();
      for (int r = 0; r < kTile; r += 4) {
        const float p[4] = {ps[r][lane], ps[r + 1][lane], ps[r + 2][lane], ps[r + 3][lane]};
        const float g[4] = {gss[r][lane], gss[r + 1][lane], gss[r + 2][lane], gss[r + 3][lane]};
        for (int j = 0; j < DMAX / kWarps; ++j) {
          int c = warp + kWarps * j;
          if (c < d) {
            gv[j] += dot4(load4(&gos[c][r]), p);  // gv = gout @ p
            gk[j] += dot4(load4(&qs[c][r]), g);   // gk = q @ gscore
          }
        }
      }
    }
    if (s0 + lane < t) {
      float* gkp = gqkv + i * 3 * d * t + d * t + s0 + lane;
      store_channels<DMAX>(gkp, gk, 1.f, d, t, warp);
      store_channels<DMAX>(gkp + d * t, gv, 1.f, d, t, warp);
    }
  }
}

// gq for one (batch-head, query tile) a job, over every key tile. Weights phase: warp w
// owns query rows kPerWarp w + j, lane l key l. Accumulation phase: lane l owns row l
// and channels w + 8 j of gq.
template <int DMAX>
__global__ void __launch_bounds__(kTileThreads)
    tiled_attention_gq_kernel(const float* qkv, const float* lse, const float* delta, const float* gout, float* gqkv,
                              int64_t bh, int d, int64_t t, float alpha, float scale) {
  __shared__ __align__(16) float qs[DMAX][kTile], gos[DMAX][kTile], ks[DMAX][kTile], vs[DMAX][kTile];
  __shared__ float gss[kTile][kTile + 1];  // [query][key]
  static_assert(4 * sizeof(qs) + sizeof(gss) <= 48 * 1024, "48 KB static shared");
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t tiles = (t + kTile - 1) / kTile;
  for (int64_t job = blockIdx.x; job < bh * tiles; job += gridDim.x) {
    const int64_t i = job / tiles, r0 = job % tiles * kTile;
    const float* q = qkv + i * 3 * d * t;
    __syncthreads();  // the previous job is done with qs, gos
    load_tile<DMAX>(qs, q, d, t, r0);
    load_tile<DMAX>(gos, gout + i * d * t, d, t, r0);
    float l[kPerWarp], dr[kPerWarp];
    for (int j = 0; j < kPerWarp; ++j) {
      int64_t r = r0 + kPerWarp * warp + j;
      l[j] = r < t ? lse[i * t + r] : 0.f;
      dr[j] = r < t ? delta[i * t + r] : 0.f;
    }
    float gq[DMAX / kWarps] = {};
    for (int64_t s0 = 0; s0 < t; s0 += kTile) {
      __syncthreads();  // ks, vs, gss are free again
      load_tile<DMAX>(ks, q + d * t, d, t, s0);
      load_tile<DMAX>(vs, q + 2 * d * t, d, t, s0);
      __syncthreads();
      float sc[kPerWarp] = {}, gp[kPerWarp] = {};
      for (int c = 0; c < d; ++c) {
        add_scaled4(sc, ks[c][lane], load4(&qs[c][kPerWarp * warp]));
        add_scaled4(gp, vs[c][lane], load4(&gos[c][kPerWarp * warp]));
      }
      const bool key = s0 + lane < t;
      for (int j = 0; j < kPerWarp; ++j) {
        int r = kPerWarp * warp + j;
        float p = key && r0 + r < t ? exp2f(sc[j] * alpha - l[j]) : 0.f;
        gss[r][lane] = p * (gp[j] - dr[j]) * scale;
      }
      __syncthreads();
      for (int s = 0; s < kTile; s += 4) {
        const float g[4] = {gss[lane][s], gss[lane][s + 1], gss[lane][s + 2], gss[lane][s + 3]};
        for (int j = 0; j < DMAX / kWarps; ++j) {
          int c = warp + kWarps * j;
          if (c < d) gq[j] += dot4(load4(&ks[c][s]), g);  // gq = k @ gscore^T
        }
      }
    }
    if (r0 + lane < t) {
      store_channels<DMAX>(gqkv + i * 3 * d * t + r0 + lane, gq, 1.f, d, t, warp);
    }
  }
}

int64_t jobs(int64_t bh, int64_t t) { return bh * ((t + kTile - 1) / kTile); }

}  // namespace

bool tiled_attention_fits(int64_t d) { return d >= 1 && d <= kTiledMaxD; }

void tiled_attention(const float* qkv, float* out, float* lse, int64_t bh, int64_t d, int64_t t) {
  const float alpha = kLog2e / std::sqrt(static_cast<float>(d));
  const int di = static_cast<int>(d);
  const unsigned blocks = tile_blocks(jobs(bh, t));
  note_flops(4.0 * bh * t * t * d);  // S = Q K^T and O = P V
  if (d <= 32)
    FC_LAUNCH(tiled_attention_kernel<32>, blocks, kTileThreads, 0, stream(), qkv, out, lse, bh, di, t, alpha);
  else
    FC_LAUNCH(tiled_attention_kernel<kTiledMaxD>, blocks, kTileThreads, 0, stream(), qkv, out, lse, bh, di, t, alpha);
}

void tiled_attention_backward(const float* qkv, const float* lse, const float* delta, const float* gout,
                              float* gqkv, int64_t bh, int64_t d, int64_t t) {
  const float scale = 1.f / std::sqrt(static_cast<float>(d)), alpha = kLog2e * scale;
  const int di = static_cast<int>(d);
  const unsigned blocks = tile_blocks(jobs(bh, t));
  // Each recomputes S = Q K^T; gkv then dP = dO V^T, dV = P^T dO, dK = dS^T Q; gq dP and dQ = dS K.
  const double gkv_flops = 8.0 * bh * t * t * d, gq_flops = 6.0 * bh * t * t * d;
  if (d <= 32) {
    note_flops(gkv_flops);
    FC_LAUNCH(tiled_attention_gkv_kernel<32>, blocks, kTileThreads, 0, stream(), qkv, lse, delta, gout, gqkv, bh, di,
              t, alpha, scale);
    note_flops(gq_flops);
    FC_LAUNCH(tiled_attention_gq_kernel<32>, blocks, kTileThreads, 0, stream(), qkv, lse, delta, gout, gqkv, bh, di, t,
              alpha, scale);
  } else {
    note_flops(gkv_flops);
    FC_LAUNCH(tiled_attention_gkv_kernel<kTiledMaxD>, blocks, kTileThreads, 0, stream(), qkv, lse, delta, gout, gqkv,
              bh, di, t, alpha, scale);
    note_flops(gq_flops);
    FC_LAUNCH(tiled_attention_gq_kernel<kTiledMaxD>, blocks, kTileThreads, 0, stream(), qkv, lse, delta, gout, gqkv,
              bh, di, t, alpha, scale);
  }
}

}  // namespace fc::cuda
