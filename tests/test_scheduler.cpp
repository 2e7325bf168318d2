// Affine probability paths and their schedulers (flow/scheduler): α, σ and their
// derivatives against finite differences, the conditional velocity moving x0 to x1,
// the likelihood of a closed-form flow under another path, and a model sampled under
// another scheduler through the schedule transform landing where it did. Then the
// Schrödinger-bridge path: its mean, variance and velocity.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "flow/likelihood.hpp"
#include "flow/ode.hpp"
#include "flow/path.hpp"
#include "flow/scheduler.hpp"
#include "nn/mlp.hpp"

using namespace fc;
using namespace fc::flow;

namespace {

std::vector<Scheduler> all_schedulers() {
  return {Scheduler::parse("condot"), Scheduler::parse("condot", 0.1), Scheduler::parse("poly:2"),
          Scheduler::parse("poly:0.5"), Scheduler::parse("linear-vp"), Scheduler::parse("cosine"),
          Scheduler::parse("vp")};
}

// The marginal velocity of an affine path from N(0, I) noise to data N(mu, tau^2 I), in
// closed form: x_t ~ N(α mu, (α² tau² + σ²) I), and u = α' E[x1 | x] + σ' E[x0 | x].
VelocityFn gaussian_marginal_velocity(const Scheduler& s, std::vector<float> mu, float tau) {
  return [s, mu, tau](const Tensor& x, float t) {
    const SchedulerValues v = s.at(t);
    const double var = v.alpha * v.alpha * tau * tau + v.sigma * v.sigma;
    Tensor centre = Tensor::from_vector(mu, Shape{1, static_cast<int64_t>(mu.size())}) *
                    static_cast<float>(v.alpha);
    Tensor dev = x - centre;  // x - α mu
    Tensor e1 = dev * static_cast<float>(v.alpha * tau * tau / var) +
                Tensor::from_vector(mu, Shape{1, static_cast<int64_t>(mu.size())});
    Tensor e0 = dev * static_cast<float>(v.sigma / var);
    return e1 * static_cast<float>(v.d_alpha) + e0 * static_cast<float>(v.d_sigma);
  };
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(double(x[i]) - y[i]));
  return m;
}

// A velocity MLP [x, t] -> 16 -> 16 -> 16 -> 2 with every weight drawn from N(0, 0.5²)
// (its output layer would start at zero), as a model whose field is not trivial.
struct RandomMlp {
  std::shared_ptr<nn::MLP> mlp;
  VelocityFn velocity;
};
RandomMlp random_mlp(uint64_t seed) {
  Generator init(seed);
  nn::MLPConfig cfg;
  cfg.hidden = 16;
  auto mlp = std::make_shared<nn::MLP>(cfg, init);
  for (Tensor* p : mlp->parameters()) p->copy_(init.normal(p->shape(), 0.f, 0.5f));
  return {mlp, [mlp](const Tensor& x, float t) {
            return mlp->forward(concat({x, Tensor::full(Shape{x.dim(0), 1}, t)}, 1));
          }};
}

}  // namespace

