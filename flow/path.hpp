#pragma once
// The probability paths' x_t and u_t for a batch of pairs (x0 noise, x1 data): the
// conditional flow matching path, any affine path of a Scheduler, the Schrödinger
// bridge. The first is Lipman et al. 2023, eq. 20-23, with σmin:
//   x_t = t x1 + (1 - (1 - σmin) t) x0,   u_t = x1 - (1 - σmin) x0.
// σmin = 0 is the straight line of rectified flow. t broadcasts against x (e.g. t is
// [N, 1] for points [N, 2], or [N, 1, 1, 1] for images).
#include <functional>

#include "engine/tensor.hpp"
#include "flow/scheduler.hpp"

namespace fc::flow {

// f(t) for each element of t, shaped like t, on device `on`: the per-row coefficients
// of a path (t holds one time per row, a handful of numbers), computed on the host.
// Every path function below takes t on the host or on x's device; t on the host costs
// no wait (the training loops draw it there), t on a GPU makes the host wait to read it.
Tensor time_coefficient(const Tensor& t, const std::function<double(double)>& f, Device on);

Tensor cfm_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, float sigma_min);
Tensor cfm_target(const Tensor& x0, const Tensor& x1, float sigma_min);

// Any of flow/scheduler.hpp's affine paths (the training loops call these):
// x_t = α(t) x1 + σ(t) x0, with t holding one time per row of x0 and broadcasting
// against it ([N, 1] for points [N, D], [N, 1, 1, 1] for images). condot is computed
// exactly as cfm_interpolate, above.
Tensor affine_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, const Scheduler& s);
// The conditional velocity α'(t) x1 + σ'(t) x0 (condot: cfm_target).
Tensor affine_target(const Tensor& x0, const Tensor& x1, const Tensor& t, const Scheduler& s);

// The Brownian bridge of Schrödinger-bridge CFM (Tong et al. 2024; torchcfm's
// SchrodingerBridgeConditionalFlowMatcher) between paired x0 and x1, with noise eps ~
// N(0, I) shaped like x0:
//   x_t = t x1 + (1 - t) x0 + S sqrt(t (1 - t)) eps,
//   u_t = x1 - x0 + S (1 - 2t) / (2 sqrt(t (1 - t))) eps     (= d x_t / dt),
// the second written with eps rather than x_t - μ_t, which is the same. u_t grows like
// 1/sqrt(t) at the ends, so t is clamped to [1e-5, 1 - 1e-5] (a uniform draw can be
// exactly 0).
Tensor sb_interpolate(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& eps,
                      float sigma);
Tensor sb_target(const Tensor& x0, const Tensor& x1, const Tensor& t, const Tensor& eps,
                 float sigma);

}  // namespace fc::flow
