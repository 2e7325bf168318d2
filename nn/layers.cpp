#include "nn/layers.hpp"

#include <cmath>

#include "engine/ops.hpp"

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
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

}  // namespace fc::nn
