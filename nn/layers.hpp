#pragma once
// The layers of the 2-D recipe: Linear (PyTorch's initialisation), SiLU, Sequential.
#include "engine/random.hpp"
#include "nn/module.hpp"

namespace fc::nn {

class Linear : public Module {
 public:
  // weight [out, in] and bias [out] ~ U(-1/sqrt(in), 1/sqrt(in)), as torch.nn.Linear
  // (kaiming_uniform with a = sqrt(5) reduces to that bound).
  Linear(int64_t in, int64_t out, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor& weight;
  Tensor& bias;  // undefined when built without bias

 private:
  Tensor bias_absent_;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Children named "0", "1", ... as torch.nn.Sequential names them.
class Sequential : public Module {
 public:
  template <class M>
  M& add(std::shared_ptr<M> m) {
    layers_.push_back(m);
    return register_module(std::to_string(layers_.size() - 1), std::move(m));
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_[i]; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace fc::nn
