// Elementwise ops of one tensor, each its forward and its gradient rule. Most gradients
// are a single other op (MLX style); the activations use one fused backward kernel
// (fused: the derivative is in engine/unary_formulas.hpp) so that backward is one pass.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"
#include "engine/unary_formulas.hpp"

namespace fc {
namespace {

Tensor apply(UnaryOp op, const char* name, const Tensor& x, float s = 0.f) {
  Tensor y = Tensor::empty(x.shape(), x.device());
  FC_KERNEL(x.device(), unary, name)(op, x.data(), y.data(), x.numel(), s);
  return y;
}

// gy * d op / dx in one fused kernel; x and y are the saved input and output.
Tensor apply_backward(UnaryOp op, const char* name, const Tensor& x, const Tensor& y,
                      const Tensor& gy, float s = 0.f) {
  Tensor gx = Tensor::empty(gy.shape(), gy.device());
  FC_KERNEL(gy.device(), unary_backward, name)(op, x.defined() ? x.data() : nullptr,
                                               y.defined() ? y.data() : nullptr, gy.data(),
                                               gx.data(), gy.numel(), s);
  return gx;
}

// What a gradient rule reads of its op, so that only that is kept for backward.
struct Reads {
  bool input, output;
};
constexpr Reads kNothing{false, false}, kInput{true, false}, kOutput{false, true},
    kBoth{true, true};

using Ref = const Tensor&;

// y = op(x), recording the gradient `rule(g, x, y)`: dL/dx from dL/dy = g, given the
// op's input x and output y (detached, and kept only where `reads` says so).
template <class Rule>
Tensor unary_op(UnaryOp op, const char* name, const Tensor& x, float s, Reads reads, Rule rule) {
  FC_PROFILE(name);
  Tensor y = apply(op, name, x, s);
  if (needs_grad({&x})) {
    Tensor xs = reads.input ? x.detach() : Tensor();
    Tensor ys = reads.output ? y.detach() : Tensor();
    record(y, name, {&x}, [xs, ys, rule](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{rule(g, xs, ys)};
    });
  }
  return y;
}

// A unary op whose gradient is the fused backward kernel; what it reads comes from the
// shared formulas (engine/unary_formulas.hpp).
Tensor fused(UnaryOp op, const char* name, const Tensor& x, float s = 0.f) {
  const GradientReads r = unary_gradient_reads(op);
  return unary_op(op, name, x, s, {r == GradientReads::Input, r == GradientReads::Output},
                  [op, name, s](Ref g, Ref xs, Ref ys) {
                    return apply_backward(op, name, xs, ys, g, s);
                  });
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::Neg, "neg", x, 0.f, kNothing,
                  [](Ref g, Ref, Ref) { return neg(g); });
}

Tensor exp(const Tensor& x) {  // d e^x = e^x
  return unary_op(UnaryOp::Exp, "exp", x, 0.f, kOutput,
                  [](Ref g, Ref, Ref y) { return mul(g, y); });
}

Tensor log(const Tensor& x) {  // d log x = 1 / x
  return unary_op(UnaryOp::Log, "log", x, 0.f, kInput,
                  [](Ref g, Ref x, Ref) { return div(g, x); });
}

Tensor sqrt(const Tensor& x) { return fused(UnaryOp::Sqrt, "sqrt", x); }
Tensor square(const Tensor& x) { return fused(UnaryOp::Square, "square", x); }
Tensor pow(const Tensor& x, float exponent) { return fused(UnaryOp::Pow, "pow", x, exponent); }
Tensor abs(const Tensor& x) { return fused(UnaryOp::Abs, "abs", x); }
Tensor sign(const Tensor& x) { return apply(UnaryOp::Sign, "sign", x); }
Tensor silu(const Tensor& x) {
  FC_PROFILE("silu");
  // The kernels of the fused linear + SiLU, without a bias. They split work by rows,
  // so the flat tensor goes in as rows of kRow elements, then the remainder.
  constexpr int64_t kRow = 1024;
  int64_t n = x.numel(), rows = n / kRow, main = rows * kRow;
  Device d = x.device();
  // Forward keeps the sigmoid it computes, so that backward is plain arithmetic on
  // saved tensors instead of a second exp per element.
  Tensor y = Tensor::empty(x.shape(), d);
  bool record_grad = needs_grad({&x});
  Tensor s = record_grad ? Tensor::empty(x.shape(), d) : Tensor();
  auto forward = FC_KERNEL(d, bias_silu, "silu");
  float* sp = record_grad ? s.data() : nullptr;
  if (rows > 0) forward(x.data(), nullptr, y.data(), sp, rows, kRow);
  if (n > main) forward(x.data() + main, nullptr, y.data() + main, sp ? sp + main : nullptr, 1, n - main);
  if (record_grad) {
    Tensor ys = y.detach();
    record(y, "silu", {&x}, [ys, s, n, rows, main](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(g.shape(), g.device());
      auto backward = FC_KERNEL(g.device(), silu_backward_bias, "silu");
      if (rows > 0) backward(ys.data(), s.data(), g.data(), gx.data(), nullptr, rows, kRow);
      if (n > main)
        backward(ys.data() + main, s.data() + main, g.data() + main, gx.data() + main, nullptr, 1,
                 n - main);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}
Tensor sigmoid(const Tensor& x) { return fused(UnaryOp::Sigmoid, "sigmoid", x); }
Tensor tanh(const Tensor& x) { return fused(UnaryOp::Tanh, "tanh", x); }
Tensor relu(const Tensor& x) { return fused(UnaryOp::Relu, "relu", x); }
Tensor sin(const Tensor& x) { return fused(UnaryOp::Sin, "sin", x); }
Tensor cos(const Tensor& x) { return fused(UnaryOp::Cos, "cos", x); }

Tensor add_scalar(const Tensor& x, float s) {
  return unary_op(UnaryOp::AddScalar, "add_scalar", x, s, kNothing,
                  [](Ref g, Ref, Ref) { return g; });
}

Tensor mul_scalar(const Tensor& x, float s) {
  return unary_op(UnaryOp::MulScalar, "mul_scalar", x, s, kNothing,
                  [s](Ref g, Ref, Ref) { return mul_scalar(g, s); });
}

Tensor rsub_scalar(float s, const Tensor& x) {
  return unary_op(UnaryOp::RSubScalar, "rsub_scalar", x, s, kNothing,
                  [](Ref g, Ref, Ref) { return neg(g); });
}

Tensor rdiv_scalar(float s, const Tensor& x) {  // d (s / x) = -s / x^2 = -y / x
  return unary_op(UnaryOp::RDivScalar, "rdiv_scalar", x, s, kBoth,
                  [](Ref g, Ref x, Ref y) { return neg(mul(g, div(y, x))); });
}

}  // namespace fc
