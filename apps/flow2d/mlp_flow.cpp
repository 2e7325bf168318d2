#include "apps/flow2d/mlp_flow.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/train/rank_split.hpp"
#include "apps/train/sampling.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/ops.hpp"
#include "nn/checkpoint.hpp"

namespace fc::app {

flow::VelocityFn mlp_velocity(nn::MLP& mlp) {
  return [&mlp](const Tensor& x, float t) {
    Tensor tt = Tensor::full(Shape{x.dim(0), 1}, t, x.device());
    return mlp.forward(concat({x, tt}, 1));
  };
}

LoadedMLP load_mlp_checkpoint(const std::string& path) {
  LoadedMLP out;
  out.file = nn::load_state_dict(path);  // safetensors, or the reference's .pth
  nn::MLPConfig cfg;
  try {
    cfg = nn::MLPConfig::from_checkpoint(out.file);  // the metadata's, or the shapes' of a foreign file
  } catch (const Error& e) {
    FC_THROW(path << ": " << e.what());
  }
  Generator init(0);
  out.mlp = std::make_unique<nn::MLP>(cfg, init);
  nn::load_parameters(*out.mlp, out.file, path);
  return out;
}

std::string checkpoint_in(const std::string& dir) {
  const std::string ours = dir + "/ckpt.safetensors", reference = dir + "/ckpt.pth";
  return !std::filesystem::exists(ours) && std::filesystem::exists(reference) ? reference : ours;
}

void check_trained_on(const LoadedMLP& model, const std::string& path, const std::string& dataset,
                      bool required) {
  auto it = model.file.metadata.find("dataset");
  bool known = it != model.file.metadata.end();
  FC_CHECK(known ? it->second == dataset : !required,
           path << ": trained on '" << (known ? it->second : "?") << "', not '" << dataset << "'");
}

LoadedMLP load_mlp_to_sample(const std::string& program, const std::string& path, const std::string& dataset,
                             Device device) {
  FC_CHECK(std::filesystem::exists(path),
           path << ": no checkpoint to sample from; train first with ./apps/" << program << " " << dataset);
  LoadedMLP loaded = load_mlp_checkpoint(path);
  check_trained_on(loaded, path, dataset);  // a foreign file without metadata is taken on trust
  loaded.mlp->to(device);
  return loaded;
}

nlohmann::json checkpoint_config(const LoadedMLP& model, const std::string& path) {
  const auto& meta = model.file.metadata;
  auto text = [&](const char* key) -> nlohmann::json {
    auto it = meta.find(key);
    return it == meta.end() ? nlohmann::json() : nlohmann::json(it->second);
  };
  auto number = [&](const char* key) -> nlohmann::json {
    auto it = meta.find(key);
    if (it == meta.end()) return nlohmann::json();
    try {
      return std::stod(it->second);
    } catch (const std::exception&) {
      FC_THROW(path << ": checkpoint metadata '" << key << "' is not a number: '" << it->second << "'");
    }
  };
  const nn::MLPConfig& mc = model.mlp->config();
  nlohmann::json c = {{"checkpoint", path},
                      {"architecture_from", meta.count("model") ? "metadata" : "parameter shapes"},
                      {"dataset", text("dataset")},
                      {"objective", text("objective")},
                      {"iterations", number("iteration")},
                      {"batch_size", nullptr},  // no checkpoint records them
                      {"lr", nullptr},
                      {"hidden", mc.hidden},
                      {"hidden_layers", mc.hidden_layers},
                      {"coupling", text("coupling")},
                      {"path", trained_path_name(meta)},
                      {"sigma_min", meta.count("sigma_min") ? number("sigma_min") : nlohmann::json(0.0)}};
  if (meta.count("sb_sigma")) c["sb_sigma"] = number("sb_sigma");
  for (const char* key : {"round", "teacher", "teacher_path", "teacher_weights"})  // reflow2d's
    if (meta.count(key)) c[key] = text(key);
  for (const char* key : {"teacher_steps", "pairs", "sinkhorn_reg", "ot_block"})
    if (meta.count(key)) c[key] = number(key);
  return c;
}

namespace {
// Batches bound the memory of a million-point run; a batch of 65,536 points at H=512
// keeps each activation at 128 MiB.
constexpr int64_t kSampleBatch = 1 << 16;
}  // namespace

std::vector<Tensor> sample_flow(nn::MLP& mlp, Generator& gen, int64_t count,
                                const std::vector<float>& times, const flow::OdeOptions& ode,
                                int64_t* nfe, const Tensor& x0_given) {
  return sample_flow(mlp_velocity(mlp), gen, count, times, ode, nfe, x0_given);
}

std::vector<Tensor> sample_flow(const flow::VelocityFn& v, Generator& gen, int64_t count,
                                const std::vector<float>& times, const flow::OdeOptions& ode,
                                int64_t* nfe, const Tensor& x0_given) {
  NoGradGuard no_grad;
  if (x0_given.defined()) count = x0_given.dim(0);
  std::vector<std::vector<Tensor>> parts(times.size());
  for (int64_t start = 0; start < count; start += kSampleBatch) {
    int64_t n = std::min(kSampleBatch, count - start);
    Tensor x0 = x0_given.defined() ? slice(x0_given, 0, start, start + n) : gen.normal(Shape{n, 2});
    flow::OdeResult r = flow::odeint(v, x0, times, ode);
    if (nfe && start == 0) *nfe += r.nfe;
    for (size_t i = 0; i < times.size(); ++i) parts[i].push_back(r.states[i]);
  }
  std::vector<Tensor> out;
  for (auto& p : parts) out.push_back(p.size() == 1 ? p[0] : concat(p, 0));
  return out;
}

std::vector<Tensor> sample_flow_over_ranks(const flow::VelocityFn& v, Generator& gen, int64_t count,
                                           const std::vector<float>& times, const flow::OdeOptions& ode,
                                           int64_t* nfe, const Tensor& x0_given) {
  if (!split_over_ranks(count)) {
    if (!dist::is_root()) return std::vector<Tensor>(times.size());
    return sample_flow(v, gen, count, times, ode, nfe, x0_given);
  }
  Tensor x0 = x0_given;
  if (!x0.defined()) {  // drawn as sample_flow draws them: a batch of normals at a time
    std::vector<Tensor> parts;
    for (int64_t start = 0; start < count; start += kSampleBatch)
      parts.push_back(gen.normal(Shape{std::min(kSampleBatch, count - start), 2}));
    x0 = parts.size() == 1 ? parts[0] : concat(parts, 0);
  }
  std::vector<Tensor> states = sample_flow(v, gen, 0, times, ode, nfe, my_rows_of(x0));
  for (Tensor& s : states) s = gather_rows_on_root(s, count);
  return states;
}

}  // namespace fc::app
