// Conditional flow matching on a density defined right here, using flowcpp as a library
// (only its installed headers and libflowcpp.a):
//
//   c++ -std=c++17 cfm_custom_density.cpp $(pkg-config --cflags --libs flowcpp)
//   ./a.out --iterations 2000 --out ring.npy
//
// The density is a ring of radius 3 with a little radial noise. The model is the
// reference's velocity MLP [x, t] -> H -> H -> H -> 2 (SiLU); the loss is the CFM loss
// with the straight path x_t = (1 - t) x0 + t x1 and target x1 - x0. Sampling
// integrates dx/dt = v(x, t) from N(0, I) at t = 0 to t = 1 with the midpoint rule.
#include <cmath>
#include <cstdio>

#include "apps/cli/main_guard.hpp"
#include "apps/cli/options.hpp"  // command-line helpers: --help, one-line errors
#include "datasets/npy.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "flow/ode.hpp"
#include "flow/path.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"

using namespace fc;

// n points of the ring: angle uniform, radius 3 + N(0, 0.1^2).
Tensor sample_ring(int64_t n, Generator& gen) {
  Tensor angle = gen.uniform(Shape{n, 1}, 0.f, 2.f * static_cast<float>(M_PI));
  Tensor radius = gen.normal(Shape{n, 1}, 3.f, 0.1f);
  return concat({radius * fc::cos(angle), radius * fc::sin(angle)}, 1);
}

// The model as a velocity field: v(x, t) = mlp([x, t]).
flow::VelocityFn velocity(nn::MLP& mlp) {
  return [&mlp](const Tensor& x, float t) {
    return mlp.forward(concat({x, Tensor::full(Shape{x.dim(0), 1}, t)}, 1));
  };
}

int run(int argc, char** argv) {
  int64_t iterations = 2000, batch = 1024, hidden = 128, samples = 10000, threads = 0;
  std::string out = "samples.npy";
  cxxopts::Options options("cfm_custom_density", "CFM on a ring density, with flowcpp as a library");
  options.add_options()
      ("iterations", "training iterations", cxxopts::value(iterations)->default_value("2000"))
      ("batch-size", "points per iteration", cxxopts::value(batch)->default_value("1024"))
      ("hidden", "MLP width", cxxopts::value(hidden)->default_value("128"))
      ("samples", "points to sample after training", cxxopts::value(samples)->default_value("10000"))
      ("threads", "threads (0: all cores)", cxxopts::value(threads)->default_value("0"))
      ("out", "where to write the samples (.npy)", cxxopts::value(out)->default_value("samples.npy"));
  app::parse_with_help(options, argc, argv);
  app::require_positive("iterations", iterations);
  app::require_positive("batch-size", batch);
  app::require_positive("hidden", hidden);
  app::require_positive("samples", samples);
  set_num_threads(static_cast<int>(threads));

  Generator gen(0);
  nn::MLPConfig config;
  config.hidden = hidden;
  nn::MLP mlp(config, gen);
  mlp.flatten_parameters();  // one buffer: zero_grad is one fill, AdamW one kernel
  nn::AdamW opt(mlp, nn::AdamWOptions{});

  for (int64_t it = 1; it <= iterations; ++it) {
    Tensor x1 = sample_ring(batch, gen);
    Tensor x0 = gen.normal(Shape{batch, 2});
    Tensor t = gen.uniform(Shape{batch, 1});
    Tensor xt = flow::cfm_interpolate(x0, x1, t, 0.f);
    Tensor loss = mse_loss(mlp.forward(concat({xt, t}, 1)), flow::cfm_target(x0, x1, 0.f));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (it % 500 == 0 || it == iterations)
      std::fprintf(stderr, "iteration %lld: loss %.4f\n", static_cast<long long>(it), loss.item());
  }

  NoGradGuard no_grad;
  flow::OdeOptions ode;  // midpoint, step 0.05: 20 steps
  Tensor x = flow::odeint(velocity(mlp), gen.normal(Shape{samples, 2}), {0.f, 1.f}, ode).states.back();
  data::save_npy(out, x);

  // How well the samples sit on the ring: their mean radius and its spread.
  std::vector<float> v = x.to_vector();
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < samples; ++i) {
    double r = std::hypot(v[2 * i], v[2 * i + 1]);
    sum += r;
    sum2 += r * r;
  }
  double mean = sum / samples, sd = std::sqrt(std::max(0.0, sum2 / samples - mean * mean));
  std::printf("wrote %s: %lld points, radius %.3f +- %.3f (the ring: 3 +- 0.1)\n", out.c_str(),
              static_cast<long long>(samples), mean, sd);
  return 0;
}

int main(int argc, char** argv) {
  return app::main_guard("cfm_custom_density", [&] { return run(argc, argv); });
}
