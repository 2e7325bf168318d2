#pragma once
// The Fréchet distance between two sets of feature vectors, as FID defines it
// (Heusel et al. 2017): fit a Gaussian to each set and take
//   ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}),
// with unbiased covariances (divided by N - 1), all in double. The features come from
// our own classifier (nn/classifier.hpp), so the numbers are comparable between our
// runs, not with published FIDs (which use Inception-v3 features).
#include <cstdint>
#include <vector>

#include "engine/tensor.hpp"

namespace fc::flow {

// Mean and unbiased covariance of n feature vectors of dimension dim(). An app computes
// the reference (test-set) statistics once and compares every generated set with them.
struct FeatureStats {
  std::vector<double> mean;  // [D]
  std::vector<double> cov;   // [D, D], row-major, symmetric
  int64_t n = 0;             // how many vectors they summarise
  int64_t dim() const { return static_cast<int64_t>(mean.size()); }
};

// Statistics of the rows of features [N, D] (any device), or of a flat row-major
// vector of N * dim values. Throws fc::Error for fewer than 2 rows or a non-finite value.
FeatureStats feature_stats(const Tensor& features);
FeatureStats feature_stats(const std::vector<float>& features, int64_t dim);

// Throws fc::Error for different dimensions, fewer than 2 rows on either side,
// non-finite values, or statistics whose sizes do not agree. The result is >= 0
// (rounding that would make it a hair negative is clamped).
double frechet_distance(const FeatureStats& a, const FeatureStats& b);
double frechet_distance(const Tensor& a, const Tensor& b);
double frechet_distance(const std::vector<float>& a, const std::vector<float>& b, int64_t dim);

// Eigendecomposition of the symmetric part of a [n, n] (row-major) by cyclic Jacobi
// rotations, swept until the off-diagonal norm is at most tol times the Frobenius norm.
struct SymmetricEigen {
  std::vector<double> values;   // [n], ascending
  std::vector<double> vectors;  // [n, n] row-major; column k is the unit eigenvector of values[k]
  int sweeps = 0;               // sweeps it took
};
// Throws fc::Error when a is not n * n, holds a non-finite value, or has not converged
// after max_sweeps sweeps (Jacobi converges quadratically: ~10 sweeps at n = 256).
SymmetricEigen jacobi_eigen(const std::vector<double>& a, int64_t n, double tol = 1e-12,
                            int max_sweeps = 60);

}  // namespace fc::flow
