#include "flow/frechet.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "engine/error.hpp"

namespace fc::flow {

namespace {

// Mean and unbiased covariance of x [n, d]; `who` starts the error messages.
FeatureStats stats_of(const float* x, int64_t n, int64_t d, const std::string& who) {
  FC_CHECK(n >= 2, who << ": need at least 2 feature vectors, got " << n);
  FC_CHECK(d > 0, who << ": the feature vectors are empty");
  FeatureStats s;
  s.n = n;
  s.mean.assign(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      float v = x[i * d + k];
      FC_CHECK(std::isfinite(v), who << ": non-finite value " << v << " at row " << i << ", column " << k);
      s.mean[static_cast<size_t>(k)] += v;
    }
  for (double& m : s.mean) m /= static_cast<double>(n);
  // Two passes (centre, then accumulate) in chunks of rows, so that the centred copy in
  // double stays small. Single-threaded on purpose: it is fast enough (10,000 x 128 in
  // ~40 ms), deterministic, and parallel regions stall when the cores are shared.
  // Row j and column j see the same products in the same order: exactly symmetric.
  s.cov.assign(static_cast<size_t>(d * d), 0.0);
  constexpr int64_t kChunk = 256;
  std::vector<double> centred(static_cast<size_t>(std::min(n, kChunk) * d));
  for (int64_t r0 = 0; r0 < n; r0 += kChunk) {
    int64_t rows = std::min(kChunk, n - r0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < d; ++k)
        centred[static_cast<size_t>(r * d + k)] = x[(r0 + r) * d + k] - s.mean[static_cast<size_t>(k)];
    for (int64_t j = 0; j < d; ++j) {
      double* row = s.cov.data() + j * d;
      for (int64_t r = 0; r < rows; ++r) {
        const double* c = centred.data() + r * d;
        double cj = c[j];
#pragma omp simd
        for (int64_t k = 0; k < d; ++k) row[k] += cj * c[k];
      }
    }
  }
  for (double& c : s.cov) c /= static_cast<double>(n - 1);
  return s;
}

FeatureStats stats_of(const Tensor& features, const std::string& who) {
  FC_CHECK(features.defined() && features.ndim() == 2,
           who << ": expected features [N, D], got " << (features.defined() ? features.shape() : Shape{}));
  Tensor x = features.to(Device::CPU);
  return stats_of(x.cpu_data(), x.dim(0), x.dim(1), who);
}

FeatureStats stats_of(const std::vector<float>& features, int64_t dim, const std::string& who) {
  FC_CHECK(dim > 0 && features.size() % static_cast<size_t>(dim) == 0,
           who << ": " << features.size() << " values are not rows of dimension " << dim);
  return stats_of(features.data(), static_cast<int64_t>(features.size()) / dim, dim, who);
}

void check_stats(const FeatureStats& s, const char* side) {
  int64_t d = s.dim();
  FC_CHECK(d > 0 && s.cov.size() == static_cast<size_t>(d * d),
           "frechet_distance: the " << side << " statistics have a mean of " << d
                                    << " values and a covariance of " << s.cov.size());
  FC_CHECK(s.n >= 2, "frechet_distance: the " << side << " statistics summarise " << s.n
                                             << " vectors; need at least 2");
  auto finite = [](double v) { return std::isfinite(v); };
  FC_CHECK(std::all_of(s.mean.begin(), s.mean.end(), finite) &&
               std::all_of(s.cov.begin(), s.cov.end(), finite),
           "frechet_distance: the " << side << " statistics hold a non-finite value");
}

// x [n, n] @ y [n, n].
std::vector<double> matmul(const std::vector<double>& x, const std::vector<double>& y, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      double xik = x[static_cast<size_t>(i * n + k)];
      const double* yk = y.data() + k * n;
      double* oi = out.data() + i * n;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) oi[j] += xik * yk[j];
    }
  return out;
}

// One Jacobi rotation in the (p, q) plane that zeroes a[p, q] (Numerical Recipes'
// formulation: the smaller rotation angle, and t = 1/(2 theta) where theta^2 would
// overflow). a' = P^T a P: rows p and q are rotated in place (contiguous, so it
// vectorises), copied to columns p and q, and the 2 x 2 block is set exactly. vt holds
// the eigenvectors as rows, so accumulating the rotation is a row update too.
void jacobi_rotate(std::vector<double>& a, std::vector<double>& vt, int64_t n, int64_t p, int64_t q) {
  double apq = a[static_cast<size_t>(p * n + q)];
  double app = a[static_cast<size_t>(p * n + p)], aqq = a[static_cast<size_t>(q * n + q)];
  double theta = (aqq - app) / (2 * apq);
  double t = std::fabs(theta) > 1e150 ? 1 / (2 * theta)
                                      : std::copysign(1.0, theta) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
  double c = 1 / std::sqrt(t * t + 1), s = t * c;
  auto rotate_rows = [&](double* rp, double* rq) {
#pragma omp simd
    for (int64_t r = 0; r < n; ++r) {
      double xp = rp[r], xq = rq[r];
      rp[r] = c * xp - s * xq;
      rq[r] = s * xp + c * xq;
    }
  };
  double* ap = a.data() + p * n;
  double* aq = a.data() + q * n;
  rotate_rows(ap, aq);
  for (int64_t r = 0; r < n; ++r) {
    a[static_cast<size_t>(r * n + p)] = ap[r];
    a[static_cast<size_t>(r * n + q)] = aq[r];
  }
  ap[p] = app - t * apq;
  aq[q] = aqq + t * apq;
  ap[q] = aq[p] = 0;
  rotate_rows(vt.data() + p * n, vt.data() + q * n);
}

}  // namespace