TEST_CASE("schedulers: α, σ and their derivatives agree with finite differences", "[scheduler]") {
  for (const Scheduler& s : all_schedulers()) {
    INFO(s.name() << " (sigma_min " << s.sigma_min() << ")");
    for (double t : {0.05, 0.2, 0.37, 0.5, 0.66, 0.8, 0.93}) {
      INFO("t = " << t);
      const double h = 1e-6;
      SchedulerValues v = s.at(t), lo = s.at(t - h), hi = s.at(t + h);
      CHECK(v.d_alpha == Approx((hi.alpha - lo.alpha) / (2 * h)).epsilon(1e-6).margin(1e-7));
      CHECK(v.d_sigma == Approx((hi.sigma - lo.sigma) / (2 * h)).epsilon(1e-6).margin(1e-7));
      // α/σ grows with t, and snr_inverse undoes it.
      CHECK(hi.alpha / hi.sigma > lo.alpha / lo.sigma);
      CHECK(s.snr_inverse(v.alpha / v.sigma) == Approx(t).margin(1e-9));
    }
    // Ends: data at t = 1 (σmin of noise left for condot), noise at t = 0 (VP's α(0) is
    // exp(-5.025), as in the SDE).
    CHECK(s.at(1).alpha == Approx(1).margin(1e-12));
    CHECK(s.at(1).sigma == Approx(s.sigma_min()).margin(1e-7));
    CHECK(s.at(0).sigma == Approx(1).margin(s.kind() == Scheduler::Kind::VP ? 1e-4 : 1e-12));
    CHECK(s.at(0).alpha == Approx(s.kind() == Scheduler::Kind::VP ? std::exp(-5.025) : 0).margin(1e-12));
  }
  CHECK(Scheduler::parse("vp").snr_inverse(0) == 0);
  CHECK(Scheduler::parse("cosine").snr_inverse(INFINITY) == 1);
}

