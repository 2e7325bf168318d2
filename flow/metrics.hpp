#pragma once
// Sample-quality metrics for point clouds.
#include <cstdint>

#include "engine/tensor.hpp"

namespace fc::flow {

// Energy distance (Székely & Rizzo) between the distributions of the rows of a [N, D]
// and b [M, D]: 2 E|X - Y| - E|X - X'| - E|Y - Y'|, with the within-sample terms
// over distinct pairs (U-statistics). Zero only for equal distributions; larger is
// worse. Uses at most max_points rows of each (the first ones).
double energy_distance(const Tensor& a, const Tensor& b, int64_t max_points = 5000);

}  // namespace fc::flow
