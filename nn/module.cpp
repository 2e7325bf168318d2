#include "nn/module.hpp"

#include "engine/error.hpp"
#include "engine/profiler.hpp"

namespace fc::nn {

Tensor Module::forward(const Tensor&) {
  FC_THROW("this module has no single-input forward()");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  for (auto& [n, t] : params_) FC_CHECK(n != name, "module: parameter " << name << " registered twice");
  value.requires_grad_(true);
  params_.emplace_back(name, std::move(value));
  return params_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [name, t] : params_) out.emplace_back(prefix + name, &t);
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", out);
  return out;
}

std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (Tensor* t : parameters()) n += t->numel();
  return n;
}

void Module::flatten_parameters() {
  if (flattened()) return;
  auto params = parameters();
  FC_CHECK(!params.empty(), "flatten_parameters: module has no parameters");
  int64_t total = 0;
  for (Tensor* t : params) total += t->numel();
  Device d = params[0]->device();
  flat_params_ = Tensor::empty(Shape{total}, d);
  flat_grads_ = Tensor::zeros(Shape{total}, d);
  int64_t at = 0;
  for (Tensor* t : params) {
    FC_CHECK(t->device() == d, "flatten_parameters: parameters on different devices");
    Tensor p = Tensor::view_of(flat_params_, at, t->shape());
    p.copy_(*t);
    p.requires_grad_(true);
    p.set_grad(Tensor::view_of(flat_grads_, at, t->shape()));
    *t = p;
    at += t->numel();
  }
}

void Module::to(Device d) {
  auto params = parameters();
  if (params.empty() || device() == d) return;
  const bool was_flat = flattened();
  for (Tensor* t : params) {
    *t = t->detach().to(d);  // a fresh leaf on d, its own storage
    t->requires_grad_(true);
  }
  flat_params_ = Tensor();
  flat_grads_ = Tensor();
  if (was_flat) flatten_parameters();
}

Device Module::device() {
  auto params = parameters();
  return params.empty() ? Device::CPU : params[0]->device();
}

void Module::zero_grad() {
  FC_PROFILE("zero_grad");
  auto params = parameters();
  if (flattened()) flat_grads_.zero_();
  for (Tensor* t : params)
    if (t->grad().defined()) {
      if (!flattened()) t->grad().zero_();
      t->impl()->grad_zeroed = true;  // backward may write the first gradient over it
    }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

}  // namespace fc::nn
