#include "nn/ema.hpp"

#include "engine/error.hpp"

namespace fc::nn {

EMA::EMA(Module& module, float decay) : module_(module), decay_(decay) {
  FC_CHECK(module.flattened(), "EMA: the module's parameters must be flattened first");
  FC_CHECK(decay >= 0.f && decay <= 1.f, "EMA: decay must be in [0, 1], got " << decay);
  shadow_ = module.flat_parameters().clone();
}

void EMA::update() {
  const float warm = static_cast<float>(1 + updates_) / static_cast<float>(10 + updates_);
  const float d = decay_ < warm ? decay_ : warm;
  shadow_.mul_(d);
  shadow_.add_(module_.flat_parameters(), 1.f - d);
  ++updates_;
}

void EMA::copy_to(Module& target) const {
  FC_CHECK(target.flattened() && target.flat_parameters().numel() == shadow_.numel(),
           "EMA: the target module's parameters do not match the average ("
               << shadow_.numel() << " values)");
  Tensor params = target.flat_parameters();  // a handle on the same storage
  params.copy_(shadow_);
}

}  // namespace fc::nn
