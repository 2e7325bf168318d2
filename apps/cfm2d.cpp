// cfm2d DATASET: conditional flow matching on a 2-D density. Trains the velocity MLP
// of the reference recipe, then samples it and draws the flow: the sampling
// evolution, a vector-field GIF, likelihood maps, the loss curve, and metrics.
//   ./apps/cfm2d checkerboard                 quick preset (a few minutes on 2 cores)
//   ./apps/cfm2d checkerboard --preset paper  the reference recipe
//   ./apps/cfm2d checkerboard --sample-only   redraw from outputs/cfm/checkerboard/ckpt
//                                             (.safetensors, or the reference's ckpt.pth)
//   ./apps/cfm2d checkerboard --coupling ot   minibatch OT-CFM (outputs/cfm_ot/checkerboard)
#include <cxxopts.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "apps/cli/dataset_dir.hpp"
#include "apps/cli/device.hpp"
#include "apps/cli/main_guard.hpp"
#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/flow2d/outputs.hpp"
#include "apps/flow2d/quality.hpp"
#include "apps/flow2d/train.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/ranks.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/sampling.hpp"
#include "datasets/npy.hpp"
#include "datasets/toy2d.hpp"
#include "engine/allocator.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/threads.hpp"
#include "flow/coupling.hpp"
#include "flow/scheduler.hpp"

using namespace fc;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string dataset, coupling = "independent", score, path = "condot", sample_path, device_choice = "auto";
  Device device = Device::CPU;
  int64_t hidden = 0, ot_block = 256;
  double sigma_min = 0.0, sinkhorn_reg = 0.05, sb_sigma = 1.0;
  app::RunOptions run;
  app::Flow2dOutputOptions out;
};

// quick finishes in about three minutes on 2 cores (plots included); paper is the
// reference recipe.
const app::RunDefaults kDefaults{12000, 20000, 2048, 4096, 1000, "",
                                 "output root; files go to OUTPUT/DATASET/ (default outputs/cfm, or "
                                 "outputs/cfm_ot, outputs/cfm_sinkhorn for those couplings)"};

// The options of the flow itself (beyond the run, output and device options every
// program has).
void add_flow_options(cxxopts::Options& o, Config& c) {
  o.add_options()
      ("hidden", "MLP width (quick 256, paper 512)", cxxopts::value<int64_t>(c.hidden))
      ("sigma-min", "σmin of the CFM path (0: straight lines)",
       cxxopts::value<double>(c.sigma_min)->default_value("0"))
      ("path", "probability path x_t = α_t x1 + σ_t x0: condot (α = t, σ = 1 - (1 - σmin) t), "
               "poly:N (α = t^N), linear-vp (σ = sqrt(1 - t²)), cosine (α = sin(πt/2), "
               "σ = cos(πt/2)) or vp (the VP SDE's schedule)",
       cxxopts::value<std::string>(c.path)->default_value("condot"))
      ("sample-path", "sample under this path instead of the one the model was trained under "
                      "(the schedule-transformed velocity; same forms as --path, σmin 0)",
       cxxopts::value<std::string>(c.sample_path))
      ("coupling", "how a batch pairs noise with data: independent (CFM), ot (exact minibatch "
                   "OT-CFM), sinkhorn (entropic plan) or sb (Schrödinger-bridge CFM: the entropic "
                   "plan with reg 2 S² and the Brownian-bridge path)",
       cxxopts::value<std::string>(c.coupling)->default_value("independent"))
      ("sb-sigma", "S, the bridge's noise scale of --coupling sb",
       cxxopts::value<double>(c.sb_sigma)->default_value("1"))
      ("ot-block", "rows per optimal-assignment block of a batch (ot, sinkhorn)",
       cxxopts::value<int64_t>(c.ot_block)->default_value("256"))
      ("sinkhorn-reg", "entropic regularisation of --coupling sinkhorn, relative to the mean cost",
       cxxopts::value<double>(c.sinkhorn_reg)->default_value("0.05"))
      ("score", "only score the N x 2 samples in this .npy file against DATASET (the metrics "
                "of metrics.json, printed as JSON); e.g. another implementation's samples",
       cxxopts::value<std::string>(c.score));
}

