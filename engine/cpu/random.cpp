// CPU random fills: element i comes from Philox block offset + i/4, lane i%4.
#include <cmath>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/parallel.hpp"
#include "engine/philox.hpp"

namespace fc::cpu {

namespace {
template <class F>
void per_block(int64_t n, uint64_t seed, uint64_t offset, F f) {
  int64_t blocks = (n + 3) / 4;
  parallel_for(blocks, 4096, [&](int64_t s, int64_t e) {
    for (int64_t b = s; b < e; ++b) f(b, philox4x32_10(offset + static_cast<uint64_t>(b), seed));
  });
}
}  // namespace

void rand_uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  per_block(n, seed, offset, [&](int64_t b, const Philox4& r) {
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) {
      // One fused multiply-add, written out so that every compiler (and the GPU) rounds
      // the same way.
      float v = std::fma(hi - lo, philox_unit(r.v[l]), lo);
      y[b * 4 + l] = v < hi ? v : lo;  // rounding must not reach hi
    }
  });
}

void rand_normal(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  // Box-Muller on lanes (0, 1) and (2, 3).
  per_block(n, seed, offset, [&](int64_t b, const Philox4& r) {
    float z[4];
    for (int pair = 0; pair < 2; ++pair) {
      float u1 = philox_unit_open0(r.v[2 * pair]), u2 = philox_unit(r.v[2 * pair + 1]);
      float rad = std::sqrt(-2.f * std::log(u1));
      float th = 6.28318530717958647f * u2;
      z[2 * pair] = rad * std::cos(th);
      z[2 * pair + 1] = rad * std::sin(th);
    }
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) y[b * 4 + l] = std::fma(std, z[l], mean);
  });
}

void rand_int(float* y, int64_t n, uint64_t seed, uint64_t offset, int64_t lo, int64_t hi) {
  uint64_t range = static_cast<uint64_t>(hi - lo);
  per_block(n, seed, offset, [&](int64_t b, const Philox4& r) {
    for (int l = 0; l < 4 && b * 4 + l < n; ++l) {
      // Multiply-shift maps 32 random bits onto [0, range) (Lemire).
      uint64_t k = (static_cast<uint64_t>(r.v[l]) * range) >> 32;
      y[b * 4 + l] = static_cast<float>(lo + static_cast<int64_t>(k));
    }
  });
}

}  // namespace fc::cpu
