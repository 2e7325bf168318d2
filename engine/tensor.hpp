#pragma once
// Tensor: a shared handle to float32 data of up to kMaxDims dimensions, row-major and
// always contiguous, on one device. Copying a Tensor copies the handle, not the data.
// Autograd state (requires_grad, grad, the node that made it) lives in the impl.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/device.hpp"
#include "engine/shape.hpp"

namespace fc {

struct Node;

// Owns one device buffer; returns it to the caching allocator when the last tensor
// that views it is gone.
struct Storage {
  Storage(Device device, int64_t numel);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data;
  int64_t numel;
  Device device;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  bool requires_grad = false;          // set on leaves that want a gradient
  std::shared_ptr<TensorImpl> grad;    // accumulated by backward() on leaves
  // .grad holds zeros (Module::zero_grad set them) and nothing has been added since, so
  // backward may write the first gradient straight into it (the policy: the top of
  // engine/autograd.cpp).
  bool grad_zeroed = false;
  std::shared_ptr<Node> grad_fn;       // the op that produced this tensor, if recorded
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Creation. Data is uninitialised for empty().
  static Tensor empty(const Shape& shape, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  static Tensor scalar(float value, Device device = Device::CPU);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::CPU);
  // A view of `count` elements of `base` starting at element `offset`, with `shape`.
  // Shares storage (used for parameter/gradient views into one flat buffer).
  static Tensor view_of(const Tensor& base, int64_t offset, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int ndim() const { return impl_->shape.ndim(); }
  int64_t dim(int i) const { return impl_->shape.dim(i); }
  int64_t numel() const { return impl_->shape.numel(); }
  Device device() const { return impl_->storage->device; }
  bool is_cpu() const { return device() == Device::CPU; }

  // Raw device pointer (on the CPU, host memory).
  float* data() const { return impl_->storage->data + impl_->offset; }
  // Host access; throws for a tensor that is not on the CPU.
  float* cpu_data() const;
  float item() const;
  std::vector<float> to_vector() const;
  // A copy on `device` (this tensor where it is already there); recorded by autograd.
  Tensor to(Device device) const;

  // Autograd.
  // True when gradients flow to or through this tensor (a leaf that asks, or the
  // output of a recorded op).
  bool requires_grad() const { return impl_->requires_grad || impl_->grad_fn != nullptr; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  // Back-propagates from this tensor. Without an argument it must hold one element
  // (the gradient is 1). The graph is freed as it is walked unless retain_graph.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  // The same data, cut from the graph.
  Tensor detach() const;
  // A new tensor with a copy of the data (no graph).
  Tensor clone() const;

  // In-place, outside autograd (for optimizers, gradient buffers and initialisation).
  Tensor& fill_(float value);
  Tensor& zero_() { return fill_(0.f); }
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& src, float alpha = 1.f);  // this += alpha * src
  Tensor& mul_(float s);

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace fc
