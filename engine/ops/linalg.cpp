// Matrix products, all through the device's (batched) sgemm kernel.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  FC_PROFILE("matmul");
  FC_CHECK((a.ndim() == 2 || a.ndim() == 3) && (b.ndim() == 2 || b.ndim() == 3),
           "matmul: expected 2-D or 3-D operands, got " << a.shape() << " and " << b.shape());
  FC_CHECK(a.device() == b.device(), "matmul: operands on different devices");
  int64_t batch_a = a.ndim() == 3 ? a.dim(0) : 1, batch_b = b.ndim() == 3 ? b.dim(0) : 1;
  FC_CHECK(a.ndim() == 2 || b.ndim() == 2 || batch_a == batch_b,
           "matmul: batch sizes differ in " << a.shape() << " and " << b.shape());
  int64_t m = ta ? a.dim(-1) : a.dim(-2), ka = ta ? a.dim(-2) : a.dim(-1);
  int64_t kb = tb ? b.dim(-1) : b.dim(-2), n = tb ? b.dim(-2) : b.dim(-1);
  FC_CHECK(ka == kb, "matmul: inner dimensions differ in " << a.shape() << (ta ? "^T" : "")
                                                          << " @ " << b.shape() << (tb ? "^T" : ""));
  int64_t batch = batch_a > batch_b ? batch_a : batch_b;
  bool batched = a.ndim() == 3 || b.ndim() == 3;
  Tensor y = Tensor::empty(batched ? Shape{batch, m, n} : Shape{m, n}, a.device());
  FC_KERNEL(a.device(), gemm, "matmul")(ta, tb, m, n, ka, 1.f, a.data(), a.dim(-1),
                                        a.ndim() == 3 ? m * ka : 0, b.data(), b.dim(-1),
                                        b.ndim() == 3 ? ka * n : 0, 0.f, y.data(), n, m * n,
                                        batch);
  if (needs_grad({&a, &b})) {
    Tensor as = b.requires_grad() ? a.detach() : Tensor();
    Tensor bs = a.requires_grad() ? b.detach() : Tensor();
    Shape sa = a.shape(), sb = b.shape();
    record(y, "matmul", {&a, &b}, [as, bs, sa, sb, ta, tb](const Tensor& g, const std::vector<bool>& w) {
      // With C = op(A) op(B): dop(A) = g op(B)^T and dop(B) = op(A)^T g; a transposed
      // operand takes the transpose of that. A shared 2-D operand sums over the batch.
      Tensor ga, gb;
      if (w[0]) ga = sum_to(ta ? matmul(bs, g, tb, true) : matmul(g, bs, false, !tb), sa);
      if (w[1]) gb = sum_to(tb ? matmul(g, as, true, ta) : matmul(as, g, !ta, false), sb);
      return std::vector<Tensor>{ga, gb};
    });
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  FC_PROFILE(act == Activation::Silu ? "linear+silu" : "linear");
  FC_CHECK(w.ndim() == 2 && x.ndim() >= 1 && x.dim(-1) == w.dim(1),
           "linear: input " << x.shape() << " does not match weight " << w.shape());
  FC_CHECK(!bias.defined() || (bias.ndim() == 1 && bias.dim(0) == w.dim(0)),
           "linear: bias " << bias.shape() << " does not match weight " << w.shape());
  FC_CHECK(x.device() == w.device() && (!bias.defined() || bias.device() == w.device()),
           "linear: tensors on different devices");
  int64_t in = w.dim(1), out = w.dim(0), rows = x.numel() / (in ? in : 1);
  Shape out_shape = x.shape();
  out_shape[out_shape.ndim() - 1] = out;
  Device d = x.device();
  Tensor y = Tensor::empty(out_shape, d);
  Tensor s;  // SiLU: the sigmoid of the pre-activation, kept for backward
  bool grad = needs_grad({&x, &w, &bias});
  if (act == Activation::None) {
    // The bias goes in first and sgemm accumulates onto it (beta = 1): no extra pass.
    if (bias.defined()) FC_KERNEL(d, fill_rows, "linear")(bias.data(), y.data(), rows, out);
    FC_KERNEL(d, gemm, "linear")(false, true, rows, out, in, 1.f, x.data(), in, 0, w.data(), in, 0,
                                 bias.defined() ? 1.f : 0.f, y.data(), out, 0, 1);
  } else {
    // sgemm into a scratch z, then bias and SiLU in one pass over it.
    Tensor z = Tensor::empty(out_shape, d);
    FC_KERNEL(d, gemm, "linear")(false, true, rows, out, in, 1.f, x.data(), in, 0, w.data(), in, 0,
                                 0.f, z.data(), out, 0, 1);
    if (grad) s = Tensor::empty(out_shape, d);
    FC_KERNEL(d, bias_silu, "linear")(z.data(), bias.defined() ? bias.data() : nullptr, y.data(),
                                      grad ? s.data() : nullptr, rows, out);
  }
  if (grad) {
    Tensor xs = w.requires_grad() ? x.detach() : Tensor();
    Tensor ws = x.requires_grad() ? w.detach() : Tensor();
    Tensor ys = act == Activation::Silu ? y.detach() : Tensor();
    Shape sx = x.shape();
    record(y, "linear", {&x, &w, &bias},
           [xs, ws, ys, s, sx, rows, in, out, act](const Tensor& g, const std::vector<bool>& need) {
             const Device dev = g.device();
             Tensor g2 = reshape(g, Shape{rows, out});
             Tensor gx, gw, gb;
             // The weight's and bias's gradients go straight into a zeroed .grad where there is one.
             if (need[2]) gb = gradient_buffer(2, Shape{out}, dev);
             if (act == Activation::Silu) {
               // Through the activation first; the bias gradient comes out of the same pass.
               Tensor gz = Tensor::empty(Shape{rows, out}, dev);
               FC_KERNEL(dev, silu_backward_bias, "linear")(ys.data(), s.data(), g2.data(), gz.data(),
                                                            need[2] ? gb.data() : nullptr, rows, out);
               g2 = gz;
             } else if (need[2]) {
               FC_KERNEL(dev, sum_axis, "linear")(g2.data(), gb.data(), 1, rows, out);  // column sums
             }
             if (need[0]) gx = reshape(matmul(g2, ws), sx);
             if (need[1]) {
               // gw [out, in] = g2^T [out, rows] x [rows, in]
               gw = gradient_buffer(1, Shape{out, in}, dev);
               FC_KERNEL(dev, gemm, "linear")(true, false, out, in, rows, 1.f, g2.data(), out, 0, xs.data(), in, 0,
                                              0.f, gw.data(), in, 0, 1);
             }
             return std::vector<Tensor>{gx, gw, gb};
           });
  }
  return y;
}

}  // namespace fc
