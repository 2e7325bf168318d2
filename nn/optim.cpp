#include "nn/optim.hpp"

#include <cmath>

#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc::nn {

AdamW::AdamW(Module& module, const AdamWOptions& options) : module_(module), opt_(options) {
  module_.flatten_parameters();
  const Tensor& p = module_.flat_parameters();
  m_ = Tensor::zeros(p.shape(), p.device());
  v_ = Tensor::zeros(p.shape(), p.device());
}

void AdamW::step() {
  FC_PROFILE("adamw step");
  ++step_;
  AdamWStep s;
  s.lr = opt_.lr;
  s.beta1 = opt_.beta1;
  s.beta2 = opt_.beta2;
  s.eps = opt_.eps;
  s.weight_decay = opt_.weight_decay;
  s.bias_correction1 = 1.f - static_cast<float>(std::pow(static_cast<double>(opt_.beta1), step_));
  s.bias_correction2 = 1.f - static_cast<float>(std::pow(static_cast<double>(opt_.beta2), step_));
  const Tensor& p = module_.flat_parameters();
  FC_KERNEL(p.device(), adamw, "adamw")(p.data(), module_.flat_gradients().data(), m_.data(),
                                        v_.data(), p.numel(), s);
}

Tensor clip_grad_norm(Module& module, float max_norm) {
  module.flatten_parameters();
  const Tensor& g = module.flat_gradients();
  Tensor sq = Tensor::empty(Shape{}, g.device());
  FC_KERNEL(g.device(), sum_squares, "clip_grad_norm")(g.data(), sq.data(), g.numel());
  FC_KERNEL(g.device(), scale_to_norm, "clip_grad_norm")(g.data(), g.numel(), sq.data(), max_norm);
  return sqrt(sq);
}

}  // namespace fc::nn
