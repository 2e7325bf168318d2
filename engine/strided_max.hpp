#pragma once
// The maximum of x[0], x[stride], ..., x[(n - 1) stride] (n >= 1) and its index, for
// max_axis on every device: the first maximum wins, and the first NaN over anything.
#include <cstdint>

#include "engine/host_device.hpp"

namespace fc {

FC_HOST_DEVICE inline float strided_max(const float* x, int64_t n, int64_t stride, int64_t* arg) {
  float best = x[0];
  *arg = 0;
  for (int64_t k = 1; k < n; ++k) {
    float v = x[k * stride];
    if (v > best || v != v) {
      best = v;
      *arg = k;
      if (v != v) break;
    }
  }
  return best;
}

}  // namespace fc
