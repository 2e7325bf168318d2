// Reductions. Every axis reduction is the kernel sum_axis on the view
// [outer, n, inner]; the gradient broadcasts back with broadcast_to.
#include <algorithm>

#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {
namespace {


// Sums one axis, keeping it with size 1. No recording.
Tensor sum_one_axis(const Tensor& x, int axis, const char* name) {
  AxisView v = axis_view(x.shape(), axis);
  Shape out = x.shape();
  out[axis] = 1;
  Tensor y = Tensor::empty(out, x.device());
  FC_KERNEL(x.device(), sum_axis, name)(x.data(), y.data(), v.outer, v.n, v.inner);
  return y;
}

std::vector<int> normalise_axes(const Shape& s, const std::vector<int>& axes, const char* name) {
  std::vector<int> out;
  for (int a : axes) {
    int n = a < 0 ? a + s.ndim() : a;
    FC_CHECK(n >= 0 && n < s.ndim(), name << ": axis " << a << " is out of range for shape " << s);
    FC_CHECK(std::find(out.begin(), out.end(), n) == out.end(), name << ": axis " << a << " given twice");
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Shape drop_axes(const Shape& s, const std::vector<int>& axes) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.ndim(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) d.push_back(s[i]);
  return Shape(d);
}

// Keepdim shape of x reduced over `axes`.
Shape keep_axes(const Shape& s, const std::vector<int>& axes) {
  Shape k = s;
  for (int a : axes) k[a] = 1;
  return k;
}

}  // namespace

Tensor sum(const Tensor& x) {
  FC_PROFILE("sum");
  Tensor y = Tensor::empty(Shape{}, x.device());
  FC_KERNEL(x.device(), sum_all, "sum")(x.data(), y.data(), x.numel());
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "sum", {&x}, [sx](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{broadcast_to(g, sx)};
    });
  }
  return y;
}

Tensor mean(const Tensor& x) {
  FC_PROFILE("mean");
  FC_CHECK(x.numel() > 0, "mean: empty tensor of shape " << x.shape());
  return mul_scalar(sum(x), 1.f / static_cast<float>(x.numel()));
}

Tensor sum(const Tensor& x, const std::vector<int>& axes_in, bool keepdim) {
  FC_PROFILE("sum");
  std::vector<int> axes = normalise_axes(x.shape(), axes_in, "sum");
  Tensor y = x.detach();
  for (int a : axes) y = sum_one_axis(y, a, "sum");
  Shape kept = keep_axes(x.shape(), axes);
  y = Tensor::view_of(y, 0, keepdim ? kept : drop_axes(x.shape(), axes));
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "sum_axes", {&x}, [sx, kept](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{broadcast_to(reshape(g, kept), sx)};
    });
  }
  return y;
}

Tensor mean(const Tensor& x, const std::vector<int>& axes_in, bool keepdim) {
  FC_PROFILE("mean");
  std::vector<int> axes = normalise_axes(x.shape(), axes_in, "mean");
  int64_t count = 1;
  for (int a : axes) count *= x.shape()[a];
  FC_CHECK(count > 0, "mean: reducing an empty axis of shape " << x.shape());
  return mul_scalar(sum(x, axes, keepdim), 1.f / static_cast<float>(count));
}

Tensor max(const Tensor& x, int axis_in, bool keepdim) {
  FC_PROFILE("max");
  int axis = normalise_axes(x.shape(), {axis_in}, "max")[0];
  AxisView v = axis_view(x.shape(), axis);
  FC_CHECK(v.n > 0, "max: axis " << axis_in << " of shape " << x.shape() << " is empty");
  Shape kept = x.shape();
  kept[axis] = 1;
  Tensor y = Tensor::empty(keepdim ? kept : drop_axes(x.shape(), {axis}), x.device());
  Tensor idx = Tensor::empty(kept, x.device());
  FC_KERNEL(x.device(), max_axis, "max")(x.data(), y.data(), idx.data(), v.outer, v.n, v.inner);
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "max", {&x}, [sx, idx, v](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::zeros(sx, g.device());
      FC_KERNEL(g.device(), max_axis_backward, "max")(g.data(), idx.data(), gx.data(), v.outer,
                                                      v.n, v.inner);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  FC_PROFILE("sum_to");
  if (x.shape() == shape) return x;
  const Shape& s = x.shape();
  FC_CHECK(shape.ndim() <= s.ndim() && broadcast_shapes(shape, s, "sum_to") == s,
           "sum_to: shape " << s << " cannot be summed to " << shape);
  // Leading dimensions that `shape` lacks collapse into one axis, summed in one pass.
  int lead = s.ndim() - shape.ndim();
  Tensor y = x.detach();
  if (lead > 0) {
    int64_t n = 1;
    for (int i = 0; i < lead; ++i) n *= s[i];
    y = sum_one_axis(Tensor::view_of(y, 0, Shape{n, shape.numel() ? s.numel() / n : 0}), 0,
                     "sum_to");
  }
  std::vector<int64_t> dims = s.vec();
  Shape rest = Shape(std::vector<int64_t>(dims.begin() + lead, dims.end()));
  y = Tensor::view_of(y, 0, rest);
  for (int i = 0; i < shape.ndim(); ++i)
    if (shape[i] == 1 && rest[i] != 1) y = sum_one_axis(y, i, "sum_to");
  y = Tensor::view_of(y, 0, shape);
  if (needs_grad({&x})) {
    Shape sx = s;
    record(y, "sum_to", {&x}, [sx](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{broadcast_to(g, sx)};
    });
  }
  return y;
}

}  // namespace fc
