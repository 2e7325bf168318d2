#include "nn/image_layers.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::nn {

namespace {
// PyTorch's default for Linear and ConvNd: kaiming_uniform with a = sqrt(5) on the
// weight reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias takes the same bound.
Tensor init_fan_in(Generator& gen, const Shape& shape, int64_t fan_in) {
  FC_CHECK(fan_in > 0 && shape.numel() > 0, "layer: bad parameter shape " << shape);
  float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
  return gen.uniform(shape, -bound, bound);
}

// The checks run before any parameter is made from the sizes they return.
int conv_kernel(int64_t in, int64_t out, int kernel, int stride, int padding) {
  FC_CHECK(in > 0 && out > 0 && kernel > 0 && stride > 0 && padding >= 0,
           "Conv2d: bad geometry (in " << in << ", out " << out << ", kernel " << kernel
                                       << ", stride " << stride << ", padding " << padding << ")");
  return kernel;
}

int64_t group_norm_channels(int groups, int64_t channels) {
  FC_CHECK(groups > 0 && channels > 0 && channels % groups == 0,
           "GroupNorm: " << groups << " groups do not divide " << channels << " channels");
  return channels;
}
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, int kernel, int stride, int padding, Generator& gen)
    : weight(register_parameter(
          "weight", init_fan_in(gen, Shape{out, in, conv_kernel(in, out, kernel, stride, padding), kernel},
                                in * kernel * kernel))),
      bias(register_parameter("bias", init_fan_in(gen, Shape{out}, in * kernel * kernel))),
      stride_(stride),
      padding_(padding) {}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride_, padding_); }

PointwiseConv1d::PointwiseConv1d(int64_t in, int64_t out, Generator& gen)
    : weight(register_parameter("weight", init_fan_in(gen, Shape{out, in, 1}, in))),
      bias(register_parameter("bias", init_fan_in(gen, Shape{out}, in))) {}

Tensor PointwiseConv1d::forward(const Tensor& x) {
  FC_CHECK(x.ndim() == 3 && x.dim(1) == weight.dim(1),
           "Conv1d: expected [B, " << weight.dim(1) << ", T], got " << x.shape());
  // A kernel-1 Conv1d is a 1x1 Conv2d over a [T, 1] image; both reshapes are views.
  Tensor w = reshape(weight, Shape{weight.dim(0), weight.dim(1), 1, 1});
  Tensor y = conv2d(reshape(x, Shape{x.dim(0), x.dim(1), x.dim(2), 1}), w, bias);
  return reshape(y, Shape{x.dim(0), weight.dim(0), x.dim(2)});
}

GroupNorm::GroupNorm(int groups, int64_t channels, float eps)
    : weight(register_parameter("weight", Tensor::ones(Shape{group_norm_channels(groups, channels)}))),
      bias(register_parameter("bias", Tensor::zeros(Shape{channels}))),
      groups_(groups),
      eps_(eps) {}

Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, groups_, weight, bias, eps_); }
Tensor GroupNorm::forward_silu(const Tensor& x) {
  return group_norm_silu(x, groups_, weight, bias, eps_);
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen)
    : weight(register_parameter("weight", gen.normal(Shape{num, dim}))) {}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

Dropout::Dropout(float p, Generator& gen) : p_(p), gen_(&gen) {
  FC_CHECK(p >= 0.f && p < 1.f, "Dropout: p must lie in [0, 1), got " << p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, training(), *gen_); }

void zero_module(Module& m) {
  for (Tensor* t : m.parameters()) t->zero_();
}

}  // namespace fc::nn