SymmetricEigen jacobi_eigen(const std::vector<double>& a_in, int64_t n, double tol, int max_sweeps) {
  FC_CHECK(n >= 1 && a_in.size() == static_cast<size_t>(n * n),
           "jacobi_eigen: expected " << n << " x " << n << " values, got " << a_in.size());
  const size_t un = static_cast<size_t>(n);
  std::vector<double> a(un * un), vt(un * un, 0.0);
  double norm2 = 0;
  for (size_t i = 0; i < un; ++i) {
    vt[i * un + i] = 1;
    for (size_t j = 0; j < un; ++j) {
      FC_CHECK(std::isfinite(a_in[i * un + j]),
               "jacobi_eigen: non-finite value " << a_in[i * un + j] << " at (" << i << ", " << j << ")");
      a[i * un + j] = 0.5 * (a_in[i * un + j] + a_in[j * un + i]);
      norm2 += a[i * un + j] * a[i * un + j];
    }
  }
  SymmetricEigen out;
  for (;;) {
    double off2 = 0;
    for (size_t i = 0; i < un; ++i)
      for (size_t j = 0; j < un; ++j)
        if (i != j) off2 += a[i * un + j] * a[i * un + j];
    if (off2 == 0 || std::sqrt(off2) <= tol * std::sqrt(norm2)) break;
    FC_CHECK(out.sweeps < max_sweeps, "jacobi_eigen: no convergence after "
                                          << max_sweeps << " sweeps (off-diagonal norm "
                                          << std::sqrt(off2 / norm2) << " of the matrix norm)");
    ++out.sweeps;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        double& apq = a[static_cast<size_t>(p * n + q)];
        if (apq == 0) continue;
        // Late in the iteration an element below the rounding of both diagonal
        // entries is set to zero instead of rotated (as Numerical Recipes does).
        double g = 100 * std::fabs(apq);
        double app = std::fabs(a[static_cast<size_t>(p * n + p)]), aqq = std::fabs(a[static_cast<size_t>(q * n + q)]);
        if (out.sweeps > 4 && app + g == app && aqq + g == aqq) {
          apq = a[static_cast<size_t>(q * n + p)] = 0;
          continue;
        }
        jacobi_rotate(a, vt, n, p, q);
      }
  }
  std::vector<size_t> order(un);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return a[x * un + x] < a[y * un + y]; });
  out.values.resize(un);
  out.vectors.resize(un * un);
  for (size_t k = 0; k < un; ++k) {
    out.values[k] = a[order[k] * un + order[k]];
    for (size_t r = 0; r < un; ++r) out.vectors[r * un + k] = vt[order[k] * un + r];
  }
  return out;
}

FeatureStats feature_stats(const Tensor& features) { return stats_of(features, "feature_stats"); }

FeatureStats feature_stats(const std::vector<float>& features, int64_t dim) {
  return stats_of(features, dim, "feature_stats");
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  check_stats(a, "first");
  check_stats(b, "second");
  FC_CHECK(a.dim() == b.dim(),
           "frechet_distance: feature dimensions differ (" << a.dim() << " and " << b.dim() << ")");
  const int64_t d = a.dim();
  const size_t ud = static_cast<size_t>(d);
  double mean_term = 0, trace_a = 0, trace_b = 0;
  for (size_t k = 0; k < ud; ++k) {
    double diff = a.mean[k] - b.mean[k];
    mean_term += diff * diff;
    trace_a += a.cov[k * ud + k];
    trace_b += b.cov[k * ud + k];
  }
  // Tr((S1 S2)^{1/2}) without a general matrix square root: S1 = U L U^T gives
  // S1^{1/2} = U L^{1/2} U^T, and S1 S2 is similar to the symmetric PSD matrix
  // S1^{1/2} S2 S1^{1/2}, whose eigenvalues are real and >= 0 (rounding aside).
  SymmetricEigen e1 = jacobi_eigen(a.cov, d);
  std::vector<double> scaled(ud * ud), ut(ud * ud);
  for (size_t i = 0; i < ud; ++i)
    for (size_t k = 0; k < ud; ++k) {
      double u = e1.vectors[i * ud + k];
      scaled[i * ud + k] = u * std::sqrt(std::max(e1.values[k], 0.0));
      ut[k * ud + i] = u;
    }
  std::vector<double> root = matmul(scaled, ut, d);
  SymmetricEigen e2 = jacobi_eigen(matmul(matmul(root, b.cov, d), root, d), d);
  double trace_sqrt = 0;
  for (double lambda : e2.values) trace_sqrt += std::sqrt(std::max(lambda, 0.0));
  return std::max(0.0, mean_term + trace_a + trace_b - 2 * trace_sqrt);
}

double frechet_distance(const Tensor& a, const Tensor& b) {
  FC_CHECK(a.defined() && b.defined() && a.ndim() == 2 && b.ndim() == 2 && a.dim(1) == b.dim(1),
           "frechet_distance: expected features [N, D] and [M, D], got "
               << (a.defined() ? a.shape() : Shape{}) << " and " << (b.defined() ? b.shape() : Shape{}));
  return frechet_distance(stats_of(a, "frechet_distance: first set"),
                          stats_of(b, "frechet_distance: second set"));
}

double frechet_distance(const std::vector<float>& a, const std::vector<float>& b, int64_t dim) {
  return frechet_distance(stats_of(a, dim, "frechet_distance: first set"),
                          stats_of(b, dim, "frechet_distance: second set"));
}

}  // namespace fc::flow
