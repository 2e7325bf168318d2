#pragma once
// Log-likelihood under a flow (Chen et al. 2018; the recipe in DESIGN.md):
//   log p1(x1) = log p0(x0) + ∫₁⁰ div v(x_t, t) dt,
// integrating x and the divergence integral together from t = 1 down to t = 0, with
// p0 = N(0, I). The divergence is exact (one vector-Jacobian product per dimension)
// or Hutchinson's estimate z^T (dv/dx) z with Rademacher z, averaged over K probes.
#include <cstdint>

#include "engine/random.hpp"
#include "flow/ode.hpp"

namespace fc::flow {

struct LikelihoodOptions {
  OdeOptions ode;              // the recipe: midpoint, step 0.05
  int hutchinson_probes = 0;   // 0: exact divergence; K > 0: Hutchinson with K probes
  uint64_t seed = 0;           // probes' generator
};

struct LikelihoodResult {
  Tensor log_prob;  // [N]: log p1 at each input point
  Tensor x0;        // the points mapped back to t = 0
  int64_t nfe = 0;
};

// v must accept a tensor that requires grad and build a graph through it.
LikelihoodResult log_likelihood(const VelocityFn& v, const Tensor& x1,
                                const LikelihoodOptions& options = {});

// The divergence of v at (x, t), [N]: exact, or Hutchinson with `probes` Rademacher
// probes drawn from gen (probes > 0).
Tensor divergence(const VelocityFn& v, const Tensor& x, float t, int probes, Generator* gen,
                  Tensor* velocity_out = nullptr);

// log N(x; 0, I) per row of x [N, D].
Tensor standard_normal_log_prob(const Tensor& x);

}  // namespace fc::flow
