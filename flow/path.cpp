#include "flow/path.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/ops.hpp"

namespace fc::flow {

Tensor time_coefficient(const Tensor& t, const std::function<double(double)>& f, Device on) {
  std::vector<float> v = t.to_vector();
  for (float& x : v) x = static_cast<float>(f(static_cast<double>(x)));
  return Tensor::from_vector(v, t.shape(), on);
}

Tensor cfm_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& time, float sigma_min) {
  FC_CHECK(x0.shape() == x1.shape(), "cfm path: x0 " << x0.shape() << " and x1 " << x1.shape()
                                                     << " differ");
  const Tensor t = time.to(x0.device());  // (itself when it is there already)
  // (1 - (1 - σ) t) = 1 + (σ - 1) t
  Tensor w0 = add_scalar(mul_scalar(t, sigma_min - 1.f), 1.f);
  return add(mul(t, x1), mul(w0, x0));
}

Tensor cfm_target(const Tensor& x0, const Tensor& x1, float sigma_min) {
  if (sigma_min == 0.f) return sub(x1, x0);
  return sub(x1, mul_scalar(x0, 1.f - sigma_min));
}

Tensor affine_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, const Scheduler& s) {
  if (s.is_condot()) return cfm_interpolate(x0, x1, t, static_cast<float>(s.sigma_min()));
  FC_CHECK(x0.shape() == x1.shape(), s.name() << " path: x0 " << x0.shape() << " and x1 "
                                              << x1.shape() << " differ");
  Tensor alpha = time_coefficient(t, [&](double x) { return s.at(x).alpha; }, x0.device());
  Tensor sigma = time_coefficient(t, [&](double x) { return s.at(x).sigma; }, x0.device());
  return add(mul(alpha, x1), mul(sigma, x0));
}

Tensor affine_target(const Tensor& x0, const Tensor& x1, const Tensor& t, const Scheduler& s) {
  if (s.is_condot()) return cfm_target(x0, x1, static_cast<float>(s.sigma_min()));
  FC_CHECK(x0.shape() == x1.shape(), s.name() << " path: x0 " << x0.shape() << " and x1 "
                                              << x1.shape() << " differ");
  Tensor d_alpha = time_coefficient(t, [&](double x) { return s.at(x).d_alpha; }, x0.device());
  Tensor d_sigma = time_coefficient(t, [&](double x) { return s.at(x).d_sigma; }, x0.device());
  return add(mul(d_alpha, x1), mul(d_sigma, x0));
}

namespace {

void check_bridge(const Tensor& x0, const Tensor& x1, const Tensor& eps, float sigma) {
  FC_CHECK(x0.shape() == x1.shape() && x0.shape() == eps.shape(),
           "sb path: x0 " << x0.shape() << ", x1 " << x1.shape() << " and eps " << eps.shape()
                          << " must agree");
  FC_CHECK(sigma >= 0 && std::isfinite(sigma), "sb path: sigma must be >= 0, got " << sigma);
}

}  // namespace

Tensor sb_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& eps,
                      float sigma) {
  check_bridge(x0, x1, eps, sigma);
  Tensor spread = time_coefficient(t, [sigma](double s) {
    s = std::clamp(s, 1e-5, 1 - 1e-5);
    return sigma * std::sqrt(s * (1 - s));
  }, x0.device());
  return add(cfm_interpolate(x0, x1, t, 0.f), mul(spread, eps));
}

Tensor sb_target(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& eps,
                 float sigma) {
  check_bridge(x0, x1, eps, sigma);
  Tensor d_spread = time_coefficient(t, [sigma](double s) {
    s = std::clamp(s, 1e-5, 1 - 1e-5);
    return sigma * (1 - 2 * s) / (2 * std::sqrt(s * (1 - s)));
  }, x0.device());
  return add(sub(x1, x0), mul(d_spread, eps));
}

}  // namespace fc::flow
