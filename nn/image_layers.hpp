#pragma once
// The layers of the image recipe, with PyTorch's parameter names, shapes and
// initialisation: Conv2d, the kernel-1 Conv1d of attention, GroupNorm, Embedding,
// Dropout.
#include "engine/random.hpp"
#include "nn/module.hpp"

namespace fc::nn {

class Conv2d : public Module {
 public:
  // weight [out, in, k, k] and bias [out] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
  // fan_in = in * k * k, as torch.nn.Conv2d.
  Conv2d(int64_t in, int64_t out, int kernel, int stride, int padding, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, out, Ho, Wo]
  Tensor& weight;
  Tensor& bias;

 private:
  int stride_, padding_;
};

// torch.nn.Conv1d with kernel 1: weight [out, in, 1] (PyTorch's shape, so checkpoints
// load) and bias [out], PyTorch's initialisation; [B, in, T] -> [B, out, T].
class PointwiseConv1d : public Module {
 public:
  PointwiseConv1d(int64_t in, int64_t out, Generator& gen);
  Tensor forward(const Tensor& x) override;
  Tensor& weight;
  Tensor& bias;
};

class GroupNorm : public Module {
 public:
  // weight (ones) and bias (zeros) of [channels]; throws unless groups divides channels.
  GroupNorm(int groups, int64_t channels, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  // silu(forward(x)) as one op (Sequential runs a GroupNorm followed by a SiLU this way).
  Tensor forward_silu(const Tensor& x);
  Tensor& weight;
  Tensor& bias;

 private:
  int groups_;
  float eps_;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen);  // weight [num, dim] ~ N(0, 1)
  Tensor forward(const Tensor& ids) override;           // ids [N] as float -> [N, dim]
  Tensor& weight;
};

// Zeroes with probability p while training() (scaling the rest by 1/(1-p)), drawing
// from `gen`, which must outlive the module; the identity in eval mode.
class Dropout : public Module {
 public:
  Dropout(float p, Generator& gen);
  Tensor forward(const Tensor& x) override;
  float p() const { return p_; }

 private:
  float p_;
  Generator* gen_;
};

// Sets every parameter of m to zero (guided diffusion's zero_module: the last layer of
// a residual branch starts at zero, so the branch starts as the identity).
void zero_module(Module& m);

}  // namespace fc::nn
