// CPU copies for permute, broadcast, concat and slice.
#include <cstring>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/parallel.hpp"

namespace fc::cpu {

void strided_copy(const float* x, float* y, const StridedPlan& p) {
  int nd = p.ndim;
  if (nd == 0) {
    y[0] = x[0];
    return;
  }
  int64_t last = p.shape[nd - 1], rows = last ? p.n / last : 0, st = p.strides[nd - 1];
  parallel_for(rows, kElementwiseGrain / (last + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      int64_t off = 0, rem = r;
      for (int d = nd - 2; d >= 0; --d) {
        off += (rem % p.shape[d]) * p.strides[d];
        rem /= p.shape[d];
      }
      float* yr = y + r * last;
      const float* xr = x + off;
      if (st == 1) std::memcpy(yr, xr, static_cast<size_t>(last) * sizeof(float));
      else
        for (int64_t i = 0; i < last; ++i) yr[i] = xr[i * st];
    }
  });
}

void copy_rows(const float* x, int64_t xn, int64_t xs, float* y, int64_t yn, int64_t ys,
               int64_t outer, int64_t len, int64_t inner) {
  size_t block = static_cast<size_t>(len * inner) * sizeof(float);
  parallel_for(outer, kElementwiseGrain / (len * inner + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t o = s; o < e; ++o)
      std::memcpy(y + (o * yn + ys) * inner, x + (o * xn + xs) * inner, block);
  });
}

}  // namespace fc::cpu
