// Straightness (Liu et al. eq. 3) on fields whose trajectories are known in closed form:
// 0 for a straight constant-speed flow, |c|²/3 for a straight line run at speed 2t,
// and the integral for the contracting field v = -x.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/ops.hpp"
#include "flow/straightness.hpp"

using namespace fc;
using namespace fc::flow;

namespace {

Tensor points() { return Tensor::from_vector({0.5f, -1.f, 2.f, 0.25f, -1.5f, 1.f, 0.f, 3.f}, Shape{4, 2}); }

double mean_sq_norm(const Tensor& x) {
  auto v = x.to_vector();
  double s = 0;
  for (float f : v) s += double(f) * f;
  return s / static_cast<double>(x.dim(0));
}

StraightnessOptions rk4() {
  StraightnessOptions o;
  o.ode.method = Method::RK4;
  o.ode.step_size = 0.01f;
  return o;
}

}  // namespace

TEST_CASE("straightness of a constant field is 0", "[straightness]") {
  VelocityFn v = [](const Tensor& x, float) {
    return add(mul_scalar(x, 0.f), Tensor::from_vector({1.5f, -0.5f}, Shape{1, 2}));
  };
  CHECK(straightness(v, points(), rk4()) < 1e-10);
}

TEST_CASE("straightness sees speed changes on straight lines", "[straightness]") {
  // v = 2t c: Z1 - Z0 = c, gap c(1 - 2t), S = |c|² ∫(1 - 2t)² dt = |c|²/3.
  VelocityFn v = [](const Tensor& x, float t) {
    return add(mul_scalar(x, 0.f), Tensor::from_vector({2 * t * 3.f, 2 * t * 4.f}, Shape{1, 2}));
  };
  double s = straightness(v, points(), rk4());
  CHECK(s == Approx(25.0 / 3).epsilon(1e-3));  // trapezoid error at 101 points ~ 1e-4
}

TEST_CASE("straightness of v = -x matches its closed form", "[straightness]") {
  // Z_t = Z0 e^{-t}: gap = Z0 (e^{-t} - b) with b = 1 - e^{-1}, so
  // S = E|Z0|² ((1 - e^{-2})/2 - b²).
  VelocityFn v = [](const Tensor& x, float) { return mul_scalar(x, -1.f); };
  double b = 1 - std::exp(-1.0);
  double want = mean_sq_norm(points()) * ((1 - std::exp(-2.0)) / 2 - b * b);
  CHECK(straightness(v, points(), rk4()) == Approx(want).epsilon(1e-3));
  StraightnessOptions coarse = rk4();
  coarse.time_points = 1;
  CHECK_THROWS_AS(straightness(v, points(), coarse), Error);
}
