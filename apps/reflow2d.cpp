// reflow2d DATASET: rectified flow (Liu et al. 2023) distilled from a trained CFM model.
// Each iteration draws x0, integrates the teacher to x1 = Φ(x0) (midpoint, 20 steps), and
// regresses x1 - x0 on the straight line between them, starting from the teacher's
// weights. The paths of the new flow are straighter, so it samples in a few steps.
//   ./apps/cfm2d checkerboard && ./apps/reflow2d checkerboard     quick preset
//   ./apps/reflow2d checkerboard --preset paper                    the reference recipe
//   ./apps/reflow2d checkerboard --pairs 100000                    train on fixed pairs
//   ./apps/reflow2d checkerboard --rounds 2                        2-rectified flow
#include <cxxopts.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "apps/cli/dataset_dir.hpp"
#include "apps/cli/device.hpp"
#include "apps/cli/interrupt.hpp"
#include "apps/cli/main_guard.hpp"
#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/cli/progress.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/flow2d/outputs.hpp"
#include "apps/flow2d/train.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/pairs_record.hpp"
#include "apps/train/ranks.hpp"
#include "apps/train/reflow_rounds.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/sampling.hpp"
#include "datasets/npy.hpp"
#include "datasets/toy2d.hpp"
#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/ops.hpp"
#include "engine/threads.hpp"
#include "nn/checkpoint.hpp"
#include "nn/data_parallel.hpp"

using namespace fc;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string dataset, pretrained, device_choice = "auto";
  Device device = Device::CPU;
  int64_t teacher_steps = 20, pairs = 0, rounds = 1;
  app::RunOptions run;
  app::Flow2dOutputOptions out;
};

const app::RunDefaults kDefaults{1000, 2000, 2048, 4096, 500, "outputs/reflow",
                                 "output root; files go to OUTPUT/DATASET/"};

Config parse(int argc, char** argv) {
  cxxopts::Options o("reflow2d",
                     "Rectified flow on a 2-D density, distilled from a trained CFM model: "
                     "train, sample, plot.\nDATASET: " + data::toy2d_help());
  Config c;
  app::add_run_options(o, c.run, kDefaults);
  o.add_options()
      ("pretrained", "CFM checkpoint to reflow, safetensors or a PyTorch .pth (default "
                     "outputs/cfm/DATASET/ckpt.safetensors, or ckpt.pth there)",
       cxxopts::value<std::string>(c.pretrained))
      ("teacher-steps", "midpoint steps that integrate the teacher to make a pair",
       cxxopts::value<int64_t>(c.teacher_steps)->default_value("20"))
      ("pairs", "generate this many pairs once and train on them (0: fresh pairs every "
                "iteration, the reference recipe)",
       cxxopts::value<int64_t>(c.pairs)->default_value("0"))
      ("rounds", "k-rectified flow: reflow the reflowed model k - 1 more times (iterations per round)",
       cxxopts::value<int64_t>(c.rounds)->default_value("1"));
  app::add_output_options(o, c.out);
  app::add_device_option(o, c.device_choice);
  auto r = app::parse_with_dataset(o, argc, argv, c.dataset, "density of the pretrained model");
  std::vector<app::PresetValue> presets = app::run_presets(c.run, kDefaults);
  for (const app::PresetValue& p : app::output_presets(c.out)) presets.push_back(p);
  app::apply_preset(c.run.preset, presets, r);
  app::check_run_options(c.run, r);
  app::require_range("teacher-steps", c.teacher_steps, 1, 10000);
  app::require_range("pairs", c.pairs, 0, 1 << 24);  // ids travel as float32
  app::require_range("rounds", c.rounds, 1, 100);
  app::check_output_options(c.out, r);
  c.device = app::resolve_device(c.device_choice);
  if (c.pretrained.empty()) c.pretrained = app::checkpoint_in("outputs/cfm/" + app::dataset_dir_name(c.dataset));
  return c;
}

// The teacher of a round: the pretrained CFM model for round 1, the finished model of
// the previous round after that. Refuses a missing file (naming the command that makes
// it) and a model of another density.
app::LoadedMLP load_teacher(const Config& c, const std::string& path, int64_t round) {
  if (!std::filesystem::exists(path)) {
    if (round == 1)
      FC_THROW(path << ": no pretrained CFM model; train one with ./apps/cfm2d " << c.dataset
                    << " (or name it with --pretrained)");
    FC_THROW(path << ": the model of round " << round - 1 << " is missing; rerun without --resume");
  }
  app::LoadedMLP t = app::load_mlp_checkpoint(path);
  app::check_trained_on(t, path, c.dataset);
  return t;
}

