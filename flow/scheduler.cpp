#include "flow/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "engine/parse_number.hpp"

namespace fc::flow {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kVpBetaMin = 0.1, kVpBetaMax = 20.0;

constexpr double kPolyMin = 0.1, kPolyMax = 10.0;

const char kForms[] = "condot, poly:N (0.1 <= N <= 10), linear-vp, cosine, vp";

}  // namespace

Scheduler::Scheduler(Kind kind, double param) : kind_(kind), param_(param) {
  if (kind == Kind::CondOT)
    FC_CHECK(param >= 0 && param < 1, "condot path: sigma_min must be in [0, 1), got " << param);
  if (kind == Kind::Poly)
    FC_CHECK(param > 0 && std::isfinite(param), "poly path: the exponent must be positive, got " << param);
}

Scheduler Scheduler::parse(const std::string& spec, double sigma_min) {
  if (spec == "condot") return Scheduler(Kind::CondOT, sigma_min);
  if (spec == "linear-vp") return Scheduler(Kind::LinearVP);
  if (spec == "cosine") return Scheduler(Kind::Cosine);
  if (spec == "vp") return Scheduler(Kind::VP);
  if (spec.rfind("poly:", 0) == 0) {
    // Beyond [1/10, 10] α = t^N is 0 or 1 to float precision over most of [0, 1] and
    // its derivative overflows near an end: the samples come out NaN (poly:1e-300).
    const std::optional<double> exponent = parse_decimal(spec.substr(5));
    FC_CHECK(exponent && *exponent >= kPolyMin && *exponent <= kPolyMax,
             "path '" << spec << "': poly:N needs a number N from " << kPolyMin << " to " << kPolyMax << " (poly:2)");
    return Scheduler(Kind::Poly, *exponent);
  }
  FC_THROW("unknown path '" << spec << "'; valid: " << kForms);
}

std::vector<std::string> Scheduler::names() { return {"condot", "poly:N", "linear-vp", "cosine", "vp"}; }

std::string Scheduler::name() const {
  switch (kind_) {
    case Kind::CondOT: return "condot";
    case Kind::Poly: {
      std::ostringstream os;
      os << "poly:" << param_;
      return os.str();
    }
    case Kind::LinearVP: return "linear-vp";
    case Kind::Cosine: return "cosine";
    case Kind::VP: return "vp";
  }
  return "condot";
}

SchedulerValues Scheduler::at(double t) const {
  switch (kind_) {
    case Kind::CondOT: return {t, 1 - (1 - param_) * t, 1, -(1 - param_)};
    case Kind::Poly: {
      const double tn = std::pow(t, param_);
      const double d = t > 0 ? param_ * tn / t : (param_ == 1 ? 1 : param_ < 1 ? HUGE_VAL : 0);
      return {tn, 1 - tn, d, -d};
    }
    case Kind::LinearVP: {
      const double s = std::sqrt(std::max(0.0, 1 - t * t));
      return {t, s, 1, -t / s};
    }
    case Kind::Cosine: {
      const double a = 0.5 * kPi * t;
      return {std::sin(a), std::cos(a), 0.5 * kPi * std::cos(a), -0.5 * kPi * std::sin(a)};
    }
    case Kind::VP: {
      const double u = 1 - t, delta = kVpBetaMax - kVpBetaMin;
      const double big_t = 0.5 * u * u * delta + u * kVpBetaMin;
      const double d_big_t = -u * delta - kVpBetaMin;
      const double alpha = std::exp(-0.5 * big_t);
      const double d_alpha = -0.5 * d_big_t * alpha;
      const double sigma = std::sqrt(std::max(0.0, 1 - alpha * alpha));
      return {alpha, sigma, d_alpha, -alpha * d_alpha / sigma};
    }
  }
  return {t, 1 - t, 1, -1};
}

double Scheduler::snr_inverse(double snr) const {
  FC_CHECK(snr >= 0, "snr_inverse: negative signal-to-noise ratio " << snr);
  const bool inf = std::isinf(snr);
  double t = 1;
  switch (kind_) {
    case Kind::CondOT: t = inf ? 1 : snr / (1 + (1 - param_) * snr); break;
    case Kind::Poly: t = inf ? 1 : std::pow(snr / (1 + snr), 1 / param_); break;
    case Kind::LinearVP: t = inf ? 1 : snr / std::sqrt(1 + snr * snr); break;
    case Kind::Cosine: t = 2 / kPi * std::atan(snr); break;
    case Kind::VP: {
      if (inf) break;
      // α² = snr² / (1 + snr²), T = -log α², then ½ Δ u² + βmin u = T for u = 1 - t.
      const double big_t = std::log1p(1 / (snr * snr)), delta = kVpBetaMax - kVpBetaMin;
      const double u = (-kVpBetaMin + std::sqrt(kVpBetaMin * kVpBetaMin + 2 * delta * big_t)) / delta;
      t = 1 - u;
      break;
    }
  }
  return std::clamp(t, 0.0, 1.0);
}

VelocityFn schedule_transformed_velocity(const VelocityFn& v, const Scheduler& trained,
                                         const Scheduler& target) {
  // With σmin > 0 the trained path's α/σ stops at 1/σmin and cannot follow a target
  // whose ratio grows without bound.
  FC_CHECK(trained.sigma_min() == 0 && target.sigma_min() == 0,
           "sampling under another path needs sigma_min = 0 (got " << trained.sigma_min() << " and "
                                                                   << target.sigma_min() << ")");
  return [v, trained, target](const Tensor& x, float time) {
    // A hair inside (0, 1): at 1 linear-vp's σ' is infinite (its s(r) has a square-root
    // singularity there, so the hair must be thin: 1e-12 leaves 1.4e-6 of s untravelled),
    // and at 0 a path with α'(0) = 0 (poly:N, N > 1) as the trained one has s(r) ~ r^(1/N),
    // an infinite ṡ times a velocity that is 0 there: 0 x inf = NaN at the solvers' start,
    // while the product's limit is finite. poly:N with N < 1 has α'(0) infinite itself.
    const double r = std::clamp(static_cast<double>(time), 1e-12, 1 - 1e-12);
    const SchedulerValues b = target.at(r);
    const double s = trained.snr_inverse(b.sigma > 0 ? b.alpha / b.sigma : HUGE_VAL);
    const SchedulerValues a = trained.at(s);
    // c = σ̄/σ_s = ᾱ/α_s (the two ratios agree where the SNRs do). Each form is 0/0 at
    // one end, so take the one whose denominator is the larger: near t = 1 the σ form
    // would subtract two terms that grow like 1/σ.
    const bool by_alpha = b.alpha > b.sigma;
    const double c = by_alpha ? b.alpha / a.alpha : b.sigma / a.sigma;
    // ṡ from d(α/σ)/dr on both sides: σ_s² ρ̄' / (σ̄² ρ') with σ_s / σ̄ = 1 / c.
    const double ds = (b.sigma * b.d_alpha - b.alpha * b.d_sigma) /
                      (c * c * (a.sigma * a.d_alpha - a.alpha * a.d_sigma));
    const double dc_over_c = by_alpha ? b.d_alpha / b.alpha - a.d_alpha * ds / a.alpha
                                      : b.d_sigma / b.sigma - a.d_sigma * ds / a.sigma;
    Tensor u = v(mul_scalar(x, static_cast<float>(1 / c)), static_cast<float>(s));
    return add(mul_scalar(x, static_cast<float>(dc_over_c)), mul_scalar(u, static_cast<float>(c * ds)));
  };
}

}  // namespace fc::flow
