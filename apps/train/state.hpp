#pragma once
// Training state in checkpoints, for any model: the parameters, AdamW's moments and
// step, the generator's state, the iteration and the losses so far, so that a run
// interrupted with Ctrl-C continues (--resume) exactly where it stopped.
#include <map>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"

namespace fc::app {

struct TrainState {
  int64_t iteration = 0;
  std::vector<float> losses;
};

// Writes the model, AdamW's state (if opt), the generator's state, the losses and
// `extra` tensors, with `metadata` (the model config among it) in the header; atomic.
void save_train_checkpoint(const std::string& path, nn::Module& model, nn::AdamW* opt,
                           const Generator& gen, const TrainState& state,
                           std::map<std::string, std::string> metadata,
                           std::vector<nn::NamedTensor> extra = {});

// Puts AdamW's moments and step, the generator's state and the losses of a
// checkpoint back, to continue training exactly where it stopped.
void restore_training(const nn::SafetensorsFile& file, const std::string& path, nn::AdamW& opt,
                      Generator& gen, TrainState& state);

// One setting that defines what a run learns (its loss, path, coupling, teacher), as a
// checkpoint's metadata records it: key, the option that sets it, this run's value and
// the value a checkpoint without the key was trained with.
struct ObjectiveSetting {
  std::string key, option, now, absent;
};

// --resume continues the same objective: each setting must equal the checkpoint's, or
// one line names the file, the option and both values. (A changed objective would go on
// training the saved model and its optimizer state towards another target, and the
// checkpoint's metadata would then describe neither.)
void require_same_objective(const nn::SafetensorsFile& file, const std::string& path,
                            const std::vector<ObjectiveSetting>& settings);

// An unsigned integer from a checkpoint's metadata, or one line naming path and key.
uint64_t metadata_u64(const nn::SafetensorsFile& file, const std::string& path, const char* key);

}  // namespace fc::app
