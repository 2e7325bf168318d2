#include "nn/layers.hpp"

#include <cmath>

#include "engine/ops.hpp"
#include "nn/image_layers.hpp"

namespace fc::nn {

namespace {
Tensor init_uniform(Generator& gen, const Shape& shape, int64_t fan_in) {
  float bound = fan_in > 0 ? 1.f / std::sqrt(static_cast<float>(fan_in)) : 0.f;
  return gen.uniform(shape, -bound, bound);
}
}  // namespace

Linear::Linear(int64_t in, int64_t out, Generator& gen, bool with_bias)
    : weight(register_parameter("weight", init_uniform(gen, Shape{out, in}, in))),
      bias(with_bias ? register_parameter("bias", init_uniform(gen, Shape{out}, in)) : bias_absent_) {}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Tensor SiLU::forward(const Tensor& x) { return silu(x); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // A GroupNorm followed by a SiLU (every UNet block) runs as one fused op: one pass
    // less over the activations, and one tensor fewer kept for backward.
    auto* norm = dynamic_cast<GroupNorm*>(layers_[i].get());
    if (norm && i + 1 < layers_.size() && dynamic_cast<SiLU*>(layers_[i + 1].get())) {
      h = norm->forward_silu(h);
      ++i;
      continue;
    }
    h = layers_[i]->forward(h);
  }
  return h;
}

}  // namespace fc::nn
