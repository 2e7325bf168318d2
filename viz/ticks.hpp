#pragma once
// Axis ticks at "nice" values (1, 2 or 5 x 10^k) and their labels.
#include <string>
#include <vector>

namespace fc::viz {

// A closed data interval; lo < hi for axes (see padded_range for making one).
struct Range {
  double lo = 0.0, hi = 1.0;
};

// The 1/2/5 x 10^k step that gives about `target` intervals across [lo, hi].
double nice_step(double lo, double hi, int target);
// Multiples of nice_step(lo, hi, target) inside [lo, hi] (ends included up to rounding).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Ticks for a log axis over [lo, hi] (lo > 0): decades when the range spans many of
// them, 1/2/5 x 10^k over a few, linear nice ticks inside less than one decade.
std::vector<double> log_ticks(double lo, double hi, int target = 5);

// Shortest label that tells ticks `step` apart: "0.2", "15", "1e−5"; never "−0".
// Negative numbers get a true minus sign (U+2212), as typeset plots do.
std::string format_tick(double value, double step);
// Label for a log-axis tick: "10⁻⁴" (Unicode superscripts) for a power of ten when
// `powers`, else plain ("0.02", "500"). Plots draw the exponent raised; see tick_label.hpp.
std::string format_log_tick(double value, bool powers);

// [min, max] of the finite values (positive only when for_log) widened by `pad` of
// the span on each side (multiplicatively for log); a single value gets a unit span.
Range padded_range(const std::vector<double>& values, double pad = 0.05, bool for_log = false);

}  // namespace fc::viz
