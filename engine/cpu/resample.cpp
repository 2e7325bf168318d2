// Nearest 2x upsampling, 2x2 block sums (average pooling, and upsampling's adjoint),
// and the row gather / scatter-add of an embedding lookup.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/parallel.hpp"

namespace fc::cpu {

void upsample2x(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  parallel_for(planes * h, kElementwiseGrain / (4 * w + 1), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {  // row = plane * h + iy
      const float* xr = x + row * w;
      float* y0 = y + row * 4 * w;  // output rows 2 iy and 2 iy + 1 of the plane
      float* y1 = y0 + 2 * w;
      for (int64_t ix = 0; ix < w; ++ix) {
        float v = xr[ix] * scale;
        y0[2 * ix] = y0[2 * ix + 1] = y1[2 * ix] = y1[2 * ix + 1] = v;
      }
    }
  });
}

void pool2x_sum(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale) {
  const int64_t ho = h / 2, wo = w / 2;
  parallel_for(planes * ho, kElementwiseGrain / (4 * wo + 1), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {  // row = plane * ho + oy
      const float* x0 = x + row * 2 * w;
      const float* x1 = x0 + w;
      float* yr = y + row * wo;
      for (int64_t ox = 0; ox < wo; ++ox)
        yr[ox] = scale * (x0[2 * ox] + x0[2 * ox + 1] + x1[2 * ox] + x1[2 * ox + 1]);
    }
  });
}

namespace {
// Whether id names a row of a table of `rows` rows (NaN fails every comparison).
bool valid_row(float id, int64_t rows) {
  return id >= 0.f && id < static_cast<float>(rows) && id == std::floor(id);
}
}  // namespace

void gather_rows(const float* table, int64_t rows, const float* ids, float* y, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    if (valid_row(ids[i], rows))
      std::memcpy(y + i * d, table + static_cast<int64_t>(ids[i]) * d, sizeof(float) * d);
    else
      std::fill(y + i * d, y + (i + 1) * d, std::numeric_limits<float>::quiet_NaN());
  }
}

void scatter_add_rows(const float* gy, const float* ids, float* gtable, int64_t rows, int64_t n, int64_t d) {
  // Serial: two rows with the same id add into the same place.
  for (int64_t i = 0; i < n; ++i) {
    if (!valid_row(ids[i], rows)) continue;
    float* row = gtable + static_cast<int64_t>(ids[i]) * d;
    const float* g = gy + i * d;
    for (int64_t j = 0; j < d; ++j) row[j] += g[j];
  }
}

}  // namespace fc::cpu
