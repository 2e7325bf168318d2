// ODE solvers: convergence order on an ODE with a known solution, dopri5 meets its
// tolerance, output times are honoured, backward integration inverts forward.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/ops.hpp"
#include "flow/ode.hpp"

using namespace fc;
using namespace fc::flow;

namespace {

// dx/dt = -t x (Gaussian decay), x(t) = x(0) exp(-t^2 / 2); and a rotation
// dx/dt = A x with A = [[0, -1], [1, 0]], x(t) = R(t) x(0). Rows of x are points.
VelocityFn decay = [](const Tensor& x, float t) { return mul_scalar(x, -t); };
VelocityFn rotation = [](const Tensor& x, float) {
  Tensor a = Tensor::from_vector({0, 1, -1, 0}, Shape{2, 2});  // x @ A^T
  return matmul(x, a);
};

double decay_error(Method m, float h) {
  Tensor x0 = Tensor::from_vector({1.f, -2.f, 0.5f}, Shape{3, 1});
  OdeOptions o;
  o.method = m;
  o.step_size = h;
  OdeResult r = odeint(decay, x0, {0.f, 2.f}, o);
  auto got = r.states.back().to_vector();
  auto want = x0.to_vector();
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i)
    err = std::max(err, std::fabs(double(got[i]) - want[i] * std::exp(-2.0)));
  return err;
}

}  // namespace

TEST_CASE("fixed-step solvers converge at their order", "[ode]") {
  struct Case {
    Method m;
    double order;
    float h;
  };
  // Step sizes chosen so that float32 rounding stays well below the truncation error.
  for (Case c : {Case{Method::Euler, 1, 0.02f}, Case{Method::Midpoint, 2, 0.05f},
                 Case{Method::Heun, 2, 0.05f}, Case{Method::RK4, 4, 0.2f}}) {
    double e1 = decay_error(c.m, c.h), e2 = decay_error(c.m, c.h / 2);
    double observed = std::log2(e1 / e2);
    INFO(method_name(c.m) << ": errors " << e1 << ", " << e2 << ", observed order " << observed);
    CHECK(observed == Approx(c.order).margin(0.25));
    CHECK(method_order(c.m) == static_cast<int>(c.order));
  }
}

TEST_CASE("NFE counts: midpoint with 20 steps takes 40 evaluations", "[ode]") {
  Tensor x0 = Tensor::ones(Shape{4, 2});
  OdeOptions o;
  o.method = Method::Midpoint;
  o.step_size = 0.05f;
  OdeResult r = odeint(rotation, x0, {0.f, 1.f}, o);
  REQUIRE(r.steps == 20);
  REQUIRE(r.nfe == 40);
  o.method = Method::Euler;
  REQUIRE(odeint(rotation, x0, {0.f, 1.f}, o).nfe == 20);
  o.method = Method::RK4;
  REQUIRE(odeint(rotation, x0, {0.f, 1.f}, o).nfe == 80);
}

TEST_CASE("NFE counts the solver's evaluations; output times inside the last step cost output_nfe", "[ode]") {
  // The evolution strip asks for 10 times on [0, 1]: the ones inside the last step are
  // interpolated with the velocity at t = 1, which sampling alone never evaluates.
  Tensor x0 = Tensor::ones(Shape{4, 2});
  std::vector<float> strip;
  for (int i = 0; i < 10; ++i) strip.push_back(static_cast<float>(i) / 9);
  OdeOptions o;
  o.method = Method::Euler;
  o.step_size = 1.f;
  OdeResult one = odeint(rotation, x0, strip, o);
  CHECK(one.nfe == 1);  // one Euler step is one evaluation
  CHECK(one.output_nfe == 1);
  CHECK(odeint(rotation, x0, {0.f, 1.f}, o).output_nfe == 0);
  // The end state does not depend on the output times.
  CHECK(one.states.back().to_vector() == odeint(rotation, x0, {0.f, 1.f}, o).states.back().to_vector());
  o.method = Method::Midpoint;
  o.step_size = 0.05f;
  OdeResult mid = odeint(rotation, x0, strip, o);
  CHECK(mid.nfe == 40);
  CHECK(mid.output_nfe == 0);  // no output time inside (0.95, 1)
  o.method = Method::Heun;  // its second stage is at x + h f0, not at the step's end: both count
  CHECK(odeint(rotation, x0, strip, o).nfe == 40);
}

