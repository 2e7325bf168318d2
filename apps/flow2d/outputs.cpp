#include "apps/flow2d/outputs.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "apps/cli/dataset_dir.hpp"
#include "apps/cli/interrupt.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/flow2d/plots.hpp"
#include "apps/flow2d/quality.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/rank_split.hpp"
#include "apps/train/sampling.hpp"
#include "datasets/npy.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/ops.hpp"
#include "engine/threads.hpp"
#include "flow/likelihood.hpp"

namespace fc::app {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The likelihood maps: exact divergence and Hutchinson on an n x n grid over the plot square.
void likelihood_map(const flow::VelocityFn& v, const Flow2dOutputOptions& o, const flow::LikelihoodOptions& lo,
                    const data::PlotSquare& square) {
  int n = static_cast<int>(o.grid);
  std::vector<float> xy;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      xy.push_back(square.x_lo + (square.x_hi - square.x_lo) * (j + 0.5f) / n);
      xy.push_back(square.y_lo + (square.y_hi - square.y_lo) * (i + 0.5f) / n);
    }
  Tensor pts = Tensor::from_vector(xy, Shape{static_cast<int64_t>(n) * n, 2});
  std::fprintf(stderr, "likelihood map on a %dx%d grid (exact, and Hutchinson with %lld probes)\n", n, n,
               static_cast<long long>(o.probes));
  auto exact = flow::log_likelihood(v, pts, lo).log_prob.to_vector();
  flow::LikelihoodOptions lh = lo;
  lh.hutchinson_probes = static_cast<int>(o.probes);
  lh.seed = o.seed + 7;
  auto hutch = flow::log_likelihood(v, pts, lh).log_prob.to_vector();
  plot_likelihood(o.dir + "/likelihood_" + dataset_dir_name(o.dataset) + ".png", hutch, exact, n, square,
                  "Likelihood (" + o.model + ") — " + o.dataset, static_cast<int>(o.probes));
}

}  // namespace

void add_output_options(cxxopts::Options& options, Flow2dOutputOptions& o) {
  options.add_options("sampling and plots")
      ("method", "ODE solver: euler, midpoint, heun, rk4, dopri5",
       cxxopts::value<std::string>(o.method)->default_value("midpoint"))
      ("steps", "solver steps over [0, 1] (fixed-step methods)",
       cxxopts::value<int64_t>(o.steps)->default_value("20"))
      ("samples", "points for the evolution plot and samples.npy (quick 200000, paper 1000000)",
       cxxopts::value<int64_t>(o.samples))
      ("gif-samples", "points in the GIF (quick 50000, paper 500000)", cxxopts::value<int64_t>(o.gif_samples))
      ("frames", "GIF frames", cxxopts::value<int64_t>(o.frames)->default_value("101"))
      ("grid", "likelihood map resolution, grid x grid (quick 120, paper 200)", cxxopts::value<int64_t>(o.grid))
      ("probes", "Hutchinson probes for the likelihood map",
       cxxopts::value<int64_t>(o.probes)->default_value("10"))
      ("eval-points", "held-out true points for the mean log-likelihood (quick 2000, paper 5000)",
       cxxopts::value<int64_t>(o.eval_points))
      ("quality-points", "trajectories for the straightness and few-step quality in metrics.json",
       cxxopts::value<int64_t>(o.quality_points)->default_value("20000"))
      ("no-plots", "skip the pictures (metrics and samples only)");
}

std::vector<PresetValue> output_presets(Flow2dOutputOptions& o) {
  return {{"samples", &o.samples, 200000, 1000000},
          {"gif-samples", &o.gif_samples, 50000, 500000},
          {"grid", &o.grid, 120, 200},
          {"eval-points", &o.eval_points, 2000, 5000}};
}

void check_output_options(Flow2dOutputOptions& o, const cxxopts::ParseResult& given) {
  o.plots = given.count("no-plots") == 0;
  require_positive("samples", o.samples);
  require_positive("gif-samples", o.gif_samples);
  require_positive("steps", o.steps);
  require_positive("grid", o.grid);
  require_positive("eval-points", o.eval_points);
  require_range("quality-points", o.quality_points, 2, 10000000);
  require_range("frames", o.frames, 2, 1000);
  require_range("probes", o.probes, 1, 1000);
  try {
    flow::parse_method(o.method);
  } catch (const Error& e) {
    throw UsageError(std::string("option '--method': ") + e.what());
  }
}

void add_sampling_config(nlohmann::json& config, const Flow2dOutputOptions& o, int64_t seed) {
  config["method"] = o.method;
  config["steps"] = o.steps;
  config["samples"] = o.samples;
  config["seed"] = seed;
  config["threads"] = num_threads();
}

