#include "apps/common/flow2d_quality.hpp"

#include <cmath>

#include "apps/common/flow2d.hpp"
#include "engine/autograd.hpp"
#include "flow/metrics.hpp"
#include "flow/straightness.hpp"

namespace fc::app {

void score_samples(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                   uint64_t seed) {
  Generator eval_gen(seed + 1000003);
  Tensor truth = density.sample(20000, eval_gen);
  metrics["energy_distance"] = flow::energy_distance(samples, truth, 20000);
  if (density.name() == "checkerboard")
    metrics["in_square_fraction"] = data::checkerboard_in_square_fraction(samples);
}

double energy_distance_noise(const data::Toy2d& density, uint64_t seed, int64_t points, int draws) {
  Generator truth_gen(seed + 1000003);
  Tensor truth = density.sample(20000, truth_gen);
  double sum = 0;
  for (int k = 0; k < draws; ++k) {
    Generator g(seed + 6000011 + static_cast<uint64_t>(k));
    sum += std::fabs(flow::energy_distance(density.sample(points, g), truth, 20000));
  }
  return sum / draws;
}

const std::vector<int>& few_step_counts() {
  static const std::vector<int> k = {1, 2, 4, 8, 20};
  return k;
}

nlohmann::json rectification_metrics(nn::MLP& mlp, const data::Toy2d& density,
                                     const RectificationOptions& options) {
  NoGradGuard no_grad;
  Generator x0_gen(options.seed + 3000017);
  Tensor x0 = x0_gen.normal(Shape{options.points, 2});
  nlohmann::json out;
  flow::StraightnessOptions so;
  so.ode.method = flow::Method::Midpoint;
  so.ode.step_size = 0.01f;
  out["straightness"] = flow::straightness(mlp_velocity(mlp), x0, so);
  nlohmann::json table = nlohmann::json::array();
  for (int k : few_step_counts()) {
    flow::OdeOptions ode;
    ode.method = flow::Method::Euler;
    ode.step_size = 1.f / static_cast<float>(k);
    Tensor samples = flow::odeint(mlp_velocity(mlp), x0, {0.f, 1.f}, ode).states.back();
    nlohmann::json row;
    row["steps"] = k;
    score_samples(row, samples, density, options.seed);
    table.push_back(row);
  }
  out["few_step"] = table;
  return out;
}

}  // namespace fc::app