// x1 = Φ(x0): the teacher's flow from t = 0 to 1 (midpoint, `steps` steps).
Tensor teacher_image(nn::MLP& teacher, const Tensor& x0, int64_t steps) {
  NoGradGuard no_grad;
  flow::OdeOptions ode;
  ode.method = flow::Method::Midpoint;
  ode.step_size = 1.f / static_cast<float>(steps);
  return flow::odeint(app::mlp_velocity(teacher), x0, {0.f, 1.f}, ode).states.back();
}

// The files of round R's --pairs in DIR: STEM_x0.npy, STEM_x1.npy and the record STEM.json.
std::string pairs_stem(const std::string& dir, int64_t round) { return dir + "/pairs_round" + std::to_string(round); }

// The --pairs variant: N pairs made once per round from their own generator, so a
// resumed run rebuilds exactly the same set. They are written to the output folder with
// their record (apps/train/pairs_record.hpp) when made, and when a signal stops them:
// --resume continues an unfinished set and reads a whole one, if its teacher and
// settings are this run's.
app::PairBatch offline_pairs(nn::MLP& teacher, const std::string& teacher_path, const Config& c,
                             const std::string& dir, int64_t round) {
  const uint64_t seed = static_cast<uint64_t>(c.run.seed) + 5000011 + static_cast<uint64_t>(round);
  Generator g(seed);
  app::PairBatch all;
  all.x0 = g.normal(Shape{c.pairs, 2}, 0.f, 1.f, c.device);
  const std::string stem = pairs_stem(dir, round);
  app::PairsRecord record{teacher_path, nn::parameter_checksum(teacher), c.teacher_steps, 0.0, seed, c.pairs, 0};
  std::vector<Tensor> parts;
  if (c.run.resume) {
    if (std::optional<app::PairsRecord> found = app::read_pairs_record(stem)) {
      app::check_pairs_record(stem, *found, record);
      Tensor x1 = data::load_npy(stem + "_x1.npy");
      FC_CHECK(x1.ndim() == 2 && x1.dim(0) == found->made && x1.dim(1) == 2,
               stem << "_x1.npy: holds an array of shape " << x1.shape() << ", not the " << found->made
                    << " pairs of its record; remove " << stem << "_*.npy and " << stem << ".json");
      record.made = found->made;
      if (record.made > 0) parts.push_back(x1.to(c.device));
    }
  }
  auto save = [&] {  // rank 0 writes; every rank made the same pairs
    if (!dist::is_root() || record.made == 0) return;
    data::save_npy(stem + "_x0.npy", slice(all.x0, 0, 0, record.made).to(Device::CPU));
    data::save_npy(stem + "_x1.npy", (parts.size() == 1 ? parts[0] : concat(parts, 0)).to(Device::CPU));
    app::write_pairs_record(stem, record);
  };
  const int64_t chunk = 1 << 16, resumed = record.made;
  app::Phase phase("making pairs");
  app::ProgressBar bar(c.pairs, "pairs", resumed);
  try {
    for (int64_t s = resumed; s < c.pairs; s += chunk) {
      int64_t e = std::min(c.pairs, s + chunk);
      parts.push_back(teacher_image(teacher, slice(all.x0, 0, s, e), c.teacher_steps));
      record.made = e;
      bar.update(e);
    }
  } catch (const app::Interrupted&) {
    if (record.made > resumed) save();
    throw app::interrupted_error(app::kept_pairs(stem, record));
  }
  bar.finish();
  if (record.made > resumed) save();
  all.x1 = parts.size() == 1 ? parts[0] : concat(parts, 0);
  return all;
}

using app::fmt;

// --sample-only: the checkpoint's model, and its settings for metrics.json.
std::unique_ptr<nn::MLP> load_for_sampling(const Config& c, const std::string& dir, const std::string& ckpt,
                                           nlohmann::json& sampled_config) {
  app::LoadedMLP loaded = app::load_mlp_to_sample("reflow2d", ckpt, c.dataset, c.device);
  if (dist::is_root()) io::make_writable_dir(dir);
  sampled_config = app::checkpoint_config(loaded, ckpt);
  app::announce_device("reflow2d", c.device);
  if (dist::is_root()) std::fprintf(stderr, "reflow2d: sampling from %s\n", ckpt.c_str());
  return std::move(loaded.mlp);
}

// Where a round's student learns from: pairs made once (--pairs), or the teacher run
// on fresh noise every iteration, this rank's rows alone.
app::PairSource round_pairs(const Config& c, nn::MLP& teacher, const app::PairBatch& fixed) {
  if (c.pairs > 0)
    return [&c, &fixed](int64_t batch, const dist::Rows& rows, Generator& g) {
      Tensor ids = slice(g.randint(Shape{batch}, 0, c.pairs, c.device), 0, rows.begin, rows.end);
      return app::PairBatch{embedding(fixed.x0, ids), embedding(fixed.x1, ids)};
    };
  return [&c, &teacher](int64_t batch, const dist::Rows& rows, Generator& g) {
    Tensor x0 = slice(g.normal(Shape{batch, 2}, 0.f, 1.f, c.device), 0, rows.begin, rows.end);
    return app::PairBatch{x0, teacher_image(teacher, x0, c.teacher_steps)};
  };
}

