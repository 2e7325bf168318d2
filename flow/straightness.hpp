#pragma once
// Straightness of a flow (Liu et al. 2023, eq. 3): how far the velocity along the
// model's own ODE trajectories is from the straight displacement Z1 - Z0,
//   S = ∫₀¹ E ‖(Z1 − Z0) − v(Z_t, t)‖² dt.
// S = 0 exactly when every trajectory is a straight line run at constant speed, which
// is what lets a flow sample in one Euler step.
#include "engine/tensor.hpp"
#include "flow/ode.hpp"

namespace fc::flow {

struct StraightnessOptions {
  OdeOptions ode;         // how the trajectories Z_t are integrated from x0
  int time_points = 101;  // t = 0, 1/(K-1), ..., 1: the trapezoid rule over t
};

// S for trajectories starting at the rows of x0 [N, D].
double straightness(const VelocityFn& v, const Tensor& x0, const StraightnessOptions& options = {});

}  // namespace fc::flow
