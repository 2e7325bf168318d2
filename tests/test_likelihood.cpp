// Likelihood: for a linear velocity field v(x) = A x the flow is x_t = exp(A t) x0 and
// the log-density is known in closed form; exact and (averaged) Hutchinson estimates
// must agree with it. Plus the energy distance.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "flow/likelihood.hpp"
#include "flow/metrics.hpp"

using namespace fc;
using namespace fc::flow;

TEST_CASE("log-likelihood of a linear flow matches the closed form", "[likelihood]") {
  // v(x) = A x with A = diag(a1, a2) plus a rotation part: div v = trace(A) everywhere.
  // x1 = exp(A) x0, so log p1(x1) = log N(exp(-A) x1) - trace(A).
  const float a1 = 0.4f, a2 = -0.3f, w = 0.7f;
  Tensor at = Tensor::from_vector({a1, w, -w, a2}, Shape{2, 2});  // A^T for x @ A^T
  VelocityFn v = [&](const Tensor& x, float) { return matmul(x, at); };
  Generator gen(3);
  Tensor x1 = gen.normal(Shape{64, 2});
  // Reference: integrate back very accurately for x0, then apply the formula.
  OdeOptions accurate;
  accurate.method = Method::RK4;
  accurate.step_size = 0.001f;
  Tensor x0 = odeint(v, x1, {1.f, 0.f}, accurate).states.back();
  auto want = add_scalar(standard_normal_log_prob(x0), -(a1 + a2)).to_vector();

  LikelihoodOptions exact;
  exact.ode.method = Method::RK4;
  exact.ode.step_size = 0.01f;
  auto got = log_likelihood(v, x1, exact).log_prob.to_vector();
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-4));

  // Hutchinson with Rademacher probes: z^T A z = a1 z1^2 + a2 z2^2 = trace(A) exactly
  // for the diagonal part; the rotation part's off-diagonal terms cancel (w - w). So
  // the estimate is exact here too; a field with non-cancelling off-diagonals follows.
  LikelihoodOptions hutch = exact;
  hutch.hutchinson_probes = 10;
  auto got_h = log_likelihood(v, x1, hutch).log_prob.to_vector();
  for (size_t i = 0; i < want.size(); ++i) CHECK(got_h[i] == Approx(want[i]).margin(1e-4));
}

TEST_CASE("Hutchinson's estimate is unbiased and averages down", "[likelihood]") {
  // A non-symmetric A: single-probe estimates scatter, their average approaches trace.
  Tensor at = Tensor::from_vector({0.5f, 1.5f, 0.2f, -0.1f}, Shape{2, 2});
  VelocityFn v = [&](const Tensor& x, float) { return matmul(x, at); };
  Generator data(1), probes(2);
  Tensor x = data.normal(Shape{4000, 2});
  auto one = divergence(v, x, 0.f, 1, &probes).to_vector();
  auto ten = divergence(v, x, 0.f, 10, &probes).to_vector();
  auto exact = divergence(v, x, 0.f, 0, nullptr).to_vector();
  double m1 = 0, v1 = 0, v10 = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(exact[i] == Approx(0.4f).margin(1e-5));
    m1 += one[i];
    v1 += (one[i] - 0.4) * (one[i] - 0.4);
    v10 += (ten[i] - 0.4) * (ten[i] - 0.4);
  }
  m1 /= one.size();
  CHECK(m1 == Approx(0.4).margin(0.05));
  CHECK(v10 < 0.2 * v1);  // 10 probes: a tenth of the variance
}

TEST_CASE("energy distance separates distributions", "[metrics]") {
  Generator gen(9);
  Tensor a = gen.normal(Shape{2000, 2}), b = gen.normal(Shape{2000, 2});
  Tensor c = add_scalar(gen.normal(Shape{2000, 2}), 1.f);
  double same = energy_distance(a, b), shifted = energy_distance(a, c);
  CHECK(std::fabs(same) < 0.01);
  CHECK(shifted > 0.3);
  REQUIRE_THROWS_AS(energy_distance(a, Tensor::zeros(Shape{3, 3})), Error);
}
