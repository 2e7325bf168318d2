#include "apps/train/state.hpp"

#include <cctype>
#include <cstdint>

#include "engine/error.hpp"
#include "nn/checkpoint.hpp"

namespace fc::app {

void save_train_checkpoint(const std::string& path, nn::Module& model, nn::AdamW* opt,
                           const Generator& gen, const TrainState& state,
                           std::map<std::string, std::string> metadata,
                           std::vector<nn::NamedTensor> extra) {
  metadata["iteration"] = std::to_string(state.iteration);
  // The generator's state as decimal strings: 64-bit integers do not fit a float.
  metadata["rng_seed"] = std::to_string(gen.seed());
  metadata["rng_offset"] = std::to_string(gen.offset());
  if (opt) {
    metadata["adamw_step"] = std::to_string(opt->steps());
    extra.push_back({"optim.exp_avg", opt->exp_avg()});
    extra.push_back({"optim.exp_avg_sq", opt->exp_avg_sq()});
  }
  if (!state.losses.empty())
    extra.push_back({"train.losses", Tensor::from_vector(state.losses,
                                                         Shape{static_cast<int64_t>(state.losses.size())})});
  nn::save_checkpoint(path, model, metadata, extra);
}

void require_same_objective(const nn::SafetensorsFile& file, const std::string& path,
                            const std::vector<ObjectiveSetting>& settings) {
  for (const ObjectiveSetting& s : settings) {
    auto it = file.metadata.find(s.key);
    const std::string& was = it == file.metadata.end() ? s.absent : it->second;
    FC_CHECK(was == s.now, path << ": trained with " << s.option << " '" << was << "', this run '" << s.now
                                << "' (--resume continues the same objective: pass the same options, or "
                                   "train afresh without --resume)");
  }
}

uint64_t metadata_u64(const nn::SafetensorsFile& f, const std::string& path, const char* key) {
  auto it = f.metadata.find(key);
  FC_CHECK(it != f.metadata.end(), path << ": checkpoint has no '" << key << "' (not a training checkpoint)");
  try {
    // Digits only: stoull would take "-1" as 2^64 - 1.
    size_t used = 0;
    unsigned long long v = std::stoull(it->second, &used);
    if (used == it->second.size() && std::isdigit(static_cast<unsigned char>(it->second[0]))) return v;
  } catch (const std::exception&) {
  }
  FC_THROW(path << ": checkpoint metadata '" << key << "' is not an integer: '" << it->second << "'");
}

void restore_training(const nn::SafetensorsFile& file, const std::string& path, nn::AdamW& opt,
                      Generator& gen, TrainState& state) {
  const Tensor* m = file.find("optim.exp_avg");
  const Tensor* v = file.find("optim.exp_avg_sq");
  FC_CHECK(m && v, path << ": checkpoint has no optimizer state; cannot resume training from it");
  FC_CHECK(m->numel() == opt.exp_avg().numel() && v->numel() == opt.exp_avg_sq().numel(),
           path << ": optimizer state does not match the model");
  opt.exp_avg().copy_(m->to(opt.exp_avg().device()));
  opt.exp_avg_sq().copy_(v->to(opt.exp_avg_sq().device()));
  const uint64_t steps = metadata_u64(file, path, "adamw_step"), iteration = metadata_u64(file, path, "iteration");
  FC_CHECK(steps <= INT64_MAX && iteration <= INT64_MAX,
           path << ": checkpoint's adamw_step " << steps << " or iteration " << iteration << " is out of range");
  opt.set_steps(static_cast<int64_t>(steps));
  gen.set_state(metadata_u64(file, path, "rng_seed"), metadata_u64(file, path, "rng_offset"));
  state.iteration = static_cast<int64_t>(iteration);
  state.losses.clear();
  if (const Tensor* l = file.find("train.losses")) state.losses = l->to_vector();
  FC_CHECK(static_cast<int64_t>(state.losses.size()) == state.iteration,
           path << ": checkpoint holds " << state.losses.size() << " losses for "
                << state.iteration << " iterations");
}

}  // namespace fc::app
