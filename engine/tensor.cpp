#include "engine/tensor.hpp"

#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"

namespace fc {

Storage::Storage(Device d, int64_t n) : numel(n), device(d) {
  data = static_cast<float*>(device_alloc(d, static_cast<size_t>(n) * sizeof(float)));
}
Storage::~Storage() { device_free(device, data, static_cast<size_t>(numel) * sizeof(float)); }

Tensor Tensor::empty(const Shape& shape, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(device, shape.numel());
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.f, device); }
Tensor Tensor::ones(const Shape& shape, Device device) { return full(shape, 1.f, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(float value, Device device) { return full(Shape{}, value, device); }

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  FC_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
           "from_vector: " << values.size() << " values do not fill shape " << shape);
  Tensor t = empty(shape, device);
  FC_KERNEL(device, from_host, "from_vector")(values.data(), t.data(), t.numel());
  return t;
}

Tensor Tensor::view_of(const Tensor& base, int64_t offset, const Shape& shape) {
  FC_CHECK(offset >= 0 && offset + shape.numel() <= base.numel(),
           "view_of: " << shape << " at offset " << offset << " does not fit in "
                       << base.shape());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl_->storage;
  impl->offset = base.impl_->offset + offset;
  impl->shape = shape;
  return Tensor(std::move(impl));
}

float* Tensor::cpu_data() const {
  FC_CHECK(is_cpu(), "host access to a tensor on " << device_name(device()));
  return data();
}

float Tensor::item() const {
  FC_CHECK(numel() == 1, "item: tensor of shape " << shape() << " has " << numel()
                                                  << " elements, not 1");
  return to_vector()[0];
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  FC_KERNEL(device(), to_host, "to_vector")(data(), out.data(), numel());
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor t;
  if (d == Device::CPU) {
    t = from_vector(to_vector(), shape(), d);
  } else {
    t = empty(shape(), d);
    FC_KERNEL(d, from_host, "to")(cpu_data(), t.data(), numel());
  }
  // Differentiable, as torch's .to(): the gradient goes back to this tensor's device
  // (a velocity evaluated on the GPU for a likelihood computed around it).
  if (needs_grad({this})) {
    const Device back = device();
    record(t, "to", {this}, [back](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g.to(back)};
    });
  }
  return t;
}

Tensor& Tensor::requires_grad_(bool on) {
  FC_CHECK(is_leaf() || on, "requires_grad_(false) on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  Tensor g = grad_output;
  if (!g.defined()) {
    FC_CHECK(numel() == 1, "backward: output of shape " << shape()
                                                        << " needs an explicit gradient");
    g = Tensor::ones(shape(), device());
  }
  FC_CHECK(g.shape() == shape(), "backward: gradient of shape " << g.shape()
                                                                << " for output " << shape());
  FC_CHECK(requires_grad(), "backward: tensor does not require grad");
  run_backward(*this, g, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), device());
  FC_KERNEL(device(), copy, "clone")(data(), t.data(), numel());
  return t;
}

Tensor& Tensor::fill_(float value) {
  FC_KERNEL(device(), fill, "fill_")(data(), numel(), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  FC_CHECK(src.numel() == numel(), "copy_: source " << src.shape() << " into " << shape());
  FC_CHECK(src.device() == device(), "copy_: source on " << device_name(src.device())
                                                         << ", target on " << device_name(device()));
  FC_KERNEL(device(), copy, "copy_")(src.data(), data(), numel());
  return *this;
}

Tensor& Tensor::add_(const Tensor& src, float alpha) {
  FC_CHECK(src.numel() == numel(), "add_: source " << src.shape() << " into " << shape());
  FC_CHECK(src.device() == device(), "add_: tensors on different devices");
  FC_KERNEL(device(), axpy, "add_")(alpha, src.data(), data(), numel());
  return *this;
}

Tensor& Tensor::mul_(float s) {
  FC_KERNEL(device(), scale, "mul_")(data(), numel(), s);
  return *this;
}

}  // namespace fc
