#pragma once
// The training loop of the 2-D programs. cfm2d, its OT-coupled variant and reflow2d
// differ only in where a batch's endpoints come from (independent draws, an optimal
// assignment of them, or a teacher flow's image of x0); the regression onto the path's
// velocity is the same, run by apps/train/loop (progress bar, checkpoints, Ctrl-C).
#include <cxxopts.hpp>

#include <functional>
#include <string>

#include "apps/cli/device.hpp"
#include "apps/cli/options.hpp"
#include "apps/cli/run_options.hpp"
#include "apps/train/loop.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/state.hpp"
#include "engine/dist.hpp"
#include "engine/random.hpp"
#include "engine/tensor.hpp"
#include "flow/scheduler.hpp"
#include "nn/data_parallel.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"

namespace fc::app {

// The options every 2-D training program takes: every program's (apps/cli/run_options.hpp)
// and --preset, --iterations, --batch-size, --lr, --sample-only, --train-only, --bucket-mb.
struct RunOptions : CommonRunOptions {
  std::string preset = "quick";
  int64_t iterations = 0, batch = 0;
  double lr = 1e-3;
  double bucket_mb = 1;  // under mpirun: the gradient all-reduce's buckets (MiB), 0: one after backward
  bool sample_only = false, train_only = false;
};
struct RunDefaults {
  int64_t iterations_quick, iterations_paper, batch_quick, batch_paper, checkpoint_every;
  std::string output, output_help;  // output: "" when the program computes it later
};
void add_run_options(cxxopts::Options& options, RunOptions& run, const RunDefaults& defaults);
// The preset entries of --iterations and --batch-size.
std::vector<PresetValue> run_presets(RunOptions& run, const RunDefaults& defaults);
void check_run_options(RunOptions& run, const cxxopts::ParseResult& given);
// --bucket-mb in bytes.
inline int64_t bucket_bytes(const RunOptions& run) { return static_cast<int64_t>(run.bucket_mb * 1048576.0); }

// One training batch of endpoints: row i of x0 (noise) is paired with row i of x1.
struct PairBatch {
  Tensor x0, x1;
};
// Draws a batch of `batch` pairs from gen and returns its rows [rows.begin, rows.end)
// (all of them with one rank). Every rank draws the same numbers, so gen stays the
// same on all ranks; a source whose pairs are row by row (reflow's teacher) computes
// its rows alone, one that needs the whole batch (an OT coupling) slices it.
using PairSource = std::function<PairBatch(int64_t batch, const dist::Rows& rows, Generator& gen)>;
// Rows [rows.begin, rows.end) of a whole batch (itself when the rows are all of it).
PairBatch rows_of(PairBatch whole, const dist::Rows& rows);

struct FlowTrainOptions {
  TrainLoopOptions loop;        // iterations, batch, checkpoints, files, ranks (no clipping:
                                // the 2-D recipe does not clip, whatever loop.clip says)
  flow::Scheduler path;         // the probability path (condot with σmin by default)
  float bridge_sigma = 0;       // > 0: the Schrödinger bridge of width S instead of path
  Device device = Device::CPU;  // where mlp lives: batches are moved there
};

// The loop options a 2-D program's run options give: PROGRAM names it in messages, the
// checkpoint and DIR/losses.csv are its files.
TrainLoopOptions run_loop_options(const RunOptions& run, const std::string& program, const std::string& dir,
                                  const std::string& checkpoint);

// Trains mlp from state.iteration to options.iterations on
//   ‖v(x_t, t) − u_t(x0, x1)‖²,  t ~ U(0, 1),  x_t and u_t of the affine path
//   (flow/scheduler), or of the Schrödinger bridge with one N(0, I) draw per row,
// calling save() every checkpoint_every iterations and at the end. On Ctrl-C it saves,
// writes the losses and returns false. Returns the smoothed final loss in *final_loss.
// Under mpirun (engine/dist.hpp) the ranks split each batch, average the gradients
// and stop together on Ctrl-C; save() and the losses file run on rank 0 alone.
bool train_flow_mlp(nn::MLP& mlp, nn::AdamW& opt, Generator& gen, TrainState& state,
                    const PairSource& pairs, const FlowTrainOptions& options,
                    const std::function<void()>& save, double* final_loss);

// Resuming: the checkpoint's width and dataset must match this run's, and so must every
// setting of `objective` (train_state.hpp); then its parameters, AdamW state, generator
// and losses are put back.
void resume_flow_mlp(const std::string& checkpoint, const std::string& dataset, nn::MLP& mlp,
                     nn::AdamW& opt, Generator& gen, TrainState& state,
                     const std::vector<ObjectiveSetting>& objective);

}  // namespace fc::app
