// cfm2d DATASET: conditional flow matching on a 2-D density. Trains the velocity MLP
// of the reference recipe, then samples it and draws the flow: the sampling
// evolution, a vector-field GIF, likelihood maps, the loss curve, and metrics.
//   ./apps/cfm2d checkerboard                 quick preset (a few minutes on 2 cores)
//   ./apps/cfm2d checkerboard --preset paper  the reference recipe
//   ./apps/cfm2d checkerboard --sample-only   redraw from outputs/cfm/checkerboard/ckpt
#include <cxxopts.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/flow2d.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/options.hpp"
#include "apps/common/plots2d.hpp"
#include "apps/common/progress.hpp"
#include "datasets/npy.hpp"
#include "datasets/toy2d.hpp"
#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/threads.hpp"
#include "flow/likelihood.hpp"
#include "flow/metrics.hpp"
#include "flow/path.hpp"
#include "nn/checkpoint.hpp"

using namespace fc;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string dataset, preset = "quick", output = "outputs/cfm", method = "midpoint";
  int64_t iterations = 0, batch = 0, hidden = 0, samples = 0, gif_samples = 0, steps = 20;
  int64_t grid = 0, probes = 10, eval_points = 0, frames = 101, seed = 0, threads = 0;
  int64_t checkpoint_every = 1000, interrupt_at = -1;
  std::string score;
  double lr = 1e-3, sigma_min = 0.0;
  bool resume = false, sample_only = false, no_plots = false;
};

// The two presets: quick finishes in about two minutes on 2 cores (plots included);
// paper is the reference recipe.
struct PresetValue {
  const char* option;
  int64_t Config::*field;
  int64_t quick, paper;
};
const PresetValue kPresets[] = {
    {"iterations", &Config::iterations, 12000, 20000},
    {"batch-size", &Config::batch, 2048, 4096},
    {"hidden", &Config::hidden, 256, 512},
    {"samples", &Config::samples, 200000, 1000000},
    {"gif-samples", &Config::gif_samples, 50000, 500000},
    {"grid", &Config::grid, 120, 200},
    {"eval-points", &Config::eval_points, 2000, 5000},
};

void apply_preset(Config& c, const cxxopts::ParseResult& r) {
  if (c.preset != "quick" && c.preset != "paper")
    throw app::UsageError("option '--preset': must be quick or paper, got '" + c.preset + "'");
  for (const PresetValue& p : kPresets)  // options the user gave win over the preset
    if (!r.count(p.option)) c.*p.field = c.preset == "quick" ? p.quick : p.paper;
}

