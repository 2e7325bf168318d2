#pragma once
// An exponential moving average of a model's parameters, kept over its flat
// parameter buffer: after each optimizer step, shadow = decay * shadow + (1 - decay)
// * params. Sampling uses the average (smoother than the last step's weights);
// checkpoints store it beside the raw weights. Early on the decay is warmed up,
// min(decay, (1 + n) / (10 + n)) after n updates, so that a short run's average is not
// dominated by the initial weights (whose zero-initialised output layer gives v = 0).
#include "nn/module.hpp"

namespace fc::nn {

class EMA {
 public:
  // The module must be flattened (Module::flatten_parameters); the average starts at
  // its current parameters.
  EMA(Module& module, float decay);
  void update();
  float decay() const { return decay_; }
  // Updates so far (checkpoints store it, to resume the warm-up where it was).
  int64_t updates() const { return updates_; }
  void set_updates(int64_t n) { updates_ = n; }
  // Same layout as the module's flat parameters.
  Tensor& shadow() { return shadow_; }
  // Writes the average into a module with the same parameter layout (a second
  // instance used for sampling, or the same one when the raw weights are not needed).
  void copy_to(Module& target) const;

 private:
  Module& module_;
  float decay_;
  int64_t updates_ = 0;
  Tensor shadow_;
};

}  // namespace fc::nn
