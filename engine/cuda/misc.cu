// CUDA kernels for embeddings (gather / scatter-add rows), AdamW over the flat parameter
// buffer, and the Philox random fills (engine/philox.hpp: the same numbers as the CPU
// for the same seed and offset).
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"
#include "engine/philox.hpp"

namespace fc::cuda {

namespace {

// Whether id names a row of a table of `rows` rows (NaN fails every comparison).
__device__ __forceinline__ bool valid_row(float id, int64_t rows) {
  return id >= 0.f && id < static_cast<float>(rows) && id == floorf(id);
}

__global__ void gather_rows_kernel(const float* table, int64_t rows, const float* ids, float* y, int64_t n,
                                   int64_t d) {
  FC_GRID_STRIDE(t, n * d) {
    int64_t i = t / d, j = t % d;
    float id = ids[i];
    y[t] = valid_row(id, rows) ? table[static_cast<int64_t>(id) * d + j] : __int_as_float(0x7fc00000);  // NaN
  }
}

// Two rows with the same id add into the same place: atomics.
__global__ void scatter_add_rows_kernel(const float* gy, const float* ids, float* gtable, int64_t rows, int64_t n,
                                        int64_t d) {
  FC_GRID_STRIDE(t, n * d) {
    int64_t i = t / d, j = t % d;
    float id = ids[i];
    if (valid_row(id, rows)) atomicAdd(gtable + static_cast<int64_t>(id) * d + j, gy[t]);
  }
}

// torch.optim.AdamW's order of operations, as engine/cpu/optim.cpp.
__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float decay,
                             float step_size, float sqrt_bc2, float b1, float b2, float eps) {
  FC_GRID_STRIDE(i, n) {
    float gi = g[i];
    float pi = p[i] * decay;
    float mi = m[i] + (1.f - b1) * (gi - m[i]);
    float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * (mi / (sqrtf(vi) / sqrt_bc2 + eps));
  }
}

// A thread per Philox block of four numbers: element i from block offset + i/4, lane i%4.
// The same fused multiply-adds as the CPU (engine/cpu/random.cpp), and nothing else to
// round, so uniform and integer draws match it bit for bit.
__global__ void rand_uniform_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo,
                                    float hi) {
  FC_GRID_STRIDE(b, (n + 3) / 4) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(b), seed);
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) {
      float v = fmaf(hi - lo, philox_unit(r.v[l]), lo);
      y[b * 4 + l] = v < hi ? v : lo;
    }
  }
}

__global__ void rand_normal_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean,
                                   float std) {
  FC_GRID_STRIDE(b, (n + 3) / 4) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(b), seed);
    float z[4];
    for (int pair = 0; pair < 2; ++pair) {  // Box-Muller on lanes (0, 1) and (2, 3)
      float u1 = philox_unit_open0(r.v[2 * pair]), u2 = philox_unit(r.v[2 * pair + 1]);
      float rad = sqrtf(-2.f * logf(u1));
      float th = 6.28318530717958647f * u2;
      z[2 * pair] = rad * cosf(th);
      z[2 * pair + 1] = rad * sinf(th);
    }
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) y[b * 4 + l] = fmaf(std, z[l], mean);
  }
}

__global__ void rand_int_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, int64_t lo,
                                uint64_t range) {
  FC_GRID_STRIDE(b, (n + 3) / 4) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(b), seed);
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) {
      uint64_t k = (static_cast<uint64_t>(r.v[l]) * range) >> 32;  // Lemire's multiply-shift
      y[b * 4 + l] = static_cast<float>(lo + static_cast<int64_t>(k));
    }
  }
}

}  // namespace

void gather_rows(const float* table, int64_t rows, const float* ids, float* y, int64_t n, int64_t d) {
  if (n * d > 0)
    FC_LAUNCH(gather_rows_kernel, blocks_for(n * d), kThreads, 0, stream(), table, rows, ids, y, n, d);
}

void scatter_add_rows(const float* gy, const float* ids, float* gtable, int64_t rows, int64_t n, int64_t d) {
  if (n * d > 0)
    FC_LAUNCH(scatter_add_rows_kernel, blocks_for(n * d), kThreads, 0, stream(), gy, ids, gtable, rows, n, d);
}

void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  if (n <= 0) return;
  float decay = 1.f - s.lr * s.weight_decay;
  float step_size = s.lr / s.bias_correction1;
  float sqrt_bc2 = std::sqrt(s.bias_correction2);
  FC_LAUNCH(adamw_kernel, blocks_for(n), kThreads, 0, stream(), p, g, m, v, n, decay, step_size, sqrt_bc2,
            s.beta1, s.beta2, s.eps);
}

void rand_uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  if (n > 0) FC_LAUNCH(rand_uniform_kernel, blocks_for((n + 3) / 4), kThreads, 0, stream(), y, n, seed, offset, lo, hi);
}

void rand_normal(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  if (n > 0)
    FC_LAUNCH(rand_normal_kernel, blocks_for((n + 3) / 4), kThreads, 0, stream(), y, n, seed, offset, mean, std);
}

void rand_int(float* y, int64_t n, uint64_t seed, uint64_t offset, int64_t lo, int64_t hi) {
  if (n > 0)
    FC_LAUNCH(rand_int_kernel, blocks_for((n + 3) / 4), kThreads, 0, stream(), y, n, seed, offset, lo,
              static_cast<uint64_t>(hi - lo));
}

}  // namespace fc::cuda