Config parse(int argc, char** argv) {
  cxxopts::Options o("cfm2d", "Conditional flow matching on a 2-D density: train, sample, plot.\n"
                              "DATASET: " + app::join(data::toy2d_names(), ", ") +
                              ", points:FILE (.npy/.csv), image:FILE.png");
  Config c;
  o.positional_help("DATASET");
  o.add_options()
      ("dataset", "density to learn", cxxopts::value<std::string>(c.dataset))
      ("preset", "quick (default, minutes on a laptop) or paper (the reference recipe)",
       cxxopts::value<std::string>(c.preset))
      ("iterations", "training iterations (quick 12000, paper 20000)", cxxopts::value<int64_t>(c.iterations))
      ("batch-size", "training batch size (quick 2048, paper 4096)", cxxopts::value<int64_t>(c.batch))
      ("hidden", "MLP width (quick 256, paper 512)", cxxopts::value<int64_t>(c.hidden))
      ("lr", "AdamW learning rate", cxxopts::value<double>(c.lr)->default_value("1e-3"))
      ("sigma-min", "σmin of the CFM path (0: straight lines)",
       cxxopts::value<double>(c.sigma_min)->default_value("0"))
      ("seed", "random seed", cxxopts::value<int64_t>(c.seed)->default_value("0"))
      ("method", "ODE solver: euler, midpoint, heun, rk4, dopri5",
       cxxopts::value<std::string>(c.method)->default_value("midpoint"))
      ("steps", "solver steps over [0, 1] (fixed-step methods)",
       cxxopts::value<int64_t>(c.steps)->default_value("20"))
      ("samples", "points for the evolution plot and samples.npy (quick 200000, paper 1000000)", cxxopts::value<int64_t>(c.samples))
      ("gif-samples", "points in the GIF (quick 50000, paper 500000)", cxxopts::value<int64_t>(c.gif_samples))
      ("frames", "GIF frames", cxxopts::value<int64_t>(c.frames)->default_value("101"))
      ("grid", "likelihood map resolution, grid x grid (quick 120, paper 200)", cxxopts::value<int64_t>(c.grid))
      ("probes", "Hutchinson probes for the likelihood map",
       cxxopts::value<int64_t>(c.probes)->default_value("10"))
      ("eval-points", "held-out true points for the mean log-likelihood (quick 2000, paper 5000)",
       cxxopts::value<int64_t>(c.eval_points))
      ("threads", "CPU threads (default: OMP_NUM_THREADS or all cores)",
       cxxopts::value<int64_t>(c.threads)->default_value("0"))
      ("output", "output root; files go to OUTPUT/DATASET/",
       cxxopts::value<std::string>(c.output)->default_value("outputs/cfm"))
      ("checkpoint-every", "save a checkpoint every N iterations (0: only at the end)",
       cxxopts::value<int64_t>(c.checkpoint_every)->default_value("1000"))
      ("resume", "continue training from OUTPUT/DATASET/ckpt.safetensors")
      ("sample-only", "skip training: sample and plot from the checkpoint")
      ("no-plots", "skip the pictures (metrics and samples only)")
      ("score", "only score the N x 2 samples in this .npy file against DATASET (the metrics "
                "of metrics.json, printed as JSON); e.g. another implementation's samples",
       cxxopts::value<std::string>(c.score))
      ("interrupt-at", "(testing) behave as if Ctrl-C came at this iteration",
       cxxopts::value<int64_t>(c.interrupt_at)->default_value("-1"))
      ("h,help", "show this help");
  o.parse_positional({"dataset"});
  auto r = app::parse_or_usage(o, argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", o.help().c_str());
    std::exit(0);
  }
  if (c.dataset.empty()) throw app::UsageError("missing DATASET (try --help)");
  c.resume = r.count("resume") > 0;
  c.sample_only = r.count("sample-only") > 0;
  c.no_plots = r.count("no-plots") > 0;
  apply_preset(c, r);
  app::require_positive("iterations", c.iterations);
  app::require_positive("batch-size", c.batch);
  app::require_positive("hidden", c.hidden);
  app::require_positive("samples", c.samples);
  app::require_positive("gif-samples", c.gif_samples);
  app::require_positive("steps", c.steps);
  app::require_positive("grid", c.grid);
  app::require_positive("eval-points", c.eval_points);
  app::require_range("frames", c.frames, 2, 1000);
  app::require_range("probes", c.probes, 1, 1000);
  app::require_range("threads", c.threads, 0, 1024);
  app::require_range("checkpoint-every", c.checkpoint_every, 0, INT64_MAX);
  if (!(c.lr > 0 && std::isfinite(c.lr))) throw app::UsageError("option '--lr': must be positive");
  if (!(c.sigma_min >= 0 && c.sigma_min < 1))
    throw app::UsageError("option '--sigma-min': must be in [0, 1)");
  if (c.resume && c.sample_only)
    throw app::UsageError("options '--resume' and '--sample-only' exclude each other");
  try {
    flow::parse_method(c.method);
  } catch (const Error& e) {
    throw app::UsageError(std::string("option '--method': ") + e.what());
  }
  return c;
}

// Sample quality against fresh true samples, the same for every run and every
// implementation: energy distance on 20,000 points (seed + 1000003 draws the truth), and
// for the checkerboard the fraction inside the true squares.
void score_samples(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                   uint64_t seed) {
  Generator eval_gen(seed + 1000003);
  Tensor truth = density.sample(20000, eval_gen);
  metrics["energy_distance"] = flow::energy_distance(samples, truth, 20000);
  if (density.name() == "checkerboard")
    metrics["in_square_fraction"] = data::checkerboard_in_square_fraction(samples);
}

std::string fmt(double v, int digits = 4) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