TEST_CASE("dopri5 meets its tolerance, at the end and at output times", "[ode]") {
  Tensor x0 = Tensor::from_vector({1.f, 0.f, 0.3f, -2.f}, Shape{2, 2});
  for (float tol : {1e-3f, 1e-5f}) {
    OdeOptions o;
    o.method = Method::Dopri5;
    o.atol = tol;
    o.rtol = tol;
    std::vector<float> times{0.f, 0.37f, 1.1f, 3.f};
    OdeResult r = odeint(rotation, x0, times, o);
    REQUIRE(r.states.size() == times.size());
    double worst = 0;
    for (size_t i = 0; i < times.size(); ++i) {
      float c = std::cos(times[i]), s = std::sin(times[i]);
      auto x = x0.to_vector(), got = r.states[i].to_vector();
      for (int p = 0; p < 2; ++p) {
        double wx = c * x[2 * p] - s * x[2 * p + 1], wy = s * x[2 * p] + c * x[2 * p + 1];
        worst = std::max({worst, std::fabs(got[2 * p] - wx), std::fabs(got[2 * p + 1] - wy)});
      }
    }
    INFO("tol " << tol << ": worst error " << worst << ", nfe " << r.nfe << ", steps " << r.steps);
    CHECK(worst < 20 * tol);  // global error of a few local tolerances
    CHECK(r.nfe > 6);
  }
  // Tighter tolerance costs more evaluations.
  OdeOptions loose, tight;
  loose.method = tight.method = Method::Dopri5;
  loose.atol = loose.rtol = 1e-3f;
  tight.atol = tight.rtol = 1e-6f;
  REQUIRE(odeint(rotation, x0, {0.f, 3.f}, tight).nfe > odeint(rotation, x0, {0.f, 3.f}, loose).nfe);
}

TEST_CASE("output times are honoured independently of the steps", "[ode]") {
  Tensor x0 = Tensor::from_vector({1.f, 0.f}, Shape{1, 2});
  for (Method m : {Method::Euler, Method::Midpoint, Method::Heun, Method::RK4}) {
    OdeOptions o;
    o.method = m;
    o.step_size = 0.01f;
    std::vector<float> times{0.f, 0.123f, 0.5f, 0.777f, 1.f};
    OdeResult r = odeint(rotation, x0, times, o);
    REQUIRE(r.states.size() == times.size());
    REQUIRE(r.steps == 100);  // the grid does not bend to the output times
    for (size_t i = 0; i < times.size(); ++i) {
      auto got = r.states[i].to_vector();
      INFO(method_name(m) << " at t = " << times[i]);
      CHECK(got[0] == Approx(std::cos(times[i])).margin(m == Method::Euler ? 1e-2 : 1e-4));
      CHECK(got[1] == Approx(std::sin(times[i])).margin(m == Method::Euler ? 1e-2 : 1e-4));
    }
  }
  // An explicit time grid.
  OdeOptions o;
  o.method = Method::RK4;
  o.grid = {0.f, 0.1f, 0.3f, 0.6f, 1.f};
  OdeResult r = odeint(rotation, x0, {0.f, 1.f}, o);
  REQUIRE(r.steps == 4);
  REQUIRE(r.states.back().to_vector()[0] == Approx(std::cos(1.f)).margin(1e-3));
}

TEST_CASE("backward integration inverts forward", "[ode]") {
  Tensor x0 = Tensor::from_vector({0.3f, -1.2f, 2.f, 0.7f}, Shape{2, 2});
  for (Method m : {Method::Midpoint, Method::RK4, Method::Dopri5}) {
    OdeOptions o;
    o.method = m;
    o.step_size = 0.01f;
    Tensor x1 = odeint(decay, x0, {0.f, 1.f}, o).states.back();
    Tensor back = odeint(decay, x1, {1.f, 0.f}, o).states.back();
    auto a = x0.to_vector(), b = back.to_vector();
    for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-4));
  }
}

TEST_CASE("ODE options given garbage are refused", "[ode]") {
  REQUIRE_THROWS_WITH(parse_method("rk45"), Catch::Contains("rk45") && Catch::Contains("dopri5"));
  Tensor x0 = Tensor::ones(Shape{1, 2});
  OdeOptions o;
  o.step_size = 0.f;
  REQUIRE_THROWS_AS(odeint(rotation, x0, {0.f, 1.f}, o), Error);
  o.step_size = 0.1f;
  REQUIRE_THROWS_AS(odeint(rotation, x0, {0.f, 1.f, 0.5f}, o), Error);
  o.grid = {0.f, 0.7f, 0.5f, 1.f};
  REQUIRE_THROWS_AS(odeint(rotation, x0, {0.f, 1.f}, o), Error);
  OdeOptions d;
  d.method = Method::Dopri5;
  d.max_steps = 3;
  d.atol = d.rtol = 1e-7f;
  REQUIRE_THROWS_WITH(odeint(rotation, x0, {0.f, 10.f}, d), Catch::Contains("gave up"));
}
