#include "flow/ode.hpp"

#include <algorithm>
#include <cmath>

#include "engine/cancel.hpp"
#include "engine/ops.hpp"

namespace fc::flow {

namespace {

const std::vector<std::pair<std::string, Method>>& method_table() {
  static const std::vector<std::pair<std::string, Method>> t = {
      {"euler", Method::Euler}, {"midpoint", Method::Midpoint}, {"heun", Method::Heun},
      {"rk4", Method::RK4},     {"dopri5", Method::Dopri5}};
  return t;
}

// x + h * k
Tensor axpy(const Tensor& x, float h, const Tensor& k) { return add(x, mul_scalar(k, h)); }

// Cubic Hermite interpolation on [ta, ta + h] from the states and velocities at both ends.
Tensor hermite(const Tensor& xa, const Tensor& fa, const Tensor& xb, const Tensor& fb, float ta,
               float h, float t) {
  float s = (t - ta) / h, s2 = s * s, s3 = s2 * s;
  float h00 = 2 * s3 - 3 * s2 + 1, h10 = s3 - 2 * s2 + s, h01 = -2 * s3 + 3 * s2, h11 = s3 - s2;
  return add(add(mul_scalar(xa, h00), mul_scalar(fa, h10 * h)),
             add(mul_scalar(xb, h01), mul_scalar(fb, h11 * h)));
}

// True when t lies in the half-open step (ta, tb] in the direction of integration,
// allowing for float noise at tb.
bool within(float t, float ta, float tb, float tol) {
  return tb > ta ? (t > ta + tol && t <= tb + tol) : (t < ta - tol && t >= tb - tol);
}

void check_times(const std::vector<float>& times) {
  FC_CHECK(!times.empty(), "odeint: no output times");
  bool inc = times.size() < 2 || times[1] > times[0];
  for (size_t i = 1; i < times.size(); ++i)
    FC_CHECK(inc ? times[i] > times[i - 1] : times[i] < times[i - 1],
             "odeint: output times must be strictly increasing or strictly decreasing");
  for (float t : times) FC_CHECK(std::isfinite(t), "odeint: output time is not finite");
}

OdeResult fixed_step(const VelocityFn& v, const Tensor& x0, const std::vector<float>& times,
                     const OdeOptions& opt) {
  OdeResult r;
  r.states.push_back(x0);
  if (times.size() == 1) return r;
  float t0 = times.front(), t1 = times.back(), span = t1 - t0, dir = span > 0 ? 1.f : -1.f;
  std::vector<float> grid = opt.grid;
  if (grid.empty()) {
    FC_CHECK(opt.step_size > 0 && std::isfinite(opt.step_size),
             "odeint: step size must be positive, got " << opt.step_size);
    int64_t n = static_cast<int64_t>(std::ceil(std::fabs(span) / opt.step_size - 1e-4));
    n = std::max<int64_t>(n, 1);
    for (int64_t i = 0; i < n; ++i) grid.push_back(t0 + dir * opt.step_size * static_cast<float>(i));
    grid.push_back(t1);
  } else {
    FC_CHECK(grid.size() >= 2 && std::fabs(grid.front() - t0) < 1e-6f &&
                 std::fabs(grid.back() - t1) < 1e-6f,
             "odeint: the time grid must start at " << t0 << " and end at " << t1);
    for (size_t i = 1; i < grid.size(); ++i)
      FC_CHECK((grid[i] - grid[i - 1]) * dir > 0, "odeint: the time grid must be monotonic");
  }
  float tol = 1e-6f * std::fabs(span);
  Tensor x = x0, f = v(x0, grid[0]);
  r.nfe = 1;
  size_t j = 1;
  for (size_t g = 0; g + 1 < grid.size() && j < times.size(); ++g) {
    cancellation_point();  // Ctrl-C stops a long integration within a step
    float ta = grid[g], tb = grid[g + 1], h = tb - ta;
    Tensor xb = ode_step(opt.method, v, x, ta, h, f, r.nfe);
    ++r.steps;
    bool last = g + 2 == grid.size();
    Tensor fb;
    auto velocity_at_end = [&]() -> const Tensor& {
      if (!fb.defined()) {
        fb = v(xb, tb);
        // Before the last grid point fb is the next step's first evaluation; at it,
        // only output times inside the step need it.
        ++(last ? r.output_nfe : r.nfe);
      }
      return fb;
    };
    for (; j < times.size() && within(times[j], ta, tb, tol); ++j) {
      if (std::fabs(times[j] - tb) <= tol) r.states.push_back(xb);
      else r.states.push_back(hermite(x, f, xb, velocity_at_end(), ta, h, times[j]));
    }
    if (!last && j < times.size()) velocity_at_end();
    x = xb;
    f = fb;
  }
  return r;
}

// Dormand-Prince 5(4) tableau.
constexpr double kC[7] = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
constexpr double kA[6][6] = {
    {1. / 5},
    {3. / 40, 9. / 40},
    {44. / 45, -56. / 15, 32. / 9},
    {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
    {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
    {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
constexpr double kB4[7] = {5179. / 57600,    0,           7571. / 16695, 393. / 640,
                           -92097. / 339200, 187. / 2100, 1. / 40};
constexpr double kB5[7] = {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0};
// Shampine's midpoint weights for the dense output (y at the middle of the step).
constexpr double kMid[7] = {6025192743. / 30085553152. / 2, 0, 51252292925. / 65400821598. / 2,
                            -2691868925. / 45128329728. / 2, 187940372067. / 1594534317056. / 2,
                            -1776094331. / 19743644256. / 2, 11237099. / 235043384. / 2};

// sum_i w[i] * k[i] over the stages with non-zero weight.
Tensor combine(const std::vector<Tensor>& k, const double* w, int n) {
  Tensor acc;
  for (int i = 0; i < n; ++i) {
    if (w[i] == 0) continue;
    Tensor term = mul_scalar(k[i], static_cast<float>(w[i]));
    acc = acc.defined() ? add(acc, term) : term;
  }
  return acc;
}

float rms(const Tensor& x) { return std::sqrt(mean(square(x)).item()); }

// The quartic through y0, y1 and y_mid with slopes f0, f1 (in units of the step),
// evaluated at s in [0, 1].
Tensor dense_output(const Tensor& y0, const Tensor& y1, const Tensor& ymid, const Tensor& f0,
                    const Tensor& f1, float h, float s) {
  // p(s) = y0 + h f0 s + c s^2 + b s^3 + a s^4 with
  //   A = y1 - y0 - h f0, B = h (f1 - f0), C = 16 (ymid - y0 - h f0 / 2):
  //   a = C - 8A + 2B, b = B - 2A - 2a, c = A - b - a.
  Tensor hf0 = mul_scalar(f0, h);
  Tensor A = sub(sub(y1, y0), hf0);
  Tensor B = mul_scalar(sub(f1, f0), h);
  Tensor C = mul_scalar(sub(sub(ymid, y0), mul_scalar(hf0, 0.5f)), 16.f);
  Tensor a = add(sub(C, mul_scalar(A, 8.f)), mul_scalar(B, 2.f));
  Tensor b = sub(sub(B, mul_scalar(A, 2.f)), mul_scalar(a, 2.f));
  Tensor c = sub(sub(A, b), a);
  float s2 = s * s;
  return add(add(y0, mul_scalar(hf0, s)),
             add(mul_scalar(c, s2), add(mul_scalar(b, s2 * s), mul_scalar(a, s2 * s2))));
}

OdeResult dopri5(const VelocityFn& v, const Tensor& x0, const std::vector<float>& times,
                 const OdeOptions& opt) {
  FC_CHECK(opt.atol > 0 && opt.rtol >= 0, "dopri5: tolerances must be positive");
  OdeResult r;
  r.states.push_back(x0);
  if (times.size() == 1) return r;
  float t0 = times.front(), t_end = times.back(), dir = t_end > t0 ? 1.f : -1.f;
  float tol_t = 1e-6f * std::fabs(t_end - t0);
  auto scale_of = [&](const Tensor& a, const Tensor& b) {
    // atol + rtol * max(|a|, |b|), with max(p, q) = (p + q + |p - q|) / 2
    Tensor pa = abs(a), pb = abs(b);
    Tensor mx = mul_scalar(add(add(pa, pb), abs(sub(pa, pb))), 0.5f);
    return add_scalar(mul_scalar(mx, opt.rtol), opt.atol);
  };
  Tensor y = x0, f = v(x0, t0);
  r.nfe = 1;
  // Initial step (Hairer, Norsett & Wanner, II.4).
  float h;
  {
    Tensor sc = scale_of(y, y);
    float d0 = rms(div(y, sc)), d1 = rms(div(f, sc));
    float h0 = (d0 < 1e-5f || d1 < 1e-5f) ? 1e-6f : 0.01f * d0 / d1;
    Tensor y1 = axpy(y, dir * h0, f);
    Tensor f1 = v(y1, t0 + dir * h0);
    ++r.nfe;
    float d2 = rms(div(sub(f1, f), sc)) / h0;
    float dm = std::max(d1, d2);
    float h1 = dm <= 1e-15f ? std::max(1e-6f, h0 * 1e-3f) : std::pow(0.01f / dm, 1.f / 5.f);
    h = std::min(100 * h0, h1);
  }
  h = std::min(h, std::fabs(t_end - t0));
  float t = t0;
  size_t j = 1;
  std::vector<Tensor> k(7);
  while (j < times.size()) {
    cancellation_point();
    FC_CHECK(r.steps + r.rejected < opt.max_steps,
             "dopri5: gave up after " << opt.max_steps << " steps at t = " << t
                                      << " (tolerances too tight or the field is stiff)");
    FC_CHECK(h > 1e-10f * std::max(1.f, std::fabs(t)), "dopri5: step size underflow at t = " << t);
    float hs = dir * h;
    k[0] = f;
    for (int s = 1; s < 6; ++s) {
      Tensor ys = axpy(y, hs, combine(k, kA[s - 1], s));
      k[s] = v(ys, t + hs * static_cast<float>(kC[s]));
    }
    Tensor y1 = axpy(y, hs, combine(k, kA[5], 6));
    k[6] = v(y1, t + hs);
    r.nfe += 6;
    Tensor err = mul_scalar(combine(k, kB5, 7), hs);
    err = sub(err, mul_scalar(combine(k, kB4, 7), hs));
    float en = rms(div(err, scale_of(y, y1)));
    if (!std::isfinite(en)) en = 1e10f;
    if (en <= 1.f) {
      float t1 = t + hs;
      if (std::fabs(t1 - t_end) <= tol_t) t1 = t_end;
      Tensor ymid;
      for (; j < times.size() && within(times[j], t, t1, tol_t); ++j) {
        if (std::fabs(times[j] - t1) <= tol_t) {
          r.states.push_back(y1);
        } else {
          if (!ymid.defined()) ymid = axpy(y, hs, combine(k, kMid, 7));
          r.states.push_back(dense_output(y, y1, ymid, k[0], k[6], hs, (times[j] - t) / hs));
        }
      }
      ++r.steps;
      t = t1;
      y = y1;
      f = k[6];  // first same as last
    } else {
      ++r.rejected;
    }
    float factor = en == 0.f ? 10.f : std::clamp(0.9f * std::pow(en, -0.2f), 0.2f, 10.f);
    h *= factor;
    float remaining = std::fabs(t_end - t);
    if (h > remaining) h = remaining;
  }
  return r;
}

}  // namespace

Method parse_method(const std::string& name) {
  for (auto& [n, m] : method_table())
    if (n == name) return m;
  std::string valid;
  for (auto& [n, m] : method_table()) valid += (valid.empty() ? "" : ", ") + n;
  FC_THROW("unknown ODE method '" << name << "' (valid: " << valid << ")");
}

std::string method_name(Method m) {
  for (auto& [n, mm] : method_table())
    if (mm == m) return n;
  return "?";
}

int method_order(Method m) {
  switch (m) {
    case Method::Euler: return 1;
    case Method::Midpoint: return 2;
    case Method::Heun: return 2;
    case Method::RK4: return 4;
    case Method::Dopri5: return 5;
  }
  return 0;
}

Tensor ode_step(Method m, const VelocityFn& v, const Tensor& x, float t, float h, const Tensor& f0,
                int64_t& nfe) {
  switch (m) {
    case Method::Euler:
      return axpy(x, h, f0);
    case Method::Midpoint: {
      Tensor km = v(axpy(x, 0.5f * h, f0), t + 0.5f * h);
      nfe += 1;
      return axpy(x, h, km);
    }
    case Method::Heun: {
      Tensor k2 = v(axpy(x, h, f0), t + h);
      nfe += 1;
      return axpy(x, 0.5f * h, add(f0, k2));
    }
    case Method::RK4: {
      Tensor k2 = v(axpy(x, 0.5f * h, f0), t + 0.5f * h);
      Tensor k3 = v(axpy(x, 0.5f * h, k2), t + 0.5f * h);
      Tensor k4 = v(axpy(x, h, k3), t + h);
      nfe += 3;
      Tensor sum = add(add(f0, k4), mul_scalar(add(k2, k3), 2.f));
      return axpy(x, h / 6.f, sum);
    }
    case Method::Dopri5:
      FC_THROW("ode_step: dopri5 is adaptive; use odeint");
  }
  FC_THROW("ode_step: unknown method");
}

OdeResult odeint(const VelocityFn& v, const Tensor& x0, const std::vector<float>& times,
                 const OdeOptions& options) {
  check_times(times);
  if (options.method == Method::Dopri5) return dopri5(v, x0, times, options);
  return fixed_step(v, x0, times, options);
}

}  // namespace fc::flow
