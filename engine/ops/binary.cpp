// Broadcasting elementwise ops of two tensors. The plan (which operand repeats how)
// is worked out here once; the kernel only walks it. Each gradient is summed back to
// its operand's shape with sum_to, the adjoint of broadcasting.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {
namespace {

BroadcastPlan make_plan(const Shape& a, const Shape& b, const Shape& out) {
  BroadcastPlan p;
  p.n = out.numel();
  if (a == out && b == out) {
    p.kind = BroadcastPlan::Same;
    return p;
  }
  if (a.numel() == 1) { p.kind = BroadcastPlan::AScalar; if (b == out) return p; }
  if (b.numel() == 1 && a == out) { p.kind = BroadcastPlan::BScalar; return p; }
  if (a == out && out.ndim() >= 1) {
    // b equal to a trailing block of out: a bias repeated over rows.
    int k = out.ndim() - b.ndim();
    bool trailing = k >= 0;
    for (int i = 0; trailing && i < b.ndim(); ++i) trailing = b[i] == out[k + i];
    if (trailing && b.ndim() > 0) {
      p.kind = BroadcastPlan::BRows;
      p.inner = b.numel();
      return p;
    }
    // b equal to out on leading dimensions and 1 on the rest ([N, C, 1, 1] against
    // [N, C, H, W]): one value per row of out viewed as [rows, inner].
    if (b.ndim() == out.ndim()) {
      int j = 0;
      while (j < b.ndim() && b[j] == out[j]) ++j;
      bool ones = j < b.ndim();
      int64_t inner = 1;
      for (int i = j; i < b.ndim(); ++i) {
        ones = ones && b[i] == 1;
        inner *= out[i];
      }
      if (ones) {
        p.kind = BroadcastPlan::BCols;
        p.inner = inner;
        return p;
      }
    }
  }
  p.kind = BroadcastPlan::General;
  p.ndim = out.ndim();
  auto sa = contiguous_strides(a), sb = contiguous_strides(b);
  for (int i = 0; i < out.ndim(); ++i) {
    p.shape[i] = out[i];
    int ia = a.ndim() - out.ndim() + i, ib = b.ndim() - out.ndim() + i;
    p.a_strides[i] = (ia >= 0 && a[ia] != 1) ? sa[ia] : 0;
    p.b_strides[i] = (ib >= 0 && b[ib] != 1) ? sb[ib] : 0;
  }
  return p;
}

Tensor apply(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  FC_CHECK(a.device() == b.device(), name << ": tensors on " << device_name(a.device())
                                          << " and " << device_name(b.device()));
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor y = Tensor::empty(out_shape, a.device());
  BroadcastPlan plan = make_plan(a.shape(), b.shape(), out_shape);
  FC_KERNEL(a.device(), binary, name)(op, a.data(), b.data(), y.data(), plan);
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  FC_PROFILE("add");
  Tensor y = apply(BinaryOp::Add, "add", a, b);
  if (needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    record(y, "add", {&a, &b}, [sa, sb](const Tensor& g, const std::vector<bool>& w) {
      return std::vector<Tensor>{w[0] ? sum_to(g, sa) : Tensor(), w[1] ? sum_to(g, sb) : Tensor()};
    });
  }
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  FC_PROFILE("sub");
  Tensor y = apply(BinaryOp::Sub, "sub", a, b);
  if (needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    record(y, "sub", {&a, &b}, [sa, sb](const Tensor& g, const std::vector<bool>& w) {
      return std::vector<Tensor>{w[0] ? sum_to(g, sa) : Tensor(),
                                 w[1] ? neg(sum_to(g, sb)) : Tensor()};
    });
  }
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  FC_PROFILE("mul");
  Tensor y = apply(BinaryOp::Mul, "mul", a, b);
  if (needs_grad({&a, &b})) {
    // Each operand is saved only if the other one needs its gradient.
    Shape sa = a.shape(), sb = b.shape();
    Tensor as = b.requires_grad() ? a.detach() : Tensor();
    Tensor bs = a.requires_grad() ? b.detach() : Tensor();
    record(y, "mul", {&a, &b}, [sa, sb, as, bs](const Tensor& g, const std::vector<bool>& w) {
      return std::vector<Tensor>{w[0] ? sum_to(mul(g, bs), sa) : Tensor(),
                                 w[1] ? sum_to(mul(g, as), sb) : Tensor()};
    });
  }
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  FC_PROFILE("div");
  Tensor y = apply(BinaryOp::Div, "div", a, b);
  if (needs_grad({&a, &b})) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -y/b
    Shape sa = a.shape(), sb = b.shape();
    Tensor bs = b.detach();
    Tensor ys = b.requires_grad() ? y.detach() : Tensor();
    record(y, "div", {&a, &b}, [sa, sb, bs, ys](const Tensor& g, const std::vector<bool>& w) {
      Tensor g_over_b = div(g, bs);
      return std::vector<Tensor>{w[0] ? sum_to(g_over_b, sa) : Tensor(),
                                 w[1] ? neg(sum_to(mul(g_over_b, ys), sb)) : Tensor()};
    });
  }
  return y;
}

}  // namespace fc
