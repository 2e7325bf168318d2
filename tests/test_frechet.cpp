// The Fréchet distance (FID's formula) and the Jacobi eigensolver under it: known
// eigendecompositions, closed forms for Gaussians, symmetry, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "flow/frechet.hpp"

using namespace fc;
using namespace fc::flow;

namespace {

// Q [n, n], a product of plane rotations (so orthogonal), row-major.
std::vector<double> rotation(int64_t n, double angle) {
  std::vector<double> q(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) q[static_cast<size_t>(i * n + i)] = 1;
  for (int64_t p = 0; p + 1 < n; ++p) {
    double c = std::cos(angle * (p + 1)), s = std::sin(angle * (p + 1));
    for (int64_t r = 0; r < n; ++r) {  // q = q * G(p, p + 1)
      double a = q[static_cast<size_t>(r * n + p)], b = q[static_cast<size_t>(r * n + p + 1)];
      q[static_cast<size_t>(r * n + p)] = c * a - s * b;
      q[static_cast<size_t>(r * n + p + 1)] = s * a + c * b;
    }
  }
  return q;
}

// Q diag(values) Q^T.
std::vector<double> with_eigenvalues(const std::vector<double>& q, const std::vector<double>& values) {
  size_t n = values.size();
  std::vector<double> m(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      for (size_t k = 0; k < n; ++k) m[i * n + j] += q[i * n + k] * values[k] * q[j * n + k];
  return m;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

FeatureStats stats(const std::vector<double>& mean, const std::vector<double>& cov, int64_t n = 100) {
  FeatureStats s;
  s.mean = mean;
  s.cov = cov;
  s.n = n;
  return s;
}

std::vector<double> diagonal(const std::vector<double>& d) {
  std::vector<double> m(d.size() * d.size(), 0.0);
  for (size_t i = 0; i < d.size(); ++i) m[i * d.size() + i] = d[i];
  return m;
}

// The closed form for Gaussians with diagonal (or commonly diagonalised) covariances.
double closed_form(const std::vector<double>& mu1, const std::vector<double>& var1,
                   const std::vector<double>& mu2, const std::vector<double>& var2) {
  double d = 0;
  for (size_t k = 0; k < mu1.size(); ++k)
    d += (mu1[k] - mu2[k]) * (mu1[k] - mu2[k]) +
         (std::sqrt(var1[k]) - std::sqrt(var2[k])) * (std::sqrt(var1[k]) - std::sqrt(var2[k]));
  return d;
}

}  // namespace

TEST_CASE("Jacobi finds the eigenvalues and eigenvectors of a rotated diagonal", "[frechet]") {
  std::vector<double> values = {3, -1, 0.5, 2, 0, 1e-3, 7};
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<double> q = rotation(n, 0.37);
  std::vector<double> a = with_eigenvalues(q, values);
  SymmetricEigen e = jacobi_eigen(a, n);
  REQUIRE(e.sweeps > 0);
  REQUIRE(e.sweeps < 15);
  std::vector<double> sorted = {-1, 0, 1e-3, 0.5, 2, 3, 7};
  REQUIRE(max_abs_diff(e.values, sorted) < 1e-12);
  // U L U^T reconstructs a, and U is orthogonal.
  REQUIRE(max_abs_diff(with_eigenvalues(e.vectors, e.values), a) < 1e-12);
  std::vector<double> utu(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t r = 0; r < n; ++r)
        utu[static_cast<size_t>(i * n + j)] += e.vectors[static_cast<size_t>(r * n + i)] * e.vectors[static_cast<size_t>(r * n + j)];
  REQUIRE(max_abs_diff(utu, diagonal(std::vector<double>(static_cast<size_t>(n), 1.0))) < 1e-12);

  // A diagonal matrix takes no sweep; a 1 x 1 matrix is its own eigenvalue.
  SymmetricEigen d = jacobi_eigen(diagonal({2, -3, 1}), 3);
  REQUIRE(d.sweeps == 0);
  REQUIRE(d.values == std::vector<double>{-3, 1, 2});
  REQUIRE(jacobi_eigen({5}, 1).values == std::vector<double>{5});
}

TEST_CASE("Jacobi converges on a random symmetric 96 x 96 matrix", "[frechet]") {
  const int64_t n = 96;
  Generator gen(5);
  std::vector<float> r = gen.normal(Shape{n, n}).to_vector();
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      a[static_cast<size_t>(i * n + j)] = double(r[static_cast<size_t>(i * n + j)]) + r[static_cast<size_t>(j * n + i)];
  SymmetricEigen e = jacobi_eigen(a, n);
  REQUIRE(e.sweeps <= 12);
  REQUIRE(max_abs_diff(with_eigenvalues(e.vectors, e.values), a) < 1e-10);
  for (size_t k = 1; k < e.values.size(); ++k) REQUIRE(e.values[k - 1] <= e.values[k]);
  // The symmetric part is what it decomposes: adding an antisymmetric part changes nothing.
  std::vector<double> skewed = a;
  skewed[1] += 0.5;
  skewed[static_cast<size_t>(n)] -= 0.5;
  REQUIRE(max_abs_diff(jacobi_eigen(skewed, n).values, e.values) < 1e-12);
}

TEST_CASE("Frechet distance of a set with itself is zero, and symmetric", "[frechet]") {
  Generator gen(11);
  const int64_t n = 600, d = 24;
  // Correlated features with scales over three orders of magnitude.
  std::vector<float> mix(static_cast<size_t>(d * d));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) mix[static_cast<size_t>(i * d + j)] = (i == j ? 1.f : 0.2f) * std::pow(10.f, float(j % 4) - 2.f);
  Tensor x = matmul(gen.normal(Shape{n, d}), Tensor::from_vector(mix, Shape{d, d})) + 3.f;
  Tensor y = matmul(gen.normal(Shape{n + 50, d}), Tensor::from_vector(mix, Shape{d, d})) * 1.3f;
  FeatureStats sx = feature_stats(x);
  double scale = 0;
  for (int64_t k = 0; k < d; ++k) scale += 2 * sx.cov[static_cast<size_t>(k * d + k)];
  REQUIRE(frechet_distance(x, x) < 1e-9 * scale);
  double xy = frechet_distance(x, y), yx = frechet_distance(y, x);
  REQUIRE(xy > 1);
  REQUIRE(std::fabs(xy - yx) < 1e-9 * xy);
  // The tensor, vector and statistics entry points agree.
  REQUIRE(frechet_distance(x.to_vector(), y.to_vector(), d) == xy);
  REQUIRE(frechet_distance(sx, feature_stats(y.to_vector(), d)) == xy);
  REQUIRE(sx.n == n);
  REQUIRE(sx.dim() == d);
}

TEST_CASE("Frechet distance of exact Gaussian statistics matches the closed form", "[frechet]") {
  std::vector<double> mu1 = {0.5, -1, 2, 0}, mu2 = {0, 1, 2, 0.25};
  std::vector<double> v1 = {1, 4, 0.25, 2}, v2 = {2, 1, 1, 0.5};
  double want = closed_form(mu1, v1, mu2, v2);
  REQUIRE(std::fabs(frechet_distance(stats(mu1, diagonal(v1)), stats(mu2, diagonal(v2))) - want) < 1e-9 * want);
  // The same covariances in a common rotated basis (non-diagonal, commuting).
  std::vector<double> q = rotation(4, 0.9);
  double rotated = frechet_distance(stats(mu1, with_eigenvalues(q, v1)), stats(mu2, with_eigenvalues(q, v2)));
  REQUIRE(std::fabs(rotated - want) < 1e-9 * want);
  // Non-commuting 2 x 2 covariances: M = S1 S2 has positive eigenvalues and
  // Tr(M^{1/2}) = sqrt(Tr M + 2 sqrt(det M)).
  std::vector<double> s1 = {2, 0.6, 0.6, 1}, s2 = {0.5, -0.3, -0.3, 3};
  double tr_m = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
  double det_m = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2]);
  double want2 = 1.0 + (2 + 1) + (0.5 + 3) - 2 * std::sqrt(tr_m + 2 * std::sqrt(det_m));
  double got2 = frechet_distance(stats({1, 0}, s1), stats({0, 0}, s2));
  REQUIRE(std::fabs(got2 - want2) < 1e-9 * want2);
  // A singular covariance (a dimension that never varies) is fine.
  std::vector<double> v3 = {1, 0, 0.25, 2};
  double want3 = closed_form(mu1, v3, mu2, v2);
  REQUIRE(std::fabs(frechet_distance(stats(mu1, diagonal(v3)), stats(mu2, diagonal(v2))) - want3) < 1e-9 * want3);
}

