#include "flow/straightness.hpp"

#include <vector>

#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::flow {

double straightness(const VelocityFn& v, const Tensor& x0, const StraightnessOptions& options) {
  FC_CHECK(x0.ndim() == 2 && x0.dim(0) > 0, "straightness: expected points [N, D], got " << x0.shape());
  FC_CHECK(options.time_points >= 2, "straightness: need at least 2 time points, got " << options.time_points);
  NoGradGuard no_grad;
  const int k = options.time_points;
  std::vector<float> times(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) times[static_cast<size_t>(i)] = static_cast<float>(i) / (k - 1);
  OdeResult traj = odeint(v, x0, times, options.ode);
  Tensor displacement = sub(traj.states.back(), traj.states.front());
  double integral = 0;
  for (int i = 0; i < k; ++i) {
    Tensor gap = sub(displacement, v(traj.states[static_cast<size_t>(i)], times[static_cast<size_t>(i)]));
    // E‖·‖² over the points: the mean of squares times D (mean() averages every entry).
    double e = static_cast<double>(mean(mul(gap, gap)).item()) * static_cast<double>(x0.dim(1));
    double w = (i == 0 || i == k - 1) ? 0.5 : 1.0;
    integral += w * e;
  }
  return integral / (k - 1);
}

}  // namespace fc::flow
