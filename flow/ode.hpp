#pragma once
// ODE solvers for dx/dt = v(x, t) on tensors. Any velocity function works (a model,
// an augmented likelihood system, a closed-form field in tests).
//
// odeint integrates from times[0] through every later entry of `times` (increasing or
// decreasing: backward integration is the same call with decreasing times) and returns
// the state at each of them. Output times are independent of the solver's steps:
// fixed-step methods walk their own grid (step_size, or an explicit time grid) and the
// outputs between grid points come from cubic Hermite interpolation with the
// velocities at both ends; dopri5 uses its own 4th-order dense output.
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace fc::flow {

using VelocityFn = std::function<Tensor(const Tensor& x, float t)>;

enum class Method { Euler, Midpoint, Heun, RK4, Dopri5 };

Method parse_method(const std::string& name);  // one-line error listing the names
std::string method_name(Method m);
int method_order(Method m);

struct OdeOptions {
  Method method = Method::Midpoint;
  // Fixed-step methods: the step size (the last step of a span may be shorter), or,
  // if `grid` is not empty, exactly these times (first and last must be the span's).
  float step_size = 0.05f;
  std::vector<float> grid;
  // dopri5: error tolerances and a cap on accepted + rejected steps.
  float atol = 1e-5f;
  float rtol = 1e-5f;
  int64_t max_steps = 100000;
};

struct OdeResult {
  std::vector<Tensor> states;  // states[i] at times[i] (states[0] is x0)
  // Velocity evaluations of the solver: what integrating to the end costs (Euler with
  // one step: 1), the number a sampler reports.
  int64_t nfe = 0;
  // Evaluations made only to interpolate output times inside the last step (the
  // velocity at its end, which nothing after it uses): not part of the sampling cost.
  int64_t output_nfe = 0;
  int64_t steps = 0;           // solver steps taken (accepted)
  int64_t rejected = 0;        // dopri5 steps rejected
};

OdeResult odeint(const VelocityFn& v, const Tensor& x0, const std::vector<float>& times,
                 const OdeOptions& options = {});

// One fixed step of each method from (x, t) with step h, given f0 = v(x, t).
// Returns x(t + h); nfe counts the extra evaluations.
Tensor ode_step(Method m, const VelocityFn& v, const Tensor& x, float t, float h,
                const Tensor& f0, int64_t& nfe);

}  // namespace fc::flow