// One line naming the option for a value out of range or a path or coupling that does
// not parse; the paths made canonical ("poly:2.0" is poly:2), as checkpoints record them.
void check_flow_options(Config& c, const cxxopts::ParseResult& r) {
  app::require_real("sigma-min", c.sigma_min, 0, 1, app::Interval::OpenAbove);
  app::require_range("ot-block", c.ot_block, 1, 4096);
  // Sinkhorn's kernel exp(-cost / reg) underflows to 0 below about 1e-4 of the mean cost
  // and is flat above 1e4; the bridge's reg is 2 S², so S lives in [1e-3, 100].
  app::require_real("sinkhorn-reg", c.sinkhorn_reg, 1e-4, 1e4);
  app::require_real("sb-sigma", c.sb_sigma, 1e-3, 100);
  auto check = [](const char* option, const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      throw app::UsageError(std::string("option '--") + option + "': " + e.what());
    }
  };
  check("coupling", [&] { flow::parse_coupling(c.coupling); });
  check("path", [&] { c.path = flow::Scheduler::parse(c.path, c.sigma_min).name(); });
  if (!c.sample_path.empty())
    check("sample-path", [&] { c.sample_path = flow::Scheduler::parse(c.sample_path).name(); });
  if (c.coupling == "sb" && (r.count("path") || r.count("sample-path")))
    throw app::UsageError("option '--coupling sb': the bridge is its own path; drop --path and --sample-path");
  if (c.coupling == "sb" && c.sigma_min != 0)
    throw app::UsageError("option '--coupling sb': the bridge has no σmin; drop --sigma-min");
}

// outputs/cfm, outputs/cfm_ot, outputs/cfm_sb, outputs/cfm_cosine, outputs/cfm_ot_poly2...
std::string default_output(const Config& c) {
  std::string dir = "outputs/cfm";
  if (c.coupling != "independent") dir += "_" + c.coupling;
  if (c.path != "condot") dir += "_" + c.path;
  dir.erase(std::remove(dir.begin(), dir.end(), ':'), dir.end());
  return dir;
}

Config parse(int argc, char** argv) {
  cxxopts::Options o("cfm2d", "Conditional flow matching on a 2-D density: train, sample, plot.\n"
                              "DATASET: " + data::toy2d_help());
  Config c;
  app::add_run_options(o, c.run, kDefaults);
  add_flow_options(o, c);
  app::add_output_options(o, c.out);
  app::add_device_option(o, c.device_choice);
  auto r = app::parse_with_dataset(o, argc, argv, c.dataset, "density to learn");
  std::vector<app::PresetValue> presets = app::run_presets(c.run, kDefaults);
  presets.push_back({"hidden", &c.hidden, 256, 512});
  for (const app::PresetValue& p : app::output_presets(c.out)) presets.push_back(p);
  app::apply_preset(c.run.preset, presets, r);
  app::check_run_options(c.run, r);
  app::require_positive("hidden", c.hidden);
  app::check_output_options(c.out, r);
  c.device = app::resolve_device(c.device_choice);
  check_flow_options(c, r);
  if (c.run.output.empty()) c.run.output = default_output(c);
  return c;
}

using app::fmt;

// --score FILE: the metrics of another implementation's samples, printed as JSON.
int score_file(const Config& c, const data::Toy2d& density) {
  Tensor samples = data::load_npy(c.score);
  FC_CHECK(samples.ndim() == 2 && samples.dim(1) == 2 && samples.dim(0) >= 2,
           c.score << ": expected N x 2 samples, got shape " << samples.shape());
  app::require_finite_points(samples, c.score);
  nlohmann::json m;
  m["file"] = c.score;
  m["points"] = samples.dim(0);
  app::score_all_points(m, samples, density, static_cast<uint64_t>(c.run.seed));
  std::printf("%s\n", m.dump().c_str());
  return 0;
}

// What this run's objective writes into the checkpoint.
std::map<std::string, std::string> objective_metadata(const Config& c) {
  const bool bridge = c.coupling == "sb";
  std::map<std::string, std::string> meta = {{"dataset", c.dataset},
                                             {"sigma_min", fmt(c.sigma_min, 9)},
                                             {"objective", "cfm"},
                                             {"coupling", c.coupling},
                                             {"path", bridge ? "sb" : c.path}};
  if (bridge) meta["sb_sigma"] = fmt(c.sb_sigma, 9);
  if (c.coupling == "sinkhorn") meta["sinkhorn_reg"] = fmt(c.sinkhorn_reg, 9);
  if (c.coupling != "independent") meta["ot_block"] = std::to_string(c.ot_block);
  return meta;
}

// The settings --resume holds against the checkpoint's; checkpoints written before a key
// was recorded were trained with its default.
std::vector<app::ObjectiveSetting> resume_settings(const Config& c, std::map<std::string, std::string> meta) {
  std::vector<app::ObjectiveSetting> objective = {{"objective", "the objective", "cfm", "cfm"},
                                                  {"coupling", "--coupling", c.coupling, "independent"},
                                                  {"path", "--path", meta["path"], "condot"},
                                                  {"sigma_min", "--sigma-min", meta["sigma_min"], "0"}};
  if (c.coupling == "sb") objective.push_back({"sb_sigma", "--sb-sigma", meta["sb_sigma"], "1"});
  if (c.coupling == "sinkhorn") objective.push_back({"sinkhorn_reg", "--sinkhorn-reg", meta["sinkhorn_reg"], "0.05"});
  if (c.coupling != "independent") objective.push_back({"ot_block", "--ot-block", meta["ot_block"], "256"});
  return objective;
}

