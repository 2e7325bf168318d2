#include "flow/likelihood.hpp"

#include <cmath>

#include "engine/autograd.hpp"
#include "engine/ops.hpp"

namespace fc::flow {

Tensor standard_normal_log_prob(const Tensor& x) {
  FC_CHECK(x.ndim() == 2, "standard_normal_log_prob: expected [N, D], got " << x.shape());
  float d = static_cast<float>(x.dim(1));
  return add_scalar(mul_scalar(sum(square(x), {1}), -0.5f),
                    -0.5f * d * std::log(2.f * 3.14159265358979f));
}

Tensor divergence(const VelocityFn& v, const Tensor& x_in, float t, int probes, Generator* gen,
                  Tensor* velocity_out) {
  FC_CHECK(x_in.ndim() == 2, "divergence: expected points [N, D], got " << x_in.shape());
  GradModeGuard grad_on(true);
  Tensor x = x_in.detach();
  x.requires_grad_(true);
  Tensor vx = v(x, t);
  FC_CHECK(vx.shape() == x.shape(), "divergence: velocity " << vx.shape() << " for points "
                                                            << x.shape());
  int64_t n = x.dim(0), d = x.dim(1);
  Tensor div_sum;
  if (probes <= 0) {
    // Column i of d(v . e_i)/dx is dv_i/dx_i; one vector-Jacobian product per dimension.
    for (int64_t i = 0; i < d; ++i) {
      std::vector<float> e(static_cast<size_t>(n * d), 0.f);
      for (int64_t r = 0; r < n; ++r) e[static_cast<size_t>(r * d + i)] = 1.f;
      Tensor ei = Tensor::from_vector(e, x.shape(), x.device());
      Tensor g = grad(vx, {x}, ei, /*retain_graph=*/i + 1 < d)[0];
      Tensor col = reshape(slice(g, 1, i, i + 1), Shape{n});
      div_sum = div_sum.defined() ? add(div_sum, col) : col;
    }
  } else {
    FC_CHECK(gen, "divergence: Hutchinson needs a generator");
    for (int k = 0; k < probes; ++k) {
      Tensor z = gen->rademacher(x.shape(), x.device());
      Tensor g = grad(vx, {x}, z, /*retain_graph=*/k + 1 < probes)[0];
      Tensor est = sum(mul(g, z), {1});
      div_sum = div_sum.defined() ? add(div_sum, est) : est;
    }
    div_sum = mul_scalar(div_sum, 1.f / static_cast<float>(probes));
  }
  if (velocity_out) *velocity_out = vx.detach();
  return div_sum.detach();
}

LikelihoodResult log_likelihood(const VelocityFn& v, const Tensor& x1,
                                const LikelihoodOptions& options) {
  FC_CHECK(x1.ndim() == 2, "log_likelihood: expected points [N, D], got " << x1.shape());
  int64_t n = x1.dim(0), d = x1.dim(1);
  Generator gen(options.seed);
  // The augmented state [x, ∫ div] as one [N, D + 1] tensor, integrated from 1 to 0.
  VelocityFn augmented = [&](const Tensor& s, float t) {
    Tensor x = slice(s, 1, 0, d);
    Tensor vx;
    Tensor dv = divergence(v, x, t, options.hutchinson_probes, &gen, &vx);
    return concat({vx, reshape(dv, Shape{n, 1})}, 1);
  };
  Tensor s0 = concat({x1.detach(), Tensor::zeros(Shape{n, 1}, x1.device())}, 1);
  OdeResult r;
  {
    NoGradGuard no_grad;  // the solver's own arithmetic needs no graph
    r = odeint(augmented, s0, {1.f, 0.f}, options.ode);
  }
  const Tensor& end = r.states.back();
  LikelihoodResult out;
  out.x0 = slice(end, 1, 0, d);
  Tensor integral = reshape(slice(end, 1, d, d + 1), Shape{n});
  out.log_prob = add(standard_normal_log_prob(out.x0), integral);
  out.nfe = r.nfe;
  return out;
}

}  // namespace fc::flow