int run(int argc, char** argv) {
  Config c = parse(argc, argv);
  set_num_threads(static_cast<int>(c.threads));
  data::Toy2d density(c.dataset);  // checks the name or the file before any work
  if (!c.score.empty()) {
    Tensor samples = data::load_npy(c.score);
    FC_CHECK(samples.ndim() == 2 && samples.dim(1) == 2 && samples.dim(0) >= 2,
             c.score << ": expected N x 2 samples, got shape " << samples.shape());
    nlohmann::json m;
    m["file"] = c.score;
    m["points"] = samples.dim(0);
    score_samples(m, samples, density, static_cast<uint64_t>(c.seed));
    std::printf("%s\n", m.dump().c_str());
    return 0;
  }
  std::string dir = c.output + "/" + app::dataset_dir_name(c.dataset);
  std::filesystem::create_directories(dir);
  std::string ckpt = dir + "/ckpt.safetensors";
  nlohmann::json metrics;
  metrics["dataset"] = c.dataset;
  metrics["preset"] = c.preset;
  auto t_start = Clock::now();

  Generator gen(static_cast<uint64_t>(c.seed));
  std::unique_ptr<nn::MLP> mlp;
  app::TrainState state;
  std::map<std::string, std::string> meta = {{"dataset", c.dataset},
                                             {"sigma_min", fmt(c.sigma_min, 9)},
                                             {"objective", "cfm"}};
  if (c.sample_only) {
    FC_CHECK(std::filesystem::exists(ckpt),
             ckpt << ": no checkpoint to sample from; train first with ./apps/cfm2d " << c.dataset);
    app::LoadedMLP loaded = app::load_mlp_checkpoint(ckpt);
    mlp = std::move(loaded.mlp);
    std::fprintf(stderr, "cfm2d: sampling from %s\n", ckpt.c_str());
  } else {
    nn::MLPConfig mc;
    mc.hidden = c.hidden;
    mlp = std::make_unique<nn::MLP>(mc, gen);
    nn::AdamWOptions ao;
    ao.lr = static_cast<float>(c.lr);
    nn::AdamW opt(*mlp, ao);
    if (c.resume) {
      FC_CHECK(std::filesystem::exists(ckpt), ckpt << ": nothing to resume (no checkpoint)");
      app::LoadedMLP loaded = app::load_mlp_checkpoint(ckpt);
      FC_CHECK(loaded.mlp->config().hidden == c.hidden,
               ckpt << ": checkpoint has hidden " << loaded.mlp->config().hidden << ", this run "
                    << c.hidden << " (pass the same options to --resume)");
      auto it = loaded.file.metadata.find("dataset");
      FC_CHECK(it != loaded.file.metadata.end() && it->second == c.dataset,
               ckpt << ": checkpoint was trained on '"
                    << (it == loaded.file.metadata.end() ? "?" : it->second) << "', not '" << c.dataset << "'");
      nn::load_parameters(*mlp, loaded.file, ckpt);
      app::restore_training(loaded.file, ckpt, opt, gen, state);
      std::fprintf(stderr, "cfm2d: resuming at iteration %lld of %lld\n",
                   static_cast<long long>(state.iteration), static_cast<long long>(c.iterations));
    }
    app::install_interrupt_handler();
    const float smin = static_cast<float>(c.sigma_min);
    app::ProgressBar bar(c.iterations, "train", state.iteration);
    double smooth = state.losses.empty() ? 0 : state.losses.back();
    auto save = [&] {
      std::map<std::string, std::string> m = meta;
      for (auto& [k, v] : mlp->config().to_metadata()) m[k] = v;
      app::save_train_checkpoint(ckpt, *mlp, &opt, gen, state, m);
    };
    for (; state.iteration < c.iterations; ++state.iteration) {
      if (state.iteration == c.interrupt_at) app::request_interrupt();
      if (app::interrupted()) {
        save();
        app::write_losses_csv(dir + "/losses.csv", state.losses);
        std::fprintf(stderr, "\ncfm2d: interrupted at iteration %lld; saved %s (continue with --resume)\n",
                     static_cast<long long>(state.iteration), ckpt.c_str());
        return 130;
      }
      Tensor x1 = density.sample(c.batch, gen);
      Tensor x0 = gen.normal(Shape{c.batch, 2});
      Tensor t = gen.uniform(Shape{c.batch, 1});
      Tensor xt = flow::cfm_interpolate(x0, x1, t, smin);
      Tensor loss = mse_loss(mlp->forward(concat({xt, t}, 1)), flow::cfm_target(x0, x1, smin));
      opt.zero_grad();
      loss.backward();
      opt.step();
      float l = loss.item();
      FC_CHECK(std::isfinite(l), "training diverged: loss is " << l << " at iteration " << state.iteration
                                                               << " (try a lower --lr)");
      state.losses.push_back(l);
      smooth = state.losses.size() == 1 ? l : 0.98 * smooth + 0.02 * l;
      bar.update(state.iteration + 1, "loss " + fmt(smooth));
      if (c.checkpoint_every > 0 && (state.iteration + 1) % c.checkpoint_every == 0 &&
          state.iteration + 1 < c.iterations) {
        ++state.iteration;  // the checkpoint records the iterations done
        save();
        --state.iteration;
      }
    }
    bar.finish("loss " + fmt(smooth));
    save();
    metrics["final_loss"] = smooth;
  }
  auto t_trained = Clock::now();
  metrics["time_train_s"] = std::chrono::duration<double>(t_trained - t_start).count();
  metrics["parameters"] = mlp->num_parameters();
  if (!state.losses.empty()) {
    app::write_losses_csv(dir + "/losses.csv", state.losses);
    if (!c.no_plots) app::plot_loss_curve(dir + "/losses.png", state.losses, "CFM training loss — " + c.dataset);
  }

  // Sampling: the evolution strip and samples.npy from one run of the solver.
  flow::OdeOptions ode;
  ode.method = flow::parse_method(c.method);
  ode.step_size = 1.f / static_cast<float>(c.steps);
  int64_t nfe = 0;
  std::vector<float> strip_times = app::linspace01(10);
  std::fprintf(stderr, "cfm2d: sampling %lld points (%s, %lld steps)\n", static_cast<long long>(c.samples),
               c.method.c_str(), static_cast<long long>(c.steps));
  auto t0 = Clock::now();
  std::vector<Tensor> strip = app::sample_flow(*mlp, gen, c.samples, strip_times, ode, &nfe);
  metrics["time_sample_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics["nfe"] = nfe;
  const Tensor& samples = strip.back();
  data::save_npy(dir + "/samples.npy", samples);
  std::string name = app::dataset_dir_name(c.dataset);
  const float range = 4.5f;
  if (!c.no_plots) {
    app::plot_evolution(dir + "/ode_sampling_evolution_" + name + ".png", strip, strip_times,
                        "ODE sampling evolution — " + c.dataset, range);
    auto tg = Clock::now();
    std::vector<float> frame_times = app::linspace01(static_cast<int>(c.frames));
    std::vector<Tensor> frames = app::sample_flow(*mlp, gen, c.gif_samples, frame_times, ode);
    NoGradGuard no_grad;
    app::write_field_gif(dir + "/vector_field_and_samples_" + name + ".gif", app::mlp_velocity(*mlp),
                         frames, frame_times, c.dataset, range);
    metrics["time_gif_s"] = std::chrono::duration<double>(Clock::now() - tg).count();
  }

  // Quality: energy distance to fresh true samples, in-square fraction, likelihoods.
  score_samples(metrics, samples, density, static_cast<uint64_t>(c.seed));
  Generator eval_gen(static_cast<uint64_t>(c.seed) + 2000003);
  flow::LikelihoodOptions lo;
  lo.ode = ode;
  auto tl = Clock::now();
  {
    Tensor held_out = density.sample(c.eval_points, eval_gen);
    flow::LikelihoodResult lr = flow::log_likelihood(app::mlp_velocity(*mlp), held_out, lo);
    metrics["heldout_mean_log_likelihood"] = mean(lr.log_prob).item();
  }
  if (!c.no_plots) {
    int n = static_cast<int>(c.grid);
    std::vector<float> xy;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        xy.push_back(-range + 2 * range * (j + 0.5f) / n);
        xy.push_back(-range + 2 * range * (i + 0.5f) / n);
      }
    Tensor pts = Tensor::from_vector(xy, Shape{static_cast<int64_t>(n) * n, 2});
    std::fprintf(stderr, "cfm2d: likelihood map on a %dx%d grid (exact, and Hutchinson with %lld probes)\n",
                 n, n, static_cast<long long>(c.probes));
    auto exact = flow::log_likelihood(app::mlp_velocity(*mlp), pts, lo).log_prob.to_vector();
    flow::LikelihoodOptions lh = lo;
    lh.hutchinson_probes = static_cast<int>(c.probes);
    lh.seed = static_cast<uint64_t>(c.seed) + 7;
    auto hutch = flow::log_likelihood(app::mlp_velocity(*mlp), pts, lh).log_prob.to_vector();
    app::plot_likelihood(dir + "/likelihood_" + name + ".png", hutch, exact, n, range,
                         "Likelihood — " + c.dataset, static_cast<int>(c.probes));
  }
  metrics["time_likelihood_s"] = std::chrono::duration<double>(Clock::now() - tl).count();
  metrics["time_total_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  MemoryStats mem = memory_stats();
  metrics["peak_memory_mb"] = mem.peak_reserved_bytes / 1048576.0;
  metrics["config"] = {{"iterations", c.iterations}, {"batch_size", c.batch}, {"hidden", mlp->config().hidden},
                       {"lr", c.lr}, {"sigma_min", c.sigma_min}, {"method", c.method},
                       {"steps", c.steps}, {"samples", c.samples}, {"seed", c.seed},
                       {"threads", num_threads()}};
  app::write_json(dir + "/metrics.json", metrics.dump(2));
  std::fprintf(stderr, "cfm2d: wrote %s/ (energy distance %s%s)\n", dir.c_str(),
               fmt(metrics["energy_distance"].get<double>()).c_str(),
               metrics.contains("in_square_fraction")
                   ? (", in-square " + fmt(metrics["in_square_fraction"].get<double>())).c_str()
                   : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return app::main_guard("cfm2d", [&] { return run(argc, argv); }); }
