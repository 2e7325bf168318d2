#include "flow/path.hpp"

#include "engine/ops.hpp"

namespace fc::flow {

Tensor cfm_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, float sigma_min) {
  FC_CHECK(x0.shape() == x1.shape(), "cfm path: x0 " << x0.shape() << " and x1 " << x1.shape()
                                                     << " differ");
  // (1 - (1 - σ) t) = 1 + (σ - 1) t
  Tensor w0 = add_scalar(mul_scalar(t, sigma_min - 1.f), 1.f);
  return add(mul(t, x1), mul(w0, x0));
}

Tensor cfm_target(const Tensor& x0, const Tensor& x1, float sigma_min) {
  if (sigma_min == 0.f) return sub(x1, x0);
  return sub(x1, mul_scalar(x0, 1.f - sigma_min));
}

}  // namespace fc::flow
