#pragma once
// 2-D histograms of point clouds, for density panels of samples.
#include <cstddef>
#include <vector>

#include "viz/ticks.hpp"

namespace fc::viz {

struct Histogram2D {
  int bins_x = 0, bins_y = 0;
  Range x, y;
  // bins_y rows of bins_x counts; row 0 holds the smallest y (a grid, not an image).
  std::vector<float> counts;
  size_t in_range = 0;  // points counted (the rest fell outside the ranges)
  float max_count = 0;
};

// Counts n points (xy interleaved: x0, y0, x1, y1, ...) in a bins_x x bins_y grid over
// x and y. Points outside, or not finite, are dropped; hi edges are inclusive.
Histogram2D histogram2d(const float* xy, size_t n, int bins_x, int bins_y, Range x, Range y);

}  // namespace fc::viz
