#include "viz/histogram.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

namespace fc::viz {

Histogram2D histogram2d(const float* xy, size_t n, int bins_x, int bins_y, Range x, Range y) {
  FC_CHECK(bins_x > 0 && bins_y > 0, "histogram2d: bins must be positive, got " << bins_x << "x" << bins_y);
  FC_CHECK(x.lo < x.hi && y.lo < y.hi, "histogram2d: empty range [" << x.lo << ", " << x.hi << "] x ["
                                                                    << y.lo << ", " << y.hi << "]");
  FC_CHECK(xy || n == 0, "histogram2d: null points");
  Histogram2D h;
  h.bins_x = bins_x;
  h.bins_y = bins_y;
  h.x = x;
  h.y = y;
  h.counts.assign(static_cast<size_t>(bins_x) * bins_y, 0.f);
  double sx = bins_x / (x.hi - x.lo), sy = bins_y / (y.hi - y.lo);
  for (size_t i = 0; i < n; ++i) {
    double px = xy[2 * i], py = xy[2 * i + 1];
    // Written as negations so that NaN is dropped too.
    if (!(px >= x.lo && px <= x.hi && py >= y.lo && py <= y.hi)) continue;
    int bx = std::min(static_cast<int>((px - x.lo) * sx), bins_x - 1);
    int by = std::min(static_cast<int>((py - y.lo) * sy), bins_y - 1);
    float& c = h.counts[static_cast<size_t>(by) * bins_x + bx];
    c += 1.f;
    h.max_count = std::max(h.max_count, c);
    ++h.in_range;
  }
  return h;
}

}  // namespace fc::viz
