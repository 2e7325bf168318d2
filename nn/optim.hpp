#pragma once
// AdamW with PyTorch's semantics (decoupled weight decay, bias correction), over the
// module's flat parameter buffer: one kernel call per step. And gradient-norm
// clipping as torch.nn.utils.clip_grad_norm_.
#include "engine/kernels.hpp"
#include "nn/module.hpp"

namespace fc::nn {

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 1e-2f;  // torch.optim.AdamW's default
};

class AdamW {
 public:
  AdamW(Module& module, const AdamWOptions& options = {});
  void step();
  void zero_grad() { module_.zero_grad(); }
  int64_t steps() const { return step_; }
  AdamWOptions& options() { return opt_; }
  // Moment buffers (for checkpoints): same layout as the module's flat parameters.
  Tensor& exp_avg() { return m_; }
  Tensor& exp_avg_sq() { return v_; }
  void set_steps(int64_t s) { step_ = s; }

 private:
  Module& module_;
  AdamWOptions opt_;
  Tensor m_, v_;
  int64_t step_ = 0;
};

// Scales all gradients so that their global L2 norm is at most max_norm; returns the
// norm before clipping, as a one-element tensor on the gradients' device (reading it,
// .item(), waits for a GPU: the training loops do not).
Tensor clip_grad_norm(Module& module, float max_norm);

}  // namespace fc::nn
