#include "apps/train/sampling.hpp"

#include "engine/error.hpp"

namespace fc::app {

flow::VelocityFn sampling_velocity(const flow::VelocityFn& model, const flow::Scheduler& trained,
                                   const flow::Scheduler& sample_path) {
  if (sample_path.name() == trained.name() && sample_path.sigma_min() == trained.sigma_min()) return model;
  return flow::schedule_transformed_velocity(model, trained, sample_path);
}

std::string trained_path_name(const std::map<std::string, std::string>& metadata) {
  auto spec = metadata.find("path");
  return spec == metadata.end() ? "condot" : spec->second;
}

flow::Scheduler trained_path(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto smin = metadata.find("sigma_min");
  try {
    double sigma_min = smin == metadata.end() ? 0 : std::stod(smin->second);
    return flow::Scheduler::parse(trained_path_name(metadata), sigma_min);
  } catch (const std::exception& e) {
    FC_THROW(path << ": bad path in the metadata: " << e.what());
  }
}

std::vector<float> linspace01(int n) {
  std::vector<float> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = n == 1 ? 1.f : static_cast<float>(i) / (n - 1);
  return t;
}

const std::vector<int>& few_step_counts() {
  static const std::vector<int> k = {1, 2, 4, 8, 20};
  return k;
}

}  // namespace fc::app
