#include "viz/ticks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/error.hpp"

namespace fc::viz {

namespace {

void check_range(double lo, double hi, const char* who) {
  FC_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
           who << ": need a finite range with lo < hi, got [" << lo << ", " << hi << "]");
}

// Superscript digits for exponents (DejaVu Sans has all of them).
std::string superscript(int k) {
  static const char* kDigits[10] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
                                    "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
  std::string s = k < 0 ? "\u207b" : "";
  std::string digits = std::to_string(std::abs(k));
  for (char c : digits) s += kDigits[c - '0'];
  return s;
}

// "-" -> "−" (U+2212): a hyphen is too short to read as a minus sign in labels.
std::string typographic_minus(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '-' ? std::string("\u2212") : std::string(1, c);
  return out;
}

}  // namespace

double nice_step(double lo, double hi, int target) {
  check_range(lo, hi, "nice_step");
  double raw = (hi - lo) / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0;
  return nice * mag;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  double step = nice_step(lo, hi, target);
  std::vector<double> ticks;
  // Integer multiples of step, so that 0.6 prints as 0.6 and not as 0.6000000000000001
  // accumulated by repeated addition.
  double eps = 1e-9;
  long long k0 = static_cast<long long>(std::ceil(lo / step - eps));
  long long k1 = static_cast<long long>(std::floor(hi / step + eps));
  for (long long k = k0; k <= k1; ++k) ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, int target) {
  check_range(lo, hi, "log_ticks");
  FC_CHECK(lo > 0, "log_ticks: a log axis needs lo > 0, got " << lo);
  double l0 = std::log10(lo), l1 = std::log10(hi);
  double eps = 1e-9;
  std::vector<double> ticks;
  if (l1 - l0 < 1.0) {
    // Less than a decade: linear ticks read best; keep enough of them to see the scale.
    for (double t : nice_ticks(lo, hi, target))
      if (t > 0) ticks.push_back(t);
    return ticks;
  }
  int d0 = static_cast<int>(std::floor(l0)), d1 = static_cast<int>(std::ceil(l1));
  if (l1 - l0 <= 2.5) {
    for (int d = d0; d <= d1; ++d)
      for (double m : {1.0, 2.0, 5.0}) {
        double t = m * std::pow(10.0, d);
        if (t >= lo * (1 - eps) && t <= hi * (1 + eps)) ticks.push_back(t);
      }
    return ticks;
  }
  int stride = std::max(1, static_cast<int>(std::ceil((l1 - l0) / std::max(target, 1))));
  for (int d = d0; d <= d1; ++d) {
    double t = std::pow(10.0, d);
    if (d % stride == 0 && t >= lo * (1 - eps) && t <= hi * (1 + eps)) ticks.push_back(t);
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  if (std::fabs(value) < std::fabs(step) * 1e-6) value = 0.0;  // no "-0" from rounding
  char buf[64];
  double mag = std::fabs(value);
  if ((step < 1e-4 || mag >= 1e6) && value != 0.0) {
    // Scientific, with as many mantissa digits as the step needs.
    int e = static_cast<int>(std::floor(std::log10(mag)));
    int digits = std::clamp(e - static_cast<int>(std::floor(std::log10(step) + 1e-9)), 0, 6);
    std::snprintf(buf, sizeof buf, "%.*e", digits, value);
    std::string s = buf;
    // "1.5e-05" -> "1.5e-5", "2e+06" -> "2e6"
    size_t pe = s.find('e');
    std::string mant = s.substr(0, pe), ex = s.substr(pe + 1);
    bool neg = ex[0] == '-';
    size_t nz = ex.find_first_not_of("+-0");
    return typographic_minus(mant + "e" + (neg ? "-" : "") + (nz == std::string::npos ? "0" : ex.substr(nz)));
  }
  int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 10);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return typographic_minus(buf);
}

std::string format_log_tick(double value, bool powers) {
  double l = std::log10(value);
  int d = static_cast<int>(std::lround(l));
  bool decade = std::fabs(l - d) < 1e-9;
  if (powers && decade) return "10" + superscript(d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
}

Range padded_range(const std::vector<double>& values, double pad, bool for_log) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v) || (for_log && v <= 0)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  FC_CHECK(lo <= hi, "padded_range: no " << (for_log ? "positive " : "") << "finite values");
  if (for_log) {
    double l0 = std::log10(lo), l1 = std::log10(hi);
    if (l1 - l0 < 1e-12) l0 -= 0.5, l1 += 0.5;
    double p = (l1 - l0) * pad;
    return Range{std::pow(10.0, l0 - p), std::pow(10.0, l1 + p)};
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) lo -= 0.5, hi += 0.5;
  double p = (hi - lo) * pad;
  return Range{lo - p, hi + p};
}

}  // namespace fc::viz
