#include "flow/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cancel.hpp"
#include "engine/error.hpp"
#include "engine/parallel.hpp"

namespace fc::flow {

namespace {

// Mean Euclidean distance between rows of x [n, d] and y [m, d]; excluding i == j when
// x and y are the same sample.
double mean_distance(const float* x, int64_t n, const float* y, int64_t m, int64_t d, bool same) {
  std::vector<double> row_sums(static_cast<size_t>(n), 0.0);
  // In blocks of rows (2^26 / (m d) each) with a cancellation point between them: 20,000 x
  // 20,000 take a second or more, too long for a signal to wait. The sums are the same.
  const int64_t block = std::max<int64_t>(64, (int64_t{1} << 26) / std::max<int64_t>(1, m * d));
  for (int64_t first = 0; first < n; first += block) {
    cancellation_point();
    parallel_for(std::min(block, n - first), 8, [&](int64_t s, int64_t e) {
      for (int64_t i = first + s; i < first + e; ++i) {
        double acc = 0;
        const float* xi = x + i * d;
        for (int64_t j = 0; j < m; ++j) {
          const float* yj = y + j * d;
          float sq = 0;
          for (int64_t k = 0; k < d; ++k) {
            float diff = xi[k] - yj[k];
            sq += diff * diff;
          }
          acc += std::sqrt(sq);
        }
        row_sums[static_cast<size_t>(i)] = acc;
      }
    });
  }
  double total = 0;
  for (double r : row_sums) total += r;
  double pairs = same ? static_cast<double>(n) * (n - 1) : static_cast<double>(n) * m;
  return total / pairs;
}

}  // namespace

double energy_distance(const Tensor& a_in, const Tensor& b_in, int64_t max_points) {
  FC_CHECK(a_in.ndim() == 2 && b_in.ndim() == 2 && a_in.dim(1) == b_in.dim(1),
           "energy_distance: expected [N, D] and [M, D], got " << a_in.shape() << " and "
                                                               << b_in.shape());
  Tensor a = a_in.to(Device::CPU), b = b_in.to(Device::CPU);
  int64_t n = std::min(a.dim(0), max_points), m = std::min(b.dim(0), max_points), d = a.dim(1);
  FC_CHECK(n >= 2 && m >= 2, "energy_distance: need at least 2 points on each side");
  double xy = mean_distance(a.cpu_data(), n, b.cpu_data(), m, d, false);
  double xx = mean_distance(a.cpu_data(), n, a.cpu_data(), n, d, true);
  double yy = mean_distance(b.cpu_data(), m, b.cpu_data(), m, d, true);
  return 2 * xy - xx - yy;
}

}  // namespace fc::flow