// The flow that is sampled: trained here, or read with --sample-only.
struct Model {
  std::unique_ptr<nn::MLP> mlp;
  std::string path;                         // the path it learned
  std::map<std::string, std::string> meta;  // its checkpoint's metadata
  nlohmann::json sampled_config;            // --sample-only: the checkpoint's settings
};

// --sample-only: the checkpoint (ours, or the reference's ckpt.pth), checked.
Model load_for_sampling(const Config& c, const std::string& ckpt) {
  app::LoadedMLP loaded = app::load_mlp_to_sample("cfm2d", ckpt, c.dataset, c.device);
  Model m;
  m.sampled_config = app::checkpoint_config(loaded, ckpt);
  m.mlp = std::move(loaded.mlp);
  m.path = app::trained_path_name(loaded.file.metadata);
  m.meta = loaded.file.metadata;
  if (m.path != "sb") app::trained_path(loaded.file.metadata, ckpt);  // checks it
  FC_CHECK(m.path != "sb" || c.sample_path.empty(),
           ckpt << ": an SB-CFM model has no affine path to transform; drop --sample-path");
  app::announce_device("cfm2d", c.device);
  if (dist::is_root()) std::fprintf(stderr, "cfm2d: sampling from %s\n", ckpt.c_str());
  return m;
}

// The training options of the reference's loop, as this run sets them.
app::FlowTrainOptions train_options(const Config& c, const std::string& dir, const std::string& ckpt) {
  app::FlowTrainOptions to;
  to.loop = app::run_loop_options(c.run, "cfm2d", dir, ckpt);
  if (c.coupling == "sb") to.bridge_sigma = static_cast<float>(c.sb_sigma);
  else to.path = flow::Scheduler::parse(c.path, c.sigma_min);
  to.device = c.device;
  return to;
}

// Trains model.mlp (resuming with --resume). Returns the exit code when the run ends
// here (interrupted, or --train-only), nothing when sampling follows.
std::optional<int> train(const Config& c, const data::Toy2d& density, const std::string& dir, const std::string& ckpt,
                         Model& model, Generator& gen, app::TrainState& state, nlohmann::json& metrics) {
  nn::MLPConfig mc;
  mc.hidden = c.hidden;
  model.mlp = std::make_unique<nn::MLP>(mc, gen);  // initialised on the host: the same on every device
  model.mlp->to(c.device);
  nn::MLP& mlp = *model.mlp;
  nn::AdamWOptions ao;
  ao.lr = static_cast<float>(c.run.lr);
  nn::AdamW opt(mlp, ao);
  if (c.run.resume) {
    app::resume_flow_mlp(ckpt, c.dataset, mlp, opt, gen, state, resume_settings(c, model.meta));
    if (dist::is_root())
      std::fprintf(stderr, "cfm2d: resuming at iteration %lld of %lld\n", static_cast<long long>(state.iteration),
                   static_cast<long long>(c.run.iterations));
  }
  app::announce_device("cfm2d", c.device);
  flow::CouplingOptions co;
  co.kind = flow::parse_coupling(c.coupling);
  co.block = c.ot_block;
  co.reg = c.coupling == "sb" ? 2 * c.sb_sigma * c.sb_sigma : c.sinkhorn_reg;
  // x1 is drawn before x0: the order every earlier run of cfm2d used.
  app::PairSource pairs = [&](int64_t batch, const dist::Rows& rows, Generator& g) {
    app::PairBatch p;
    p.x1 = density.sample(batch, g);
    p.x0 = g.normal(Shape{batch, 2});
    p.x1 = flow::couple(p.x0, p.x1, co, g);  // over the whole batch, on every rank
    return app::rows_of(p, rows);
  };
  app::FlowTrainOptions to = train_options(c, dir, ckpt);
  app::HostWaits waits;
  to.loop.host_waits = &waits;
  auto save = [&] {
    std::map<std::string, std::string> m = model.meta;
    for (auto& [k, v] : mlp.config().to_metadata()) m[k] = v;
    app::save_train_checkpoint(ckpt, mlp, &opt, gen, state, m);
  };
  double final_loss = 0;
  if (!app::train_flow_mlp(mlp, opt, gen, state, pairs, to, save, &final_loss)) return 130;
  metrics["final_loss"] = final_loss;
  app::record_host_waits("cfm2d", metrics, waits, c.device);
  if (!dist::is_root() && c.run.train_only) return 0;
  if (c.run.train_only) {
    app::write_losses_csv(dir + "/losses.csv", state.losses);
    std::fprintf(stderr, "cfm2d: trained; wrote %s (--train-only: no samples, plots or metrics)\n", ckpt.c_str());
    return 0;
  }
  return std::nullopt;
}

