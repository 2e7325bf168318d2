// Group normalisation and softmax, each one fused kernel forward and one backward.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

namespace {

// group_norm, and group_norm_silu when silu is set.
Tensor group_norm_op(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                     float eps, bool silu) {
  const char* name = silu ? "group_norm+silu" : "group_norm";
  FC_PROFILE(name);
  FC_CHECK(x.ndim() >= 2, "group_norm: expected input [N, C, ...], got " << x.shape());
  const int64_t n = x.dim(0), c = x.dim(1), s = n * c > 0 ? x.numel() / (n * c) : 0;
  FC_CHECK(groups >= 1 && c % groups == 0,
           "group_norm: " << groups << " groups do not divide the " << c << " channels of "
                          << x.shape());
  for (const Tensor* p : {&gamma, &beta})
    FC_CHECK(!p->defined() || (p->ndim() == 1 && p->dim(0) == c),
             "group_norm: affine parameter " << p->shape() << " does not match " << c
                                             << " channels");
  Device d = x.device();
  Tensor y = Tensor::empty(x.shape(), d);
  Tensor mean = Tensor::empty(Shape{n, groups}, d), rstd = Tensor::empty(Shape{n, groups}, d);
  FC_KERNEL(d, group_norm, name)(x.data(), gamma.defined() ? gamma.data() : nullptr,
                                 beta.defined() ? beta.data() : nullptr, y.data(), mean.data(),
                                 rstd.data(), n, c, s, groups, eps, silu);
  if (needs_grad({&x, &gamma, &beta})) {
    Tensor xs = x.detach(), gs = gamma.defined() ? gamma.detach() : Tensor();
    Tensor bs = silu && beta.defined() ? beta.detach() : Tensor();
    record(y, name, {&x, &gamma, &beta},
           [xs, gs, bs, mean, rstd, n, c, s, groups, silu, name](const Tensor& gy,
                                                                 const std::vector<bool>& need) {
             Device dev = gy.device();
             Tensor gx, gg, gb;
             if (need[0]) gx = Tensor::empty(xs.shape(), dev);
             if (need[1]) gg = gradient_buffer(1, Shape{c}, dev);  // a zeroed .grad where there is one
             if (need[2]) gb = gradient_buffer(2, Shape{c}, dev);
             FC_KERNEL(dev, group_norm_backward, name)(
                 xs.data(), gs.defined() ? gs.data() : nullptr, bs.defined() ? bs.data() : nullptr,
                 mean.data(), rstd.data(), gy.data(),
                 need[0] ? gx.data() : nullptr, need[1] ? gg.data() : nullptr,
                 need[2] ? gb.data() : nullptr, n, c, s, groups, silu);
             return std::vector<Tensor>{gx, gg, gb};
           });
  }
  return y;
}

}  // namespace

Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps) {
  return group_norm_op(x, groups, gamma, beta, eps, false);
}

Tensor group_norm_silu(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                       float eps) {
  return group_norm_op(x, groups, gamma, beta, eps, true);
}

Tensor softmax(const Tensor& x) {
  FC_PROFILE("softmax");
  FC_CHECK(x.ndim() >= 1, "softmax: expected at least one dimension, got " << x.shape());
  const int64_t cols = x.dim(-1), rows = cols ? x.numel() / cols : 0;
  Tensor y = Tensor::empty(x.shape(), x.device());
  FC_KERNEL(x.device(), softmax, "softmax")(x.data(), y.data(), rows, cols);
  if (needs_grad({&x})) {
    Tensor ys = y.detach();
    record(y, "softmax", {&x}, [ys, rows, cols](const Tensor& gy, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(ys.shape(), gy.device());
      FC_KERNEL(gy.device(), softmax_backward, "softmax")(ys.data(), gy.data(), gx.data(), rows, cols);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

}  // namespace fc
