#pragma once
// Module: a tree of named parameters. A parameter's name is its path through the
// tree ("layers.0.weight"), the names PyTorch gives the same model, so checkpoints
// carry over in both directions.
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.hpp"

namespace fc::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The one-input forward of layers that have one (Linear, SiLU, Sequential, MLP).
  virtual Tensor forward(const Tensor& x);

  std::vector<std::pair<std::string, Tensor*>> named_parameters();
  std::vector<Tensor*> parameters();
  int64_t num_parameters();

  // Packs every parameter into one contiguous buffer and every gradient into
  // another; the parameters become views into it. Then zero_grad() is one fill, an
  // optimizer step one loop, and backward accumulates straight into the buffer.
  void flatten_parameters();
  bool flattened() const { return flat_params_.defined(); }
  const Tensor& flat_parameters() const { return flat_params_; }
  const Tensor& flat_gradients() const { return flat_grads_; }

  // Moves every parameter to device d (a no-op where they are). Call it before an
  // optimizer is made: AdamW keeps its moments on the device the parameters had. A
  // flattened module stays flattened, in one buffer on d.
  void to(Device d);
  Device device();

  // Zeroes every gradient and marks it zeroed: the next backward writes each
  // parameter's first gradient straight into it (the policy: the top of
  // engine/autograd.cpp).
  void zero_grad();
  void train(bool on = true);
  bool training() const { return training_; }

 protected:
  // Registers a parameter (requires_grad is set) and returns a reference that stays
  // valid, and follows the parameter when flatten_parameters() moves it.
  Tensor& register_parameter(const std::string& name, Tensor value);
  template <class M>
  M& register_module(const std::string& name, std::shared_ptr<M> child) {
    children_.emplace_back(name, child);
    return *child;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  std::deque<std::pair<std::string, Tensor>> params_;  // a deque keeps references stable
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  Tensor flat_params_, flat_grads_;
  bool training_ = true;
};

}  // namespace fc::nn
