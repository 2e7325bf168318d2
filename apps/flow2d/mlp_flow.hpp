#pragma once
// The MLP of the 2-D programs (cfm2d, reflow2d, compare2d) as a velocity field: its
// checkpoints (loaded, checked against the density, their config for metrics.json) and
// sampling it with the ODE solvers, in one process or over the ranks.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/random.hpp"
#include "flow/ode.hpp"
#include "nn/mlp.hpp"
#include "nn/safetensors.hpp"

namespace fc::app {

// v(x, t) = mlp([x, t]) for points x [N, 2] and one time t.
flow::VelocityFn mlp_velocity(nn::MLP& mlp);

// Reads a checkpoint (refusing a missing or corrupt file, or one that holds no MLP,
// with one line naming the path) and builds the MLP it holds.
struct LoadedMLP {
  std::unique_ptr<nn::MLP> mlp;
  nn::SafetensorsFile file;
};
LoadedMLP load_mlp_checkpoint(const std::string& path);

// The checkpoint in an output folder: DIR/ckpt.safetensors, or the reference's
// DIR/ckpt.pth where only that is there (its outputs/ folder copied in as it is).
std::string checkpoint_in(const std::string& dir);

// Refuses, in one line naming the path, a model trained on another density. A file
// without the "dataset" key passes unless `required` (a resumed run must be its own).
void check_trained_on(const LoadedMLP& model, const std::string& path, const std::string& dataset,
                      bool required = false);

// --sample-only's model: the checkpoint at `path` (from checkpoint_in), moved to
// `device`. Refuses a missing file, in one line naming the command that trains one
// (./apps/PROGRAM DATASET), and a model of another density.
LoadedMLP load_mlp_to_sample(const std::string& program, const std::string& path, const std::string& dataset,
                             Device device);

// The "config" of a --sample-only run's metrics.json: the training settings are the
// checkpoint's (its metadata; null where it records none, as in a foreign state_dict:
// then the path is condot with σmin 0, as trained_path reads it), not this run's options,
// which trained nothing. The caller adds the sampling settings.
nlohmann::json checkpoint_config(const LoadedMLP& model, const std::string& path);

// Integrates `count` standard-normal points from t = 0 to 1 in batches, returning the
// states at `times` (concatenated over batches) and adding the NFE of one batch.
std::vector<Tensor> sample_flow(nn::MLP& mlp, Generator& gen, int64_t count,
                                const std::vector<float>& times, const flow::OdeOptions& ode,
                                int64_t* nfe = nullptr, const Tensor& x0 = Tensor());
// The same for any velocity field of 2-D points.
std::vector<Tensor> sample_flow(const flow::VelocityFn& v, Generator& gen, int64_t count,
                                const std::vector<float>& times, const flow::OdeOptions& ode,
                                int64_t* nfe = nullptr, const Tensor& x0 = Tensor());

// sample_flow over the ranks of a data-parallel run (apps/train/rank_split.hpp): every
// rank draws the x0 one process would draw and integrates its own rows of them; rank 0
// gets all the states, in order, the others undefined tensors. Every rank must call it.
std::vector<Tensor> sample_flow_over_ranks(const flow::VelocityFn& v, Generator& gen, int64_t count,
                                           const std::vector<float>& times, const flow::OdeOptions& ode,
                                           int64_t* nfe = nullptr, const Tensor& x0 = Tensor());

}  // namespace fc::app