TEST_CASE("Frechet distance of Gaussian samples approaches the closed form", "[frechet]") {
  std::vector<double> mu1 = {0.5, -1, 2, 0}, mu2 = {0.5, -0.5, 2, 0.25};
  std::vector<double> v1 = {1, 4, 0.25, 2}, v2 = {2, 1, 1, 0.5};
  auto sample = [](Generator& gen, int64_t n, const std::vector<double>& mu, const std::vector<double>& var) {
    std::vector<float> m(mu.begin(), mu.end()), s;
    for (double v : var) s.push_back(static_cast<float>(std::sqrt(v)));
    Shape row{static_cast<int64_t>(mu.size())};
    return gen.normal(Shape{n, row[0]}) * Tensor::from_vector(s, row) + Tensor::from_vector(m, row);
  };
  Generator gen(2024);
  double want = closed_form(mu1, v1, mu2, v2);  // 2.23
  // Sampling error: about 0.03 (standard deviation) at 20,000 points a side.
  double got = frechet_distance(sample(gen, 20000, mu1, v1), sample(gen, 20000, mu2, v2));
  REQUIRE(std::fabs(got - want) < 0.1);
}

TEST_CASE("Frechet distance refuses bad input in one line", "[frechet]") {
  Generator gen(3);
  Tensor a = gen.normal(Shape{10, 4}), b = gen.normal(Shape{10, 5});
  auto one_line = [](const std::string& what) { return what.find('\n') == std::string::npos; };
  try {
    frechet_distance(a, b);
    FAIL("different dimensions accepted");
  } catch (const Error& e) {
    REQUIRE(one_line(e.what()));
    REQUIRE_THAT(e.what(), Catch::Contains("[10, 4]") && Catch::Contains("[10, 5]"));
  }
  REQUIRE_THROWS_WITH(frechet_distance(a, gen.normal(Shape{1, 4})), Catch::Contains("at least 2") && Catch::Contains("second"));
  REQUIRE_THROWS_WITH(frechet_distance(a, gen.normal(Shape{40})), Catch::Contains("[N, D]"));
  REQUIRE_THROWS_WITH(feature_stats(Tensor::zeros(Shape{5, 0})), Catch::Contains("empty"));
  std::vector<float> v = a.to_vector();
  v[13] = std::nanf("");
  REQUIRE_THROWS_WITH(frechet_distance(v, a.to_vector(), 4), Catch::Contains("non-finite") && Catch::Contains("row 3"));
  v[13] = INFINITY;
  REQUIRE_THROWS_WITH(feature_stats(v, 4), Catch::Contains("non-finite"));
  REQUIRE_THROWS_WITH(feature_stats(a.to_vector(), 3), Catch::Contains("dimension 3"));
  FeatureStats s = feature_stats(a), t = feature_stats(b);
  REQUIRE_THROWS_WITH(frechet_distance(s, t), Catch::Contains("dimensions differ") && Catch::Contains("4 and 5"));
  FeatureStats broken = s;
  broken.cov.pop_back();
  REQUIRE_THROWS_WITH(frechet_distance(s, broken), Catch::Contains("second statistics"));
  broken = s;
  broken.n = 1;
  REQUIRE_THROWS_WITH(frechet_distance(broken, s), Catch::Contains("first statistics") && Catch::Contains("at least 2"));
  broken = s;
  broken.mean[0] = INFINITY;
  REQUIRE_THROWS_WITH(frechet_distance(broken, s), Catch::Contains("non-finite"));
  REQUIRE_THROWS_WITH(jacobi_eigen({1, 2, 3}, 2), Catch::Contains("2 x 2"));
  REQUIRE_THROWS_WITH(jacobi_eigen({1, NAN, NAN, 1}, 2), Catch::Contains("non-finite"));
}
