// Elementwise ops of one tensor. Most gradients are a single other op (MLX style);
// the activations use one fused backward kernel so that backward is one pass.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

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

// A unary op whose gradient is computed from its saved input and/or output by the
// fused backward kernel.
Tensor fused(UnaryOp op, const char* name, const Tensor& x, bool save_input, bool save_output,
             float s = 0.f) {
  FC_PROFILE(name);
  Tensor y = apply(op, name, x, s);
  if (needs_grad({&x})) {
    Tensor xs = save_input ? x.detach() : Tensor();
    Tensor ys = save_output ? y.detach() : Tensor();
    record(y, name, {&x}, [op, name, xs, ys, s](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{apply_backward(op, name, xs, ys, g, s)};
    });
  }
  return y;
}

}  // namespace

Tensor neg(const Tensor& x) {
  FC_PROFILE("neg");
  Tensor y = apply(UnaryOp::Neg, "neg", x);
  if (needs_grad({&x}))
    record(y, "neg", {&x}, [](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{neg(g)};
    });
  return y;
}

Tensor exp(const Tensor& x) {
  FC_PROFILE("exp");
  Tensor y = apply(UnaryOp::Exp, "exp", x);
  if (needs_grad({&x})) {
    Tensor ys = y.detach();
    record(y, "exp", {&x}, [ys](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{mul(g, ys)};
    });
  }
  return y;
}

Tensor log(const Tensor& x) {
  FC_PROFILE("log");
  Tensor y = apply(UnaryOp::Log, "log", x);
  if (needs_grad({&x})) {
    Tensor xs = x.detach();
    record(y, "log", {&x}, [xs](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{div(g, xs)};
    });
  }
  return y;
}

Tensor sqrt(const Tensor& x) { return fused(UnaryOp::Sqrt, "sqrt", x, false, true); }
Tensor square(const Tensor& x) { return fused(UnaryOp::Square, "square", x, true, false); }
Tensor pow(const Tensor& x, float exponent) {
  return fused(UnaryOp::Pow, "pow", x, true, false, exponent);
}
Tensor abs(const Tensor& x) { return fused(UnaryOp::Abs, "abs", x, true, false); }
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
Tensor sigmoid(const Tensor& x) { return fused(UnaryOp::Sigmoid, "sigmoid", x, false, true); }
Tensor tanh(const Tensor& x) { return fused(UnaryOp::Tanh, "tanh", x, false, true); }
Tensor relu(const Tensor& x) { return fused(UnaryOp::Relu, "relu", x, true, false); }
Tensor sin(const Tensor& x) { return fused(UnaryOp::Sin, "sin", x, true, false); }
Tensor cos(const Tensor& x) { return fused(UnaryOp::Cos, "cos", x, true, false); }

Tensor add_scalar(const Tensor& x, float s) {
  FC_PROFILE("add_scalar");
  Tensor y = apply(UnaryOp::AddScalar, "add_scalar", x, s);
  if (needs_grad({&x}))
    record(y, "add_scalar", {&x}, [](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g};
    });
  return y;
}

Tensor mul_scalar(const Tensor& x, float s) {
  FC_PROFILE("mul_scalar");
  Tensor y = apply(UnaryOp::MulScalar, "mul_scalar", x, s);
  if (needs_grad({&x}))
    record(y, "mul_scalar", {&x}, [s](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{mul_scalar(g, s)};
    });
  return y;
}

Tensor rsub_scalar(float s, const Tensor& x) {
  FC_PROFILE("rsub_scalar");
  Tensor y = apply(UnaryOp::RSubScalar, "rsub_scalar", x, s);
  if (needs_grad({&x}))
    record(y, "rsub_scalar", {&x}, [](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{neg(g)};
    });
  return y;
}

Tensor rdiv_scalar(float s, const Tensor& x) {
  FC_PROFILE("rdiv_scalar");
  // d(s/x)/dx = -s/x^2 = -y/x
  Tensor y = apply(UnaryOp::RDivScalar, "rdiv_scalar", x, s);
  if (needs_grad({&x})) {
    Tensor xs = x.detach(), ys = y.detach();
    record(y, "rdiv_scalar", {&x}, [xs, ys](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{neg(mul(g, div(ys, xs)))};
    });
  }
  return y;
}

}  // namespace fc
