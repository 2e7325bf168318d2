#include "apps/flow2d/train.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/cli/thread_count.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/train/loop.hpp"
#include "engine/dist.hpp"
#include "engine/ops.hpp"
#include "flow/path.hpp"
#include "flow/scheduler.hpp"
#include "nn/checkpoint.hpp"
#include "nn/data_parallel.hpp"

namespace fc::app {

void add_run_options(cxxopts::Options& o, RunOptions& run, const RunDefaults& d) {
  auto presets = [](int64_t quick, int64_t paper) {
    return " (quick " + std::to_string(quick) + ", paper " + std::to_string(paper) + ")";
  };
  o.add_options()
      ("preset", "quick (default, minutes on a laptop) or paper (the reference recipe)",
       cxxopts::value<std::string>(run.preset))
      ("iterations", "training iterations" + presets(d.iterations_quick, d.iterations_paper),
       cxxopts::value<int64_t>(run.iterations))
      ("batch-size", "training batch size" + presets(d.batch_quick, d.batch_paper),
       cxxopts::value<int64_t>(run.batch))
      ("lr", "AdamW learning rate", cxxopts::value<double>(run.lr)->default_value("1e-3"));
  add_common_run_options(o, run, {"0", std::to_string(d.checkpoint_every), d.output, d.output_help,
                                  "continue training from OUTPUT/DATASET/ckpt.safetensors"});
  o.add_options()
      ("sample-only", "skip training: sample and plot from the checkpoint")
      ("train-only", "only train: the checkpoint and losses.csv, no samples, plots or metrics "
                     "(draw them later with --sample-only)")
      ("bucket-mb", "under mpirun: all-reduce the gradients in buckets of this many MiB as backward "
                    "produces them (0: in one piece after backward)",
       cxxopts::value<double>(run.bucket_mb)->default_value("1"));
}

std::vector<PresetValue> run_presets(RunOptions& run, const RunDefaults& d) {
  return {{"iterations", &run.iterations, d.iterations_quick, d.iterations_paper},
          {"batch-size", &run.batch, d.batch_quick, d.batch_paper}};
}

void check_run_options(RunOptions& run, const cxxopts::ParseResult& given) {
  run.sample_only = given.count("sample-only") > 0;
  run.train_only = given.count("train-only") > 0;
  require_positive("iterations", run.iterations);
  require_positive("batch-size", run.batch);
  check_common_run_options(run, given);
  if (!(run.lr > 0 && std::isfinite(run.lr))) throw UsageError("option '--lr': must be positive");
  if (!(run.bucket_mb >= 0 && run.bucket_mb <= 1024))
    throw UsageError("option '--bucket-mb': must be between 0 and 1024 (MiB)");
  if (run.resume && run.sample_only)
    throw UsageError("options '--resume' and '--sample-only' exclude each other");
  if (run.train_only && run.sample_only)
    throw UsageError("options '--train-only' and '--sample-only' exclude each other");
  if (!run.sample_only) require_batch_split("batch-size", run.batch);
}

TrainLoopOptions run_loop_options(const RunOptions& run, const std::string& program, const std::string& dir,
                                  const std::string& checkpoint) {
  TrainLoopOptions to;
  to.iterations = run.iterations;
  to.batch = run.batch;
  to.checkpoint_every = run.checkpoint_every;
  to.interrupt_at = run.interrupt_at;
  to.bucket_bytes = bucket_bytes(run);
  to.program = program;
  to.checkpoint = checkpoint;
  to.losses_csv = dir + "/losses.csv";
  return to;
}

PairBatch rows_of(PairBatch whole, const dist::Rows& rows) {
  if (rows.begin == 0 && rows.end == whole.x0.dim(0)) return whole;
  return {slice(whole.x0, 0, rows.begin, rows.end), slice(whole.x1, 0, rows.begin, rows.end)};
}

bool train_flow_mlp(nn::MLP& mlp, nn::AdamW& opt, Generator& gen, TrainState& state,
                    const PairSource& pairs, const FlowTrainOptions& o,
                    const std::function<void()>& save, double* final_loss) {
  // Under mpirun every rank draws the whole batch's numbers from the same generator
  // (2-D points cost next to nothing beside the MLP, and an OT coupling needs all of
  // them) and computes its rows; the generator, and so the checkpoint, is the same on
  // every rank and for any number of ranks. Rank 0 alone writes files.
  LossFn loss = [&](int64_t, const dist::Rows& rows) {
    const bool split = rows.count() != o.loop.batch;
    PairBatch p = pairs(o.loop.batch, rows, gen);
    // The batch is built where its points are. 2-D points are drawn on the host, so the
    // path's x_t and target are made there too and go to the device as two copies (eight
    // tiny kernels on a GPU before, in a step that launch overhead dominates); a
    // teacher's pairs (reflow2d) are on the device already and are combined there.
    const Device at = p.x0.device();
    // t is drawn on the host (the same numbers as on the device): the paths' per-row
    // coefficients are computed from it there, with no wait for the device.
    Tensor t = gen.uniform(Shape{o.loop.batch, 1}, 0.f, 1.f);
    if (split) t = slice(t, 0, rows.begin, rows.end);
    Tensor xt, target;
    if (o.bridge_sigma > 0) {
      Tensor eps = gen.normal(Shape{o.loop.batch, 2}, 0.f, 1.f, at);  // the whole batch's, as t
      if (split) eps = slice(eps, 0, rows.begin, rows.end);
      xt = flow::sb_interpolate(p.x0, p.x1, t, eps, o.bridge_sigma);
      target = flow::sb_target(p.x0, p.x1, t, eps, o.bridge_sigma);
    } else {
      xt = flow::affine_interpolate(p.x0, p.x1, t, o.path);
      target = flow::affine_target(p.x0, p.x1, t, o.path);
    }
    Tensor input = concat({xt, t.to(at)}, 1).to(o.device);
    return mse_loss(mlp.forward(input), target.to(o.device));
  };
  TrainLoopOptions to = o.loop;
  to.clip = 0;  // the 2-D recipe does not clip
  double smooth = 0;
  if (!train_loop(mlp, opt, nullptr, state, loss, to, save, &smooth)) return false;
  if (dist::is_root()) save();
  if (final_loss) *final_loss = smooth;
  return true;
}

void resume_flow_mlp(const std::string& ckpt, const std::string& dataset, nn::MLP& mlp,
                     nn::AdamW& opt, Generator& gen, TrainState& state,
                     const std::vector<ObjectiveSetting>& objective) {
  FC_CHECK(std::filesystem::exists(ckpt), ckpt << ": nothing to resume (no checkpoint)");
  LoadedMLP loaded = load_mlp_checkpoint(ckpt);
  FC_CHECK(loaded.mlp->config().hidden == mlp.config().hidden,
           ckpt << ": checkpoint has hidden " << loaded.mlp->config().hidden << ", this run "
                << mlp.config().hidden << " (pass the same options to --resume)");
  check_trained_on(loaded, ckpt, dataset, true);
  require_same_objective(loaded.file, ckpt, objective);
  nn::load_parameters(mlp, loaded.file, ckpt);
  restore_training(loaded.file, ckpt, opt, gen, state);
}

}  // namespace fc::app