namespace {

// What the ranks sample together: the evolution strip (its last state is samples.npy),
// the GIF's frames, and the straightness metrics.
struct SampledFlow {
  std::vector<float> strip_times, frame_times;
  std::vector<Tensor> strip, frames;  // on rank 0
  nlohmann::json rectification;
  double gif_sampling_s = 0, rectification_s = 0;
};

// The phases run in `phase`, the caller's, so that a signal names the one it stopped.
SampledFlow sample_over_ranks(const flow::VelocityFn& v, const data::Toy2d& density, const Flow2dOutputOptions& o,
                              Generator& gen, nlohmann::json& metrics, std::optional<Phase>& phase) {
  flow::OdeOptions ode;
  ode.method = flow::parse_method(o.method);
  ode.step_size = 1.f / static_cast<float>(o.steps);
  int64_t nfe = 0;
  SampledFlow s;
  s.strip_times = linspace01(10);
  if (dist::is_root())
    std::fprintf(stderr, "sampling %lld points (%s, %lld steps%s)\n", static_cast<long long>(o.samples),
                 o.method.c_str(), static_cast<long long>(o.steps),
                 split_over_ranks(o.samples) ? (", over " + std::to_string(dist::size()) + " ranks").c_str() : "");
  auto t0 = Clock::now();
  phase.emplace("sampling");
  s.strip = sample_flow_over_ranks(v, gen, o.samples, s.strip_times, ode, &nfe);
  metrics["time_sample_s"] = seconds_since(t0);
  metrics["nfe"] = nfe;
  auto tg = Clock::now();
  s.frame_times = linspace01(static_cast<int>(o.frames));
  phase.emplace("sampling the GIF");
  if (o.plots) s.frames = sample_flow_over_ranks(v, gen, o.gif_samples, s.frame_times, ode);
  s.gif_sampling_s = seconds_since(tg);
  auto tr = Clock::now();
  phase.emplace("measuring straightness");
  RectificationOptions ro;
  ro.seed = o.seed;
  ro.points = o.quality_points;
  s.rectification = rectification_metrics(v, density, ro);  // split over the ranks too
  s.rectification_s = seconds_since(tr);
  return s;
}

// Rank 0: losses.csv/png, samples.npy (refused when the flow blew up), the evolution
// strip and the GIF.
void write_samples_and_plots(const flow::VelocityFn& v, const data::Toy2d& density, const std::vector<float>& losses,
                             const Flow2dOutputOptions& o, const SampledFlow& s, nlohmann::json& metrics,
                             std::optional<Phase>& phase) {
  const std::string name = dataset_dir_name(o.dataset);
  const data::PlotSquare square = data::plot_square(density);  // the reference's plot range
  if (!losses.empty()) {
    write_losses_csv(o.dir + "/losses.csv", losses);
    if (o.plots) plot_loss_curve(o.dir + "/losses.png", losses, o.model + " training loss — " + o.dataset);
  }
  const Tensor& samples = s.strip.back();
  require_finite_points(samples, "sampling the model (" + o.method + ", " + std::to_string(o.steps) + " steps)",
                        ": the flow blew up (an unstable model, or a --sample-path it cannot follow)");
  data::save_npy(o.dir + "/samples.npy", samples);
  phase.emplace("plotting");
  if (!o.plots) return;
  plot_evolution(o.dir + "/ode_sampling_evolution_" + name + ".png", s.strip, s.strip_times,
                 "ODE sampling evolution (" + o.model + ") — " + o.dataset, square);
  NoGradGuard no_grad;
  auto tg = Clock::now();
  write_field_gif(o.dir + "/vector_field_and_samples_" + name + ".gif", v, s.frames, s.frame_times,
                  o.model + " — " + o.dataset, square);
  metrics["time_gif_s"] = s.gif_sampling_s + seconds_since(tg);
}

// Rank 0, the quality: energy distance to fresh true samples (the first 20,000 and all
// of them), in-square fraction, straightness, held-out likelihood and its maps.
void score_flow(const flow::VelocityFn& v, const data::Toy2d& density, const Flow2dOutputOptions& o,
                const SampledFlow& s, nlohmann::json& metrics, std::optional<Phase>& phase) {
  auto tq = Clock::now();
  phase.emplace("scoring");
  score_all_points(metrics, s.strip.back(), density, o.seed);
  metrics["time_score_s"] = seconds_since(tq);
  metrics.update(s.rectification);
  metrics["time_rectification_metrics_s"] = s.rectification_s;
  Generator eval_gen(o.seed + 2000003);
  // The likelihood is integrated with the reference's solver (midpoint, 20 steps)
  // whatever solver sampled: a few-step sampler (--method euler --steps 1) is a
  // question about samples, and its likelihood would measure its own truncation error.
  flow::LikelihoodOptions lo;
  metrics["likelihood_solver"] =
      flow::method_name(lo.ode.method) + ", " + std::to_string(std::lround(1 / lo.ode.step_size)) + " steps";
  auto tl = Clock::now();
  phase.emplace("computing likelihoods");
  {
    Tensor held_out = density.sample(o.eval_points, eval_gen);
    flow::LikelihoodResult lr = flow::log_likelihood(v, held_out, lo);
    metrics["heldout_mean_log_likelihood"] = mean(lr.log_prob).item();
  }
  if (o.plots) likelihood_map(v, o, lo, data::plot_square(density));
  metrics["time_likelihood_s"] = seconds_since(tl);
}

}  // namespace

void write_flow2d_outputs(const flow::VelocityFn& v, const data::Toy2d& density, const std::vector<float>& losses,
                          const Flow2dOutputOptions& o, Generator& gen, nlohmann::json& metrics) {
  // A signal stops any of these phases within a step; the model is on disk already.
  Phase outputs("writing the outputs", "the model is saved in " + o.dir +
                                           "/ckpt.safetensors; --sample-only draws the outputs from it");
  std::optional<Phase> phase;
  const SampledFlow sampled = sample_over_ranks(v, density, o, gen, metrics, phase);
  if (!dist::is_root()) return;  // rank 0 scores, plots and writes
  write_samples_and_plots(v, density, losses, o, sampled, metrics, phase);
  score_flow(v, density, o, sampled, metrics, phase);
}

}  // namespace fc::app
