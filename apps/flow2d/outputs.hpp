#pragma once
// What every 2-D program writes after training (cfm2d, reflow2d): samples.npy, the
// sampling-evolution strip, the vector-field GIF, the likelihood map, the loss curve,
// and the metrics (sample quality, held-out log-likelihood, straightness, few-step
// quality, NFE, times).
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "apps/cli/options.hpp"
#include "datasets/toy2d.hpp"
#include "engine/random.hpp"
#include "flow/ode.hpp"

namespace fc::app {

struct Flow2dOutputOptions {
  std::string dir, dataset;
  std::string model = "CFM";  // names the model in the plot titles
  std::string method = "midpoint";
  int64_t steps = 20, samples = 0, gif_samples = 0, frames = 101, grid = 0, probes = 10;
  int64_t eval_points = 0;
  int64_t quality_points = 20000;  // trajectories for straightness and few-step quality
  uint64_t seed = 0;
  bool plots = true;
};

// The sampling and plot options every 2-D program takes (--method, --steps, --samples,
// --gif-samples, --frames, --grid, --probes, --eval-points, --no-plots), their preset
// values, and their checks (one line naming the option).
void add_output_options(cxxopts::Options& options, Flow2dOutputOptions& o);
std::vector<PresetValue> output_presets(Flow2dOutputOptions& o);
void check_output_options(Flow2dOutputOptions& o, const cxxopts::ParseResult& given);

// The sampling settings of metrics.json's "config" (method, steps, samples, seed, threads).
void add_sampling_config(nlohmann::json& config, const Flow2dOutputOptions& options, int64_t seed);

// Writes the files into options.dir and adds their numbers to metrics. `losses` may be
// empty (sampling only: no loss curve). `gen` draws the sampling noise. v is the model's
// velocity (app::mlp_velocity, or sampling_velocity under another path). Under mpirun
// every rank calls it: the sampling is split over the ranks, and rank 0 alone scores,
// plots and writes (the others return once their share is gathered).
void write_flow2d_outputs(const flow::VelocityFn& v, const data::Toy2d& density, const std::vector<float>& losses,
                          const Flow2dOutputOptions& options, Generator& gen, nlohmann::json& metrics);

}  // namespace fc::app
