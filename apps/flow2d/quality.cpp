#include "apps/flow2d/quality.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "apps/cli/progress.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/train/rank_split.hpp"
#include "apps/train/sampling.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "flow/metrics.hpp"
#include "flow/straightness.hpp"

namespace fc::app {

namespace {

constexpr int64_t kTruthPoints = 20000;
constexpr const char* kFlowBlewUp = ": the flow blew up (an unstable model, or a --sample-path it cannot follow)";

Generator truth_generator(uint64_t seed) { return Generator(seed + 1000003); }

void add_in_square_fraction(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density) {
  const double side = data::checkerboard_square_side(density.name());
  if (side > 0) metrics["in_square_fraction"] = data::checkerboard_in_square_fraction(samples, side);
}

}  // namespace

void require_finite_points(const Tensor& samples, const std::string& what, const std::string& why) {
  const std::vector<float> v = samples.to_vector();
  int64_t bad = 0;
  for (size_t i = 0; i < v.size(); i += 2) bad += !(std::isfinite(v[i]) && std::isfinite(v[i + 1]));
  FC_CHECK(bad == 0, what << ": " << bad << " of " << v.size() / 2 << " points are not finite (NaN or inf)" << why);
}

void score_samples(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                   uint64_t seed) {
  Generator eval_gen = truth_generator(seed);
  Tensor truth = density.sample(kTruthPoints, eval_gen);
  metrics["energy_distance"] = flow::energy_distance(samples, truth, kTruthPoints);
  add_in_square_fraction(metrics, samples, density);
}

BlockedEnergyDistance blocked_energy_distance(const Tensor& samples, const data::Toy2d& density,
                                              uint64_t seed, bool progress) {
  FC_CHECK(samples.ndim() == 2 && samples.dim(1) == 2 && samples.is_cpu(),
           "blocked_energy_distance: expected N x 2 samples on the CPU, got " << samples.shape());
  int64_t n = samples.dim(0);
  BlockedEnergyDistance out;
  out.blocks = std::max<int64_t>(1, n / kTruthPoints);
  int64_t block_rows = std::min(n, kTruthPoints);
  Generator truth_gen = truth_generator(seed);  // one stream: block 0 sees score_samples' truth
  std::vector<double> ed(static_cast<size_t>(out.blocks));
  std::optional<ProgressBar> bar;
  if (progress && out.blocks > 1) bar.emplace(out.blocks, "score");
  for (int64_t k = 0; k < out.blocks; ++k) {
    Tensor truth = density.sample(kTruthPoints, truth_gen);
    Tensor block = Tensor::view_of(samples, k * kTruthPoints * 2, Shape{block_rows, 2});
    ed[static_cast<size_t>(k)] = flow::energy_distance(block, truth, kTruthPoints);
    out.mean += ed[static_cast<size_t>(k)] / static_cast<double>(out.blocks);
    if (k == 0) out.first = ed[0];
    if (bar) bar->update(k + 1);
  }
  if (bar) bar->finish();
  if (out.blocks > 1) {
    const double b = static_cast<double>(out.blocks);
    double ss = 0;
    for (double v : ed) ss += (v - out.mean) * (v - out.mean);
    out.standard_error = std::sqrt(ss / (b - 1) / b);  // the sample deviation / sqrt(blocks)
  }
  return out;
}

void score_all_points(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                      uint64_t seed) {
  BlockedEnergyDistance all = blocked_energy_distance(samples, density, seed, true);
  metrics["energy_distance"] = all.first;  // score_samples' value: its truth, its points
  add_in_square_fraction(metrics, samples, density);
  metrics["energy_distance_all_points"] = all.mean;
  metrics["energy_distance_all_points_se"] = all.standard_error;
  metrics["energy_distance_blocks"] = all.blocks;
}

double energy_distance_noise(const data::Toy2d& density, uint64_t seed, int64_t points, int draws) {
  Generator truth_gen = truth_generator(seed);
  Tensor truth = density.sample(kTruthPoints, truth_gen);
  double sum = 0;
  for (int k = 0; k < draws; ++k) {
    Generator g(seed + 6000011 + static_cast<uint64_t>(k));
    sum += std::fabs(flow::energy_distance(density.sample(points, g), truth, kTruthPoints));
  }
  return sum / draws;
}

nlohmann::json rectification_metrics(const flow::VelocityFn& v, const data::Toy2d& density,
                                     const RectificationOptions& options) {
  NoGradGuard no_grad;
  Generator x0_gen(options.seed + 3000017);
  Tensor x0 = x0_gen.normal(Shape{options.points, 2});
  // Under mpirun each rank integrates its rows of x0 (rank_split.hpp); rank 0 scores.
  const bool split = split_over_ranks(options.points);
  if (!split && !dist::is_root()) return nlohmann::json();
  Tensor mine = split ? my_rows_of(x0) : x0;
  nlohmann::json out;
  flow::StraightnessOptions so;
  so.ode.method = flow::Method::Midpoint;
  so.ode.step_size = 0.01f;
  // A mean over the points: the ranks' means weighted by their shares.
  double straightness = flow::straightness(v, mine, so) * static_cast<double>(mine.dim(0)) /
                        static_cast<double>(options.points);
  if (split) dist::all_reduce_sum(&straightness, 1);
  FC_CHECK(std::isfinite(straightness), "the straightness is not finite (" << straightness << ")" << kFlowBlewUp);
  out["straightness"] = straightness;
  nlohmann::json table = nlohmann::json::array();
  for (int k : few_step_counts()) {
    flow::OdeOptions ode;
    ode.method = flow::Method::Euler;
    ode.step_size = 1.f / static_cast<float>(k);
    Tensor samples = flow::odeint(v, mine, {0.f, 1.f}, ode).states.back();
    if (split) samples = gather_rows_on_root(samples, options.points);
    if (!dist::is_root()) continue;
    require_finite_points(samples, std::to_string(k) + "-step Euler samples", kFlowBlewUp);
    nlohmann::json row;
    row["steps"] = k;
    score_samples(row, samples, density, options.seed);
    table.push_back(row);
  }
  if (!dist::is_root()) return nlohmann::json();
  out["few_step"] = table;
  return out;
}

}  // namespace fc::app