// Samples the model (under --sample-path when given) and writes the plots and
// metrics.json: the ranks sample together, rank 0 writes.
int write_outputs(const Config& c, const data::Toy2d& density, const std::string& dir, const std::string& ckpt,
                  const Model& model, Generator& gen, const app::TrainState& state, nlohmann::json& metrics,
                  Clock::time_point t_start) {
  app::Flow2dOutputOptions oo = c.out;
  oo.dir = dir;
  oo.dataset = c.dataset;
  oo.model = c.coupling == "independent" ? "CFM" : c.coupling == "ot" ? "OT-CFM"
            : c.coupling == "sb"        ? "SB-CFM" : "Sinkhorn-CFM";
  // Sampling under another path than the trained one goes through the schedule transform.
  // The plots and metrics hold host tensors; the model runs on its device.
  flow::VelocityFn velocity = app::velocity_on(c.device, app::mlp_velocity(*model.mlp));
  std::string sampled_under = model.path;
  if (!c.sample_path.empty() && c.sample_path != model.path) {
    velocity = app::sampling_velocity(velocity, app::trained_path(model.meta, ckpt), flow::Scheduler::parse(c.sample_path));
    sampled_under = c.sample_path;
  }
  if (model.path != "condot" && model.path != "sb") oo.model += " (" + model.path + ")";
  if (sampled_under != model.path) oo.model += " sampled under " + sampled_under;
  metrics["path"] = model.path;
  metrics["sample_path"] = sampled_under;
  oo.seed = static_cast<uint64_t>(c.run.seed);
  app::write_flow2d_outputs(velocity, density, state.losses, oo, gen, metrics);
  if (!dist::is_root()) return 0;  // the ranks sampled together; rank 0 writes the outputs
  metrics["time_total_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  app::record_peak_memory(metrics, c.device);
  nlohmann::json config = c.run.sample_only
                              ? model.sampled_config
                              : nlohmann::json{{"iterations", c.run.iterations}, {"batch_size", c.run.batch},
                                               {"hidden", model.mlp->config().hidden}, {"lr", c.run.lr},
                                               {"sigma_min", c.sigma_min}, {"coupling", c.coupling},
                                               {"path", c.path}, {"sb_sigma", c.sb_sigma}};
  app::add_sampling_config(config, c.out, c.run.seed);
  metrics["config"] = config;
  app::write_json(dir + "/metrics.json", metrics.dump(2));
  std::fprintf(stderr, "cfm2d: wrote %s/ (straightness %s, energy distance %s%s)\n", dir.c_str(),
               fmt(metrics["straightness"].get<double>()).c_str(), fmt(metrics["energy_distance"].get<double>()).c_str(),
               metrics.contains("in_square_fraction")
                   ? (", in-square " + fmt(metrics["in_square_fraction"].get<double>())).c_str()
                   : "");
  return 0;
}

int run(int argc, char** argv) {
  Config c = parse(argc, argv);
  set_num_threads(static_cast<int>(c.run.threads));
  data::Toy2d density(c.dataset);  // checks the name or the file before any work
  app::init_ranks(c.device);  // under mpirun: MPI and the ranks' device check, once the options are known good
  // Under mpirun the ranks train and sample together; scoring a file is rank 0's alone.
  if (!c.score.empty()) return dist::is_root() ? score_file(c, density) : 0;
  const std::string dir = c.run.output + "/" + app::dataset_dir_name(c.dataset);
  if (dist::is_root()) io::make_writable_dir(dir);  // a read-only folder fails now, not after training
  // --sample-only also takes the reference's ckpt.pth when the folder has only that.
  const std::string ckpt = c.run.sample_only ? app::checkpoint_in(dir) : dir + "/ckpt.safetensors";
  nlohmann::json metrics;
  metrics["dataset"] = c.dataset;
  metrics["device"] = app::describe_device(c.device);
  metrics["preset"] = c.run.preset;
  const auto t_start = Clock::now();

  Generator gen(static_cast<uint64_t>(c.run.seed));
  app::TrainState state;
  Model model;
  if (c.run.sample_only) {
    model = load_for_sampling(c, ckpt);
  } else {
    model.meta = objective_metadata(c);
    model.path = model.meta["path"];
    if (std::optional<int> ended = train(c, density, dir, ckpt, model, gen, state, metrics)) return *ended;
  }
  metrics["time_train_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  metrics["parameters"] = model.mlp->num_parameters();
  return write_outputs(c, density, dir, ckpt, model, gen, state, metrics, t_start);
}

}  // namespace

int main(int argc, char** argv) { return app::main_guard("cfm2d", [&] { return run(argc, argv); }); }