// What a round's checkpoint records besides the MLP's config.
std::map<std::string, std::string> round_metadata(const Config& c, int64_t round, const std::string& teacher_path,
                                                  const app::LoadedMLP& teacher, const std::string& teacher_weights) {
  std::map<std::string, std::string> m = {{"dataset", c.dataset},      {"objective", "reflow"},
                                          {"round", std::to_string(round)},
                                          {"teacher", teacher_path}, {"sigma_min", "0"},
                                          {"path", "condot"}, {"teacher_weights", teacher_weights},
                                          {"teacher_steps", std::to_string(c.teacher_steps)},
                                          {"pairs", std::to_string(c.pairs)}};
  // Whatever path the teacher learned, its pairs are the endpoints of its own flow and
  // the student regresses the straight line between them.
  m["teacher_path"] = app::trained_path_name(teacher.file.metadata);
  return m;
}

// One round: the student starts from its teacher's weights, as in the reference, and
// learns the teacher's flow (resuming the checkpoint when `resuming`). False when a
// signal stopped it.
bool train_round(const Config& c, const std::string& dir, const std::string& ckpt, const app::ReflowRounds& round_plan,
                 int64_t round, bool resuming, Generator& gen, app::TrainState& state, std::unique_ptr<nn::MLP>& mlp,
                 double* final_loss) {
  const std::string teacher_path = round_plan.teacher_of(round);
  app::LoadedMLP teacher = load_teacher(c, teacher_path, round);
  teacher.mlp->to(c.device);
  Generator init(0);
  mlp = std::make_unique<nn::MLP>(teacher.mlp->config(), init);
  mlp->to(c.device);
  nn::load_parameters(*mlp, teacher.file, teacher_path);
  nn::AdamWOptions ao;
  ao.lr = static_cast<float>(c.run.lr);
  nn::AdamW opt(*mlp, ao);
  // What this round learns: the flow of this teacher, integrated so, on these pairs.
  const std::string teacher_weights = std::to_string(nn::parameter_checksum(*teacher.mlp));
  if (resuming) {
    const std::string teacher_option =
        round == 1 ? "--pretrained weights (checksum)" : "the teacher " + teacher_path + " (checksum)";
    app::resume_flow_mlp(ckpt, c.dataset, *mlp, opt, gen, state,
                         {{"objective", "the objective", "reflow", "cfm"},
                          {"teacher_weights", teacher_option, teacher_weights, "not recorded"},
                          {"teacher_steps", "--teacher-steps", std::to_string(c.teacher_steps), "20"},
                          {"pairs", "--pairs", std::to_string(c.pairs), "0"}});
    round_plan.announce_resume(round, state.iteration, c.run.iterations);
  } else {
    state = app::TrainState{};
  }
  round_plan.announce(round, teacher_path);
  const app::PairBatch fixed = c.pairs > 0 ? offline_pairs(*teacher.mlp, teacher_path, c, dir, round) : app::PairBatch{};
  app::FlowTrainOptions to;
  to.loop = app::run_loop_options(c.run, "reflow2d", dir, ckpt);
  to.loop.interrupt_at = round == c.rounds ? c.run.interrupt_at : -1;
  to.device = c.device;
  auto save = [&] {
    std::map<std::string, std::string> m = round_metadata(c, round, teacher_path, teacher, teacher_weights);
    for (auto& [k, v] : mlp->config().to_metadata()) m[k] = v;
    app::save_train_checkpoint(ckpt, *mlp, &opt, gen, state, m);
  };
  return app::train_flow_mlp(*mlp, opt, gen, state, round_pairs(c, *teacher.mlp, fixed), to, save, final_loss);
}

