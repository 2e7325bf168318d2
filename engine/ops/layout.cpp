// Layout ops. Tensors are always contiguous, so reshape is a view and everything else
// (permute, broadcast, concat, slice) copies through one of two kernels.
#include <numeric>

#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {
namespace {

Tensor strided(const Tensor& x, const Shape& out_shape, const int64_t* strides, const char* name) {
  StridedPlan p;
  p.ndim = out_shape.ndim();
  p.n = out_shape.numel();
  for (int i = 0; i < p.ndim; ++i) {
    p.shape[i] = out_shape[i];
    p.strides[i] = strides[i];
  }
  Tensor y = Tensor::empty(out_shape, x.device());
  FC_KERNEL(x.device(), strided_copy, name)(x.data(), y.data(), p);
  return y;
}

// A possibly negative axis of s, checked, with the op named in the error.
int op_axis(const Shape& s, int axis, const char* op) {
  int a = axis < 0 ? axis + s.ndim() : axis;
  FC_CHECK(a >= 0 && a < s.ndim(), op << ": axis " << axis << " is out of range for shape " << s);
  return a;
}

}  // namespace

Tensor reshape(const Tensor& x, const std::vector<int64_t>& dims) {
  FC_PROFILE("reshape");
  std::vector<int64_t> d = dims;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1) {
      FC_CHECK(infer < 0, "reshape: more than one -1 in the target shape");
      infer = static_cast<int>(i);
    } else {
      FC_CHECK(d[i] >= 0, "reshape: negative dimension " << d[i]);
      known *= d[i];
    }
  }
  if (infer >= 0) {
    FC_CHECK(known > 0 && x.numel() % known == 0,
             "reshape: cannot infer -1 when viewing " << x.shape() << " with "
                                                    << known << " elements per block");
    d[infer] = x.numel() / known;
  }
  return reshape(x, Shape(d));
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  FC_PROFILE("reshape");
  FC_CHECK(shape.numel() == x.numel(),
           "reshape: cannot view " << x.shape() << " (" << x.numel() << " elements) as " << shape);
  Tensor y = Tensor::view_of(x.detach(), 0, shape);
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "reshape", {&x}, [sx](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{reshape(g, sx)};
    });
  }
  return y;
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  FC_PROFILE("permute");
  const Shape& s = x.shape();
  FC_CHECK(static_cast<int>(perm.size()) == s.ndim(),
           "permute: " << perm.size() << " axes given for shape " << s);
  std::vector<int> inverse(perm.size(), -1);
  std::vector<int64_t> out;
  int64_t strides[kMaxDims];
  auto cs = contiguous_strides(s);
  for (size_t i = 0; i < perm.size(); ++i) {
    int p = perm[i] < 0 ? perm[i] + s.ndim() : perm[i];
    FC_CHECK(p >= 0 && p < s.ndim() && inverse[p] == -1,
             "permute: axes are not a permutation of " << s.ndim() << " dimensions");
    inverse[p] = static_cast<int>(i);
    out.push_back(s[p]);
    strides[i] = cs[p];
  }
  Tensor y = strided(x, Shape(out), strides, "permute");
  if (needs_grad({&x}))
    record(y, "permute", {&x}, [inverse](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{permute(g, inverse)};
    });
  return y;
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  FC_PROFILE("transpose");
  int a = op_axis(x.shape(), dim0, "transpose"), b = op_axis(x.shape(), dim1, "transpose");
  std::vector<int> perm(x.ndim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a], perm[b]);
  return permute(x, perm);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  FC_PROFILE("broadcast_to");
  if (x.shape() == shape) return x;
  const Shape& s = x.shape();
  FC_CHECK(s.ndim() <= shape.ndim() && broadcast_shapes(s, shape, "broadcast_to") == shape,
           "broadcast_to: cannot broadcast " << s << " to " << shape);
  auto cs = contiguous_strides(s);
  int64_t strides[kMaxDims];
  int lead = shape.ndim() - s.ndim();
  for (int i = 0; i < shape.ndim(); ++i) {
    int j = i - lead;
    strides[i] = (j >= 0 && s[j] != 1) ? cs[j] : 0;
  }
  Tensor y = strided(x, shape, strides, "broadcast_to");
  if (needs_grad({&x})) {
    Shape sx = s;
    record(y, "broadcast_to", {&x}, [sx](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{sum_to(g, sx)};
    });
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int axis_in) {
  FC_PROFILE("concat");
  FC_CHECK(!xs.empty(), "concat: no tensors");
  const Shape& s0 = xs[0].shape();
  int axis = op_axis(s0, axis_in, "concat");
  Shape out = s0;
  out[axis] = 0;
  for (const Tensor& t : xs) {
    bool ok = t.ndim() == s0.ndim() && t.device() == xs[0].device();
    for (int i = 0; ok && i < s0.ndim(); ++i) ok = i == axis || t.shape()[i] == s0[i];
    FC_CHECK(ok, "concat: shapes " << s0 << " and " << t.shape() << " differ outside axis "
                                   << axis_in);
    out[axis] += t.shape()[axis];
  }
  Tensor y = Tensor::empty(out, xs[0].device());
  AxisView v = axis_view(out, axis);
  auto copy_rows = FC_KERNEL(y.device(), copy_rows, "concat");
  int64_t at = 0;
  std::vector<int64_t> sizes;
  for (const Tensor& t : xs) {
    int64_t len = t.shape()[axis];
    copy_rows(t.data(), len, 0, y.data(), v.n, at, v.outer, len, v.inner);
    sizes.push_back(len);
    at += len;
  }
  bool any = false;
  for (const Tensor& t : xs) any = any || t.requires_grad();
  if (any && grad_enabled()) {
    std::vector<const Tensor*> inputs;
    for (const Tensor& t : xs) inputs.push_back(&t);
    record(y, "concat", inputs, [axis, sizes](const Tensor& g, const std::vector<bool>& w) {
      std::vector<Tensor> gs(sizes.size());
      int64_t start = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (w[i]) gs[i] = slice(g, axis, start, start + sizes[i]);
        start += sizes[i];
      }
      return gs;
    });
  }
  return y;
}

Tensor slice(const Tensor& x, int axis_in, int64_t start, int64_t end) {
  FC_PROFILE("slice");
  int axis = op_axis(x.shape(), axis_in, "slice");
  int64_t n = x.shape()[axis];
  FC_CHECK(0 <= start && start <= end && end <= n,
           "slice: range [" << start << ", " << end << ") is outside axis " << axis_in
                            << " of shape " << x.shape());
  Shape out = x.shape();
  out[axis] = end - start;
  AxisView v = axis_view(x.shape(), axis);
  Tensor y = Tensor::empty(out, x.device());
  FC_KERNEL(x.device(), copy_rows, "slice")(x.data(), n, start, y.data(), end - start, 0, v.outer,
                                            end - start, v.inner);
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "slice", {&x}, [sx, v, start, end](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::zeros(sx, g.device());
      FC_KERNEL(g.device(), copy_rows, "slice")(g.data(), end - start, 0, gx.data(), v.n, start,
                                                v.outer, end - start, v.inner);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

}  // namespace fc
