#pragma once
// Branch-free float exp that the compiler vectorises inside `omp simd` loops (libm's
// expf is a scalar call, which would make SiLU the slowest op of the MLP). Cephes'
// polynomial on [-ln2/2, ln2/2] with a two-part ln2: about 1 ulp.
// This is the fast code; the code to read is engine/unary_formulas.hpp's unary_value
// with libm's expf, which the CUDA backend and the emulated device run.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fc::cpu {

// c0 + c1 x + c2 x^2 + ..., by Horner's rule.
template <class... C>
inline float horner(float x, float c0, C... rest) {
  if constexpr (sizeof...(rest) == 0) {
    return c0;
  } else {
    return horner(x, rest...) * x + c0;
  }
}

// p * 2^n for an integer n in [-126, 127], by writing n into a float's exponent bits.
inline float times_pow2(float p, float n) {
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

// exp(x) for x already clamped to [-87.34, 88.38]: Cephes' polynomial on
// [-ln2/2, ln2/2] after the reduction by n ln2, scaled by 2^n.
inline float exp_in_range(float x) {
  // Round x / ln2 to the nearest integer by adding and removing 1.5 * 2^23 (floorf
  // would be a libm call unless -fno-trapping-math, and block vectorisation).
  constexpr float kRound = 12582912.f;
  float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = horner(r, 5.0000001201e-1f, 1.6666665459e-1f, 4.1665795894e-2f, 8.3334519073e-3f,
                   1.3981999507e-3f, 1.9875691500e-4f);
  p = p * r * r + r + 1.f;
  return times_pow2(p, n);
}

inline float fast_exp(float x) {
  const float x_in = x;
  x = x < 88.3762626647949f ? x : 88.3762626647949f;
  x = x > -87.3365447504f ? x : -87.3365447504f;
  const float p = exp_in_range(x);
  // Outside the clamps: overflow to inf, and flush what would be subnormal to 0. The
  // clamps turn NaN into a number; a NaN must come out as NaN.
  float y = x_in > 88.7228394f ? __builtin_inff() : (x_in < -87.3365447504f ? 0.f : p);
  return x_in == x_in ? y : x_in;
}

inline float fast_sigmoid(float x) { return 1.f / (1.f + fast_exp(-x)); }

// fast_exp for x <= 0 (a rounding error above 0 is fine), the softmax case: without
// the overflow branch and the flush to zero it runs 1.5x faster; below -87.3 it gives
// 1.2e-38 instead of 0. NaN still comes out as NaN.
inline float fast_exp_nonpositive(float x) {
  const float y = exp_in_range(x > -87.3365447504f ? x : -87.3365447504f);
  return x == x ? y : x;
}

// 2^x for x <= 0 (a rounding error above 0 is fine): 2^round(x) times a degree-6
// minimax polynomial for 2^f on [-1/2, 1/2], within 1e-7 relative. No reduction by ln2
// is needed, so it takes 30% less time than fast_exp_nonpositive: attention scales its
// scores by log2(e) inside the sgemm (for free) and uses this. Below -126 it gives
// 2^-126; NaN comes out as NaN.
inline float fast_exp2_nonpositive(float x) {
  const float x_in = x;
  x = x > -126.f ? x : -126.f;
  constexpr float kRound = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x + kRound) - kRound;
  const float f = x - n;
  const float p = horner(f, 1.f, 6.931472028550421e-1f, 2.402264791363012e-1f,
                         5.550332471162809e-2f, 9.618437357674640e-3f, 1.339887440266574e-3f,
                         1.535336188319500e-4f);
  const float y = times_pow2(p, n);
  return x_in == x_in ? y : x_in;
}

// Replaces row[0..n) by Exp(row - max) (Exp: one of the nonpositive exps above), the
// unnormalised softmax, and returns the sum; *max_out gets the maximum. The log-sum-exp
// is then *max_out + log(sum), in the base of Exp.
template <float (*Exp)(float)>
inline float exp_minus_max(float* row, int64_t n, float* max_out) {
  float m = -__builtin_inff();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = row[i] > m ? row[i] : m;
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    row[i] = Exp(row[i] - m);
    sum += row[i];
  }
  *max_out = m;
  return sum;
}

// Replaces row[0..n) by its softmax (shifted by the maximum, so large inputs do not
// overflow) and returns the row's log-sum-exp.
inline float softmax_in_place(float* row, int64_t n) {
  float m;
  const float sum = exp_minus_max<fast_exp_nonpositive>(row, n, &m);
  const float inv = 1.f / sum;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) row[i] *= inv;
  return m + std::log(sum);
}

}  // namespace fc::cpu