// Every round from the first one not done. Returns the exit code when the run ends here
// (interrupted, or --train-only), nothing when sampling follows.
std::optional<int> train_rounds(const Config& c, const std::string& dir, const std::string& ckpt,
                                const app::ReflowRounds& round_plan, Generator& gen, app::TrainState& state,
                                std::unique_ptr<nn::MLP>& mlp, nlohmann::json& metrics) {
  // A signal before the first checkpoint (while the pairs are made) leaves no checkpoint
  // but the pairs' record: --resume then continues the pairs and starts the training.
  const bool from_checkpoint = c.run.resume && std::filesystem::exists(ckpt);
  if (c.run.resume && !from_checkpoint) {
    FC_CHECK(c.pairs > 0 && app::read_pairs_record(pairs_stem(dir, 1)), ckpt << ": nothing to resume (no checkpoint)");
    if (dist::is_root()) std::fprintf(stderr, "reflow2d: no checkpoint yet: starting the training, on the pairs begun before\n");
  }
  const int64_t first_round = round_plan.first_round(ckpt, from_checkpoint);
  if (!from_checkpoint) load_teacher(c, c.pretrained, 1);  // a clear error before any directory is made
  if (dist::is_root()) io::make_writable_dir(dir);  // a read-only folder fails now, not after training
  app::announce_device("reflow2d", c.device);
  nlohmann::json round_losses = nlohmann::json::array();
  for (int64_t round = first_round; round <= c.rounds; ++round) {
    double final_loss = 0;
    const bool resuming = from_checkpoint && round == first_round;
    if (!train_round(c, dir, ckpt, round_plan, round, resuming, gen, state, mlp, &final_loss)) return 130;
    round_losses.push_back(final_loss);
    round_plan.keep_as_teacher(ckpt, round);
    dist::barrier();  // every rank reads the next round's teacher
  }
  if (!dist::is_root() && c.run.train_only) return 0;
  if (c.run.train_only) {
    app::write_losses_csv(dir + "/losses.csv", state.losses);
    std::fprintf(stderr, "reflow2d: trained; wrote %s (--train-only: no samples, plots or metrics)\n", ckpt.c_str());
    return 0;
  }
  metrics["final_loss"] = round_losses.back();
  metrics["final_loss_per_round"] = round_losses;
  return std::nullopt;
}

// Samples the model and writes the plots and metrics.json: the ranks sample together,
// rank 0 writes.
int write_outputs(const Config& c, const data::Toy2d& density, const std::string& dir, nn::MLP& mlp, Generator& gen,
                  const app::TrainState& state, const nlohmann::json& sampled_config, nlohmann::json& metrics,
                  Clock::time_point t_start) {
  app::Flow2dOutputOptions oo = c.out;
  oo.dir = dir;
  oo.dataset = c.dataset;
  oo.model = c.rounds > 1 ? std::to_string(c.rounds) + "-rectified flow" : "Reflow";
  oo.seed = static_cast<uint64_t>(c.run.seed);
  app::write_flow2d_outputs(app::velocity_on(c.device, app::mlp_velocity(mlp)), density, state.losses, oo, gen, metrics);
  if (!dist::is_root()) return 0;  // the ranks sampled together; rank 0 writes the outputs
  metrics["time_total_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  app::record_peak_memory(metrics, c.device);
  nlohmann::json config = c.run.sample_only
                              ? sampled_config
                              : nlohmann::json{{"iterations", c.run.iterations}, {"batch_size", c.run.batch},
                                               {"lr", c.run.lr}, {"teacher_steps", c.teacher_steps},
                                               {"pairs", c.pairs}, {"rounds", c.rounds}};
  app::add_sampling_config(config, c.out, c.run.seed);
  metrics["config"] = config;
  app::write_json(dir + "/metrics.json", metrics.dump(2));
  std::fprintf(stderr, "reflow2d: wrote %s/ (straightness %s, energy distance %s)\n", dir.c_str(),
               fmt(metrics["straightness"].get<double>()).c_str(), fmt(metrics["energy_distance"].get<double>()).c_str());
  return 0;
}

int run(int argc, char** argv) {
  Config c = parse(argc, argv);
  set_num_threads(static_cast<int>(c.run.threads));
  data::Toy2d density(c.dataset);
  app::init_ranks(c.device);  // under mpirun: MPI and the ranks' device check, once the options are known good
  const std::string dir = c.run.output + "/" + app::dataset_dir_name(c.dataset);
  const std::string ckpt = c.run.sample_only ? app::checkpoint_in(dir) : dir + "/ckpt.safetensors";
  const app::ReflowRounds round_plan("reflow2d", dir, c.rounds, c.pretrained);
  nlohmann::json metrics;
  metrics["dataset"] = c.dataset;
  metrics["device"] = app::describe_device(c.device);
  metrics["preset"] = c.run.preset;
  metrics["pretrained"] = c.pretrained;
  const auto t_start = Clock::now();

  Generator gen(static_cast<uint64_t>(c.run.seed));
  std::unique_ptr<nn::MLP> mlp;
  app::TrainState state;
  nlohmann::json sampled_config;  // --sample-only: the checkpoint's settings
  if (c.run.sample_only)
    mlp = load_for_sampling(c, dir, ckpt, sampled_config);
  else if (std::optional<int> ended = train_rounds(c, dir, ckpt, round_plan, gen, state, mlp, metrics))
    return *ended;
  metrics["time_train_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  metrics["parameters"] = mlp->num_parameters();
  return write_outputs(c, density, dir, *mlp, gen, state, sampled_config, metrics, t_start);
}

}  // namespace

int main(int argc, char** argv) { return app::main_guard("reflow2d", [&] { return run(argc, argv); }); }
