#pragma once
// The one-input ops' formulas and derivatives, written once: the CPU kernels
// (engine/cpu/elementwise.cpp) and the CUDA kernels (engine/cuda/elementwise.cu) both
// compute unary_value and unary_gradient. The one thing the backends choose is exp:
// the CPU passes its polynomial fast_exp (it vectorises; libm's expf is a scalar call),
// CUDA passes expf. Everything else is the C math library's float functions, which
// nvcc provides on the device.
#include <cmath>

#include "engine/host_device.hpp"
#include "engine/kernels.hpp"

namespace fc {

// y = op(x); s is the op's scalar (Pow's exponent, AddScalar's summand, ...).
template <class Exp>
FC_HOST_DEVICE inline float unary_value(UnaryOp op, float x, float s, Exp exp) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Square: return x * x;
    case UnaryOp::Abs: return fabsf(x);
    case UnaryOp::Sign: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case UnaryOp::Step: return x > 0.f ? 1.f : 0.f;
    case UnaryOp::Sigmoid: return 1.f / (1.f + exp(-x));
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::Relu: return x > 0.f ? x : 0.f;
    case UnaryOp::Pow: return powf(x, s);
    case UnaryOp::AddScalar: return x + s;
    case UnaryOp::MulScalar: return x * s;
    case UnaryOp::RSubScalar: return s - x;
    case UnaryOp::RDivScalar: return s / x;
    case UnaryOp::Sin: return sinf(x);
    case UnaryOp::Cos: return cosf(x);
  }
  return x;
}

// What the fused gradient kernel (unary_backward) reads of an op: its input x, its
// output y, or None when the op has no fused gradient (its gradient is written in
// engine ops instead, engine/ops/unary.cpp).
enum class GradientReads { None, Input, Output };

FC_HOST_DEVICE constexpr GradientReads unary_gradient_reads(UnaryOp op) {
  switch (op) {
    case UnaryOp::Square: case UnaryOp::Pow: case UnaryOp::Abs: case UnaryOp::Relu:
    case UnaryOp::Sin: case UnaryOp::Cos:
      return GradientReads::Input;
    case UnaryOp::Sqrt: case UnaryOp::Sigmoid: case UnaryOp::Tanh:
      return GradientReads::Output;
    default:
      return GradientReads::None;
  }
}

// g * d op / dx, given x, y = op(x) and the incoming gradient g; only what
// unary_gradient_reads names is read (the other may be anything). 0 for an op
// without a fused gradient.
FC_HOST_DEVICE inline float unary_gradient(UnaryOp op, float x, float y, float g, float s) {
  switch (op) {
    case UnaryOp::Sqrt: return 0.5f * g / y;  // d sqrt(x) = 1 / (2 sqrt(x))
    case UnaryOp::Square: return 2.f * x * g;
    case UnaryOp::Pow: return g * s * powf(x, s - 1.f);
    case UnaryOp::Abs: return x > 0.f ? g : (x < 0.f ? -g : 0.f);
    case UnaryOp::Sigmoid: return g * y * (1.f - y);
    case UnaryOp::Tanh: return g * (1.f - y * y);
    case UnaryOp::Relu: return x > 0.f ? g : 0.f;
    case UnaryOp::Sin: return g * cosf(x);
    case UnaryOp::Cos: return -g * sinf(x);
    default: return 0.f;
  }
}

}  // namespace fc
