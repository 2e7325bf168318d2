#pragma once
// Finite-difference gradient checking for the engine's ops (see tests/test_ops.cpp).
//
// f maps input tensors to an output of any shape. The check projects the output onto
// fixed random weights W (L = sum(f(x) * W), so every output element matters and no
// gradient cancels by symmetry), back-propagates W through autograd, and compares each
// input's gradient with central differences of L computed in float32 with the
// projection summed in double. The step and the tolerances are the caller's: pick
// them per op, and draw inputs away from kinks and singularities (make_input does).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.hpp"
#include "engine/random.hpp"
#include "engine/tensor.hpp"

namespace fc::test {

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// How to draw a test input so that the finite differences stay on one smooth piece.
enum class Gen {
  Normal,    // N(0, 1): smooth ops
  Positive,  // uniform [0.5, 2]: log, sqrt, non-integer pow, denominators
  NonZero,   // +-uniform [0.3, 1.5]: abs, relu, sign-sensitive ops (kink at 0 avoided)
  Distinct,  // a permutation of values 0.1 apart: max (the winner never changes)
};

inline Tensor make_input(const Shape& shape, Gen gen, uint64_t seed) {
  Generator g(seed);
  switch (gen) {
    case Gen::Normal: return g.normal(shape);
    case Gen::Positive: return g.uniform(shape, 0.5f, 2.f);
    case Gen::NonZero: {
      std::vector<float> mag = g.uniform(shape, 0.3f, 1.5f).to_vector();
      std::vector<float> sgn = g.rademacher(shape).to_vector();
      for (size_t i = 0; i < mag.size(); ++i) mag[i] *= sgn[i];
      return Tensor::from_vector(mag, shape);
    }
    case Gen::Distinct: {
      // k -> (k * p + seed) mod n is a permutation for a prime p that does not divide n.
      int64_t n = shape.numel();
      const int64_t p = 7919;
      std::vector<float> v(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k)
        v[static_cast<size_t>(k)] =
            0.1f * static_cast<float>((k * p + static_cast<int64_t>(seed % 1000)) % n) -
            0.05f * static_cast<float>(n);
      return Tensor::from_vector(v, shape);
    }
  }
  return Tensor();
}

struct GradCheckOptions {
  float step = 1e-2f;  // central-difference step h
  float rtol = 1e-2f;  // pass when |analytic - numeric| <= atol + rtol * max(|a|, |n|)
  float atol = 1e-3f;
  uint64_t weight_seed = 977;  // seed of the projection weights W
};

struct GradCheckResult {
  bool ok = true;
  std::string message;       // what failed, or a summary of the worst element
  double worst_excess = 0;   // max over elements of |a - n| / (atol + rtol * max(|a|, |n|))
};

inline double project(const Tensor& out, const std::vector<float>& w) {
  std::vector<float> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += static_cast<double>(v[i]) * w[i];
  return s;
}

// Compares the autograd gradient of sum(f(inputs) * W) for every input with central
// differences. The inputs are copied; the caller's tensors are not modified. Inputs may
// live on a device (CUDA): each perturbed copy is uploaded whole, and f runs there.
inline GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                                 const GradCheckOptions& opt = GradCheckOptions()) {
  GradCheckResult res;
  std::ostringstream msg;
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone();
    c.requires_grad_();
    xs.push_back(c);
  }

  // Analytic: one backward with W as the output gradient.
  Tensor out = f(xs);
  if (!out.requires_grad()) {
    res.ok = false;
    res.message = "output does not require grad (the op recorded nothing)";
    return res;
  }
  Tensor w = Generator(opt.weight_seed).normal(out.shape()).to(out.device());
  std::vector<float> wv = w.to_vector();
  const double base = project(out, wv);
  out.backward(w);
  std::vector<std::vector<float>> analytic;
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor g = xs[i].grad();
    if (!g.defined()) {
      res.ok = false;
      msg << "input " << i << ": no gradient";
      res.message = msg.str();
      return res;
    }
    if (g.shape() != xs[i].shape()) {
      res.ok = false;
      msg << "input " << i << ": gradient of shape " << g.shape() << " for input "
          << xs[i].shape();
      res.message = msg.str();
      return res;
    }
    analytic.push_back(g.to_vector());
  }
  out = Tensor();  // the graph shares storage with xs; drop it before perturbing

  // Numeric: perturb one element at a time, in place, with recording off.
  NoGradGuard no_grad;
  {
    Tensor again = f(xs);
    double rerun = project(again, wv);
    if (std::fabs(rerun - base) > 1e-6 * (1 + std::fabs(base))) {
      res.ok = false;
      msg << "forward differs with recording off: " << rerun << " vs " << base;
      res.message = msg.str();
      return res;
    }
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    const Device dev = xs[i].device();
    std::vector<float> host = xs[i].to_vector();
    float* x = dev == Device::CPU ? xs[i].cpu_data() : host.data();
    auto upload = [&] {  // a device input takes the perturbed host copy
      if (dev != Device::CPU) xs[i].copy_(Tensor::from_vector(host, xs[i].shape()).to(dev));
    };
    for (int64_t j = 0; j < xs[i].numel(); ++j) {
      const float orig = x[j];
      x[j] = orig + opt.step;
      upload();
      const double fp = project(f(xs), wv);
      x[j] = orig - opt.step;
      upload();
      const double fm = project(f(xs), wv);
      x[j] = orig;
      upload();
      // The step actually taken, after rounding orig +- h to float.
      const double h2 = static_cast<double>(orig + opt.step) - static_cast<double>(orig - opt.step);
      const double numeric = (fp - fm) / h2;
      const double a = analytic[i][static_cast<size_t>(j)];
      const double err = std::fabs(a - numeric);
      const double allowed = opt.atol + opt.rtol * std::max(std::fabs(a), std::fabs(numeric));
      const double excess = err / allowed;
      if (!(excess <= 1.0)) res.ok = false;  // also catches NaN
      const double ranked = std::isnan(excess) ? HUGE_VAL : excess;
      if (ranked > res.worst_excess || (i == 0 && j == 0)) {
        res.worst_excess = ranked;
        std::ostringstream m;
        m << "input " << i << " " << xs[i].shape() << " element " << j
          << ": analytic " << a << ", numeric " << numeric << " (|diff| " << err
          << ", allowed " << allowed << ")";
        res.message = m.str();
      }
    }
  }
  return res;
}

}  // namespace fc::test