TEST_CASE("schedulers: names round trip and bad specs fail in one line", "[scheduler]") {
  for (const Scheduler& s : all_schedulers()) CHECK(Scheduler::parse(s.name()).name() == s.name());
  CHECK(Scheduler::parse("poly:3").name() == "poly:3");
  for (const char* bad : {"", "poly", "poly:", "poly:0", "poly:-2", "poly:x", "poly:2x", "Cosine", "ot"}) {
    INFO("'" << bad << "'");
    try {
      Scheduler::parse(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      std::string m = e.what();
      CHECK(m.find('\n') == std::string::npos);
      CHECK((m.find("path") != std::string::npos || m.find("poly") != std::string::npos));
    }
  }
  CHECK_THROWS_AS(Scheduler::parse("condot", 1.0), Error);
}

TEST_CASE("affine paths: the conditional velocity moves x0 to x1 along the path", "[scheduler]") {
  Generator gen(5);
  Tensor x0 = gen.normal(Shape{6, 2}), x1 = gen.normal(Shape{6, 2}, 2.f, 0.5f);
  for (const Scheduler& s : all_schedulers()) {
    INFO(s.name());
    // dx/dt = α'(t) x1 + σ'(t) x0 for fixed x0, x1, from the path's point at t = 0.
    VelocityFn u = [&](const Tensor& x, float t) {
      return affine_target(x0, x1, Tensor::full(Shape{x.dim(0), 1}, t), s);
    };
    // From t = 0.001 to 0.999: poly:0.5's α' is infinite at 0, linear-vp's σ' at 1.
    const float a = 0.001f, b = 0.999f;
    Tensor start = affine_interpolate(x0, x1, Tensor::full(Shape{6, 1}, a), s);
    OdeOptions fine;
    fine.method = Method::RK4;
    fine.step_size = 1e-3f;
    Tensor end = odeint(u, start, {a, b}, fine).states.back();
    CHECK(max_abs_diff(end, affine_interpolate(x0, x1, Tensor::full(Shape{6, 1}, b), s)) < 2e-4);
    if (s.kind() != Scheduler::Kind::VP)
      CHECK(max_abs_diff(affine_interpolate(x0, x1, Tensor::full(Shape{6, 1}, 0.f), s), x0) < 1e-6);
    if (s.sigma_min() == 0)
      CHECK(max_abs_diff(affine_interpolate(x0, x1, Tensor::full(Shape{6, 1}, 1.f), s), x1) < 1e-6);
  }
}

TEST_CASE("affine paths: the likelihood of a closed-form flow under the cosine path", "[scheduler][likelihood]") {
  // Data N(mu, tau^2 I): the flow of its marginal velocity maps N(0, I) onto it exactly,
  // so the likelihood must be the Gaussian's log-density.
  const std::vector<float> mu = {1.5f, -0.5f};
  const float tau = 0.6f;
  // (linear-vp is left out: its σ' is infinite at t = 1, where the integration starts.)
  for (const char* path : {"cosine", "poly:2"}) {
    INFO(path);
    VelocityFn v = gaussian_marginal_velocity(Scheduler::parse(path), mu, tau);
    Generator gen(7);
    Tensor x1 = gen.normal(Shape{16, 2}, 0.f, tau) + Tensor::from_vector(mu, Shape{1, 2});
    LikelihoodOptions o;
    o.ode.method = Method::RK4;
    o.ode.step_size = 0.005f;
    std::vector<float> got = log_likelihood(v, x1, o).log_prob.to_vector(), x = x1.to_vector();
    for (int i = 0; i < 16; ++i) {
      double want = 0;
      for (int d = 0; d < 2; ++d) {
        double z = (x[2 * i + d] - mu[d]) / tau;
        want += -0.5 * z * z - std::log(tau) - 0.5 * std::log(2 * M_PI);
      }
      CHECK(got[i] == Approx(want).margin(2e-3));
    }
  }
}

TEST_CASE("schedule transform: a condot model sampled under another path lands on the same samples",
          "[scheduler]") {
  const Scheduler condot = Scheduler::parse("condot");
  OdeOptions tight;
  tight.method = Method::Dopri5;
  tight.atol = tight.rtol = 1e-7f;

  SECTION("the transformed marginal velocity is the other path's marginal velocity") {
    const std::vector<float> mu = {1.f, 2.f};
    VelocityFn trained = gaussian_marginal_velocity(condot, mu, 0.5f);
    for (const char* path : {"cosine", "linear-vp", "poly:2", "vp"}) {
      INFO(path);
      Scheduler target = Scheduler::parse(path);
      VelocityFn transformed = schedule_transformed_velocity(trained, condot, target);
      VelocityFn direct = gaussian_marginal_velocity(target, mu, 0.5f);
      Generator gen(11);
      Tensor x = gen.normal(Shape{8, 2});
      for (float r : {0.1f, 0.4f, 0.75f, 0.95f}) {
        INFO("r = " << r);
        Tensor a = transformed(x, r), b = direct(x, r);
        CHECK(max_abs_diff(a, b) < 2e-4 * (1 + std::sqrt(double(fc::sum(square(b)).item()))));
      }
    }
  }

  SECTION("a random MLP as the model: same x1 from the same x0 under cosine") {
    RandomMlp model = random_mlp(3);
    const VelocityFn& v = model.velocity;
    NoGradGuard no_grad;
    Generator gen(4);
    Tensor x0 = gen.normal(Shape{32, 2});
    Tensor want = odeint(v, x0, {0.f, 1.f}, tight).states.back();
    // (linear-vp is left out here: its s(r) has a square-root singularity at r = 1, where
    // the end point then depends on how the adaptive solver meets it, 1e-3 to 3e-3 between
    // builds; the closed-form section above checks its transform away from the end.)
    for (const char* path : {"cosine", "poly:3"}) {
      INFO(path);
      VelocityFn vt = schedule_transformed_velocity(v, condot, Scheduler::parse(path));
      Tensor got = odeint(vt, x0, {0.f, 1.f}, tight).states.back();
      CHECK(max_abs_diff(got, want) < 1e-3);
      // The paths in between differ: the check above is not trivially true.
      Tensor mid_a = odeint(v, x0, {0.f, 0.5f}, tight).states.back();
      Tensor mid_b = odeint(vt, x0, {0.f, 0.5f}, tight).states.back();
      CHECK(max_abs_diff(mid_a, mid_b) > 1e-2);
    }
  }

  CHECK_THROWS_AS(schedule_transformed_velocity(VelocityFn(), Scheduler::parse("condot", 0.1),
                                                Scheduler::parse("cosine")),
                  Error);
}

TEST_CASE("schedule transform: finite at both ends for every pair of paths, also from a path with α'(0) = 0",
          "[scheduler]") {
  // Trained under poly:2 (α' = 2t: s(r) grows like sqrt(r) from 0) and sampled under
  // cosine, the transform was 0 x inf = NaN at r = 0, where every solver starts: all
  // samples NaN with exit 0 (issue 26).
  RandomMlp model = random_mlp(5);
  const VelocityFn& v = model.velocity;
  NoGradGuard no_grad;
  Tensor x = Generator(6).normal(Shape{16, 2});
  OdeOptions midpoint;
  midpoint.method = Method::Midpoint;
  midpoint.step_size = 0.05f;
  auto finite = [](const Tensor& t) {
    for (float e : t.to_vector())
      if (!std::isfinite(e)) return false;
    return true;
  };
  for (const char* from : {"condot", "poly:2", "poly:0.5", "linear-vp", "cosine", "vp"})
    for (const char* to : {"condot", "poly:2", "poly:0.5", "linear-vp", "cosine", "vp"}) {
      INFO(from << " -> " << to);
      VelocityFn vt = schedule_transformed_velocity(v, Scheduler::parse(from), Scheduler::parse(to));
      for (float r : {0.f, 1e-7f, 0.5f, 1.f - 1e-7f, 1.f}) {
        INFO("r = " << r);
        CHECK(finite(vt(x, r)));
      }
      CHECK(finite(odeint(vt, x, {0.f, 1.f}, midpoint).states.back()));
    }
}

TEST_CASE("Schrödinger bridge: mean t x1 + (1-t) x0, variance S² t (1-t), velocity d x_t / dt",
          "[scheduler][sb]") {
  const int64_t n = 200000;
  const float sigma = 0.7f;
  Tensor x0 = Tensor::full(Shape{n, 1}, -1.f), x1 = Tensor::full(Shape{n, 1}, 2.f);
  Generator gen(9);
  Tensor eps = gen.normal(Shape{n, 1});
  for (float t : {0.1f, 0.3f, 0.5f, 0.9f}) {
    INFO("t = " << t);
    Tensor tt = Tensor::full(Shape{n, 1}, t);
    std::vector<float> x = sb_interpolate(x0, x1, tt, eps, sigma).to_vector();
    double mean = 0, var = 0;
    for (float v : x) mean += v / n;
    for (float v : x) var += (v - mean) * (v - mean) / (n - 1);
    CHECK(mean == Approx(t * 2 + (1 - t) * -1).margin(5 * sigma * std::sqrt(t * (1 - t) / n)));
    CHECK(var == Approx(sigma * sigma * t * (1 - t)).epsilon(0.02));
    // The target is the time derivative of the bridge for fixed (x0, x1, eps).
    const float h = 1e-3f;
    Tensor fd = (sb_interpolate(x0, x1, Tensor::full(Shape{n, 1}, t + h), eps, sigma) -
                 sb_interpolate(x0, x1, Tensor::full(Shape{n, 1}, t - h), eps, sigma)) *
                (0.5f / h);
    CHECK(max_abs_diff(fd, sb_target(x0, x1, tt, eps, sigma)) < 2e-2);
  }
  // At the ends the bridge is pinned, and t = 0 gives finite values.
  Tensor zero = Tensor::full(Shape{n, 1}, 0.f);
  CHECK(max_abs_diff(sb_interpolate(x0, x1, zero, eps, sigma), x0) < 2e-2);
  int non_finite = 0;
  for (float v : sb_target(x0, x1, zero, eps, sigma).to_vector()) non_finite += !std::isfinite(v);
  CHECK(non_finite == 0);
  // sigma = 0 is the straight line.
  CHECK(max_abs_diff(sb_target(x0, x1, Tensor::full(Shape{n, 1}, 0.3f), eps, 0.f), x1 - x0) == 0);
  CHECK_THROWS_AS(sb_interpolate(x0, x1, zero, gen.normal(Shape{n, 2}), sigma), Error);
}
