#pragma once
// Affine probability paths x_t = α_t x1 + σ_t x0 (x0 noise, x1 data) and their
// schedulers, as in Lipman et al. 2024 ("Flow Matching Guide and Code", §4.8) and
// facebookresearch/flow_matching's schedulers. The conditional velocity that moves x0
// to x1 along the path is u_t = α'_t x1 + σ'_t x0.
//
//   condot      α = t,                 σ = 1 - (1 - σmin) t   (today's CFM path)
//   poly:N      α = t^N,               σ = 1 - t^N
//   linear-vp   α = t,                 σ = sqrt(1 - t^2)
//   cosine      α = sin(πt/2),         σ = cos(πt/2)
//   vp          α = exp(-T/2), σ = sqrt(1 - α^2), T(t) = ½(1-t)²(βmax-βmin) + (1-t)βmin
//               (the variance-preserving SDE's schedule, βmin = 0.1, βmax = 20)
//
// x_t and u_t of these paths for a batch are flow/path.hpp's affine_interpolate and
// affine_target. A model trained under one scheduler samples under another through the
// schedule-transformed velocity (schedule_transformed_velocity): both paths pass
// through the same points up to a scale once their signal-to-noise ratios α/σ agree.
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "flow/ode.hpp"

namespace fc::flow {

struct SchedulerValues {
  double alpha, sigma, d_alpha, d_sigma;
};

class Scheduler {
 public:
  enum class Kind { CondOT, Poly, LinearVP, Cosine, VP };

  // The CFM path with σmin (condot); σmin = 0 is rectified flow's straight line.
  explicit Scheduler(Kind kind = Kind::CondOT, double param = 0);
  // "condot", "poly:N" (0.1 <= N <= 10), "linear-vp", "cosine", "vp"; anything else throws one
  // line listing the forms (the name comes from --path). sigma_min applies to condot.
  static Scheduler parse(const std::string& spec, double sigma_min = 0);
  static std::vector<std::string> names();  // for help texts

  Kind kind() const { return kind_; }
  // The spec that parse() reads back ("poly:2"); σmin is not part of it.
  std::string name() const;
  bool is_condot() const { return kind_ == Kind::CondOT; }
  double sigma_min() const { return kind_ == Kind::CondOT ? param_ : 0; }

  // α, σ and their derivatives at t in [0, 1].
  SchedulerValues at(double t) const;
  // The time at which α/σ equals snr >= 0 (α/σ increases with t; +inf gives 1).
  double snr_inverse(double snr) const;

 private:
  Kind kind_;
  double param_;  // condot: σmin; poly: the exponent N
};

// The velocity of the path under `target`, from a model v trained under `trained`
// (flow_matching's ScheduleTransformedModel). At time r let s(r) be the time where
// trained's α/σ equals target's, and c(r) = σ̄_r / σ_s(r); then x̄_r = c x_s, and
//   v̄(x̄, r) = (ċ / c) x̄ + c ṡ v(x̄ / c, s(r)).
// Integrating v̄ from the same x0 gives the same x1 as integrating v (the paths differ
// in between), so this tests that a model's scheduler can change at sampling time.
VelocityFn schedule_transformed_velocity(const VelocityFn& v, const Scheduler& trained,
                                         const Scheduler& target);

}  // namespace fc::flow
