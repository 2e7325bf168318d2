#pragma once
// The conditional flow matching path (Lipman et al. 2023, eq. 20-23) with σmin:
//   x_t = t x1 + (1 - (1 - σmin) t) x0,   u_t = x1 - (1 - σmin) x0.
// σmin = 0 is the straight line of rectified flow. t broadcasts against x (e.g. t is
// [N, 1] for points [N, 2], or [N, 1, 1, 1] for images).
#include "engine/tensor.hpp"

namespace fc::flow {

Tensor cfm_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, float sigma_min);
Tensor cfm_target(const Tensor& x0, const Tensor& x1, float sigma_min);

}  // namespace fc::flow
