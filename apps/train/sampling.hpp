#pragma once
// How a trained flow is sampled, for the 2-D and the image programs alike: under
// which path it was trained, the velocity for another path, the times and step counts.
#include <map>
#include <string>
#include <vector>

#include "flow/ode.hpp"
#include "flow/scheduler.hpp"

namespace fc::app {

// The velocity to sample with under `sample_path`: the model's own when that is the path
// it was trained under, else the schedule-transformed one (flow/scheduler.hpp).
flow::VelocityFn sampling_velocity(const flow::VelocityFn& model, const flow::Scheduler& trained,
                                   const flow::Scheduler& sample_path);

// The path a checkpoint's model was trained under: its "path" and "sigma_min" metadata
// (condot, σmin 0 when absent: checkpoints from before --path). One line naming path on
// a bad value.
flow::Scheduler trained_path(const std::map<std::string, std::string>& metadata, const std::string& path);

// The name of that path alone: the "path" metadata, or "condot" where it is absent.
std::string trained_path_name(const std::map<std::string, std::string>& metadata);

// Evenly spaced times 0 ... 1 (n of them).
std::vector<float> linspace01(int n);

// The Euler step counts of the few-step table.
const std::vector<int>& few_step_counts();

}  // namespace fc::app
