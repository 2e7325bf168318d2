#include "flow/coupling.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "engine/error.hpp"
#include "engine/parallel.hpp"

namespace fc::flow {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Rows of a [n, d] against rows of b [m, d], accumulated in double: the assignment
// compares sums of hundreds of these, and float sums would tie where the exact ones do not.
std::vector<double> row_distances(const float* a, int64_t n, const float* b, int64_t m, int64_t d) {
  std::vector<double> out(static_cast<size_t>(n * m));
  parallel_for(n, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, m * d)),
               [&](int64_t s, int64_t e) {
                 for (int64_t i = s; i < e; ++i) {
                   const float* ai = a + i * d;
                   for (int64_t j = 0; j < m; ++j) {
                     const float* bj = b + j * d;
                     double sq = 0;
                     for (int64_t k = 0; k < d; ++k) {
                       double diff = double(ai[k]) - double(bj[k]);
                       sq += diff * diff;
                     }
                     out[static_cast<size_t>(i * m + j)] = sq;
                   }
                 }
               });
  return out;
}

void check_finite(const std::vector<double>& cost, const char* who) {
  for (size_t k = 0; k < cost.size(); ++k)
    FC_CHECK(std::isfinite(cost[k]),
             who << ": cost[" << k << "] = " << cost[k] << " is not finite");
}

// log sum_k exp((pot[k] - c[k]) * inv_eps), shifted by the max so that no term overflows
// and the largest never underflows.
double log_sum_exp(const double* pot, const double* c, int64_t len, double inv_eps) {
  double hi = -kInf;
  for (int64_t k = 0; k < len; ++k) hi = std::max(hi, pot[k] - c[k]);
  double sum = 0;
  for (int64_t k = 0; k < len; ++k) sum += std::exp((pot[k] - c[k] - hi) * inv_eps);
  return hi * inv_eps + std::log(sum);
}

// One row's partner drawn from its (unnormalised) plan row by inverting the CDF at u.
int64_t sample_row(const double* p, int64_t m, float u) {
  double total = 0;
  for (int64_t j = 0; j < m; ++j) total += p[j];
  double target = double(u) * total, cum = 0;
  int64_t last_positive = 0;
  for (int64_t j = 0; j < m; ++j) {
    if (p[j] <= 0) continue;
    cum += p[j];
    last_positive = j;
    if (cum > target) return j;
  }
  return last_positive;  // u * total rounded up to total
}

}  // namespace

std::vector<double> squared_distances(const Tensor& a, const Tensor& b) {
  FC_CHECK(a.ndim() >= 1 && b.ndim() >= 1,
           "squared_distances: expected rows in dim 0, got " << a.shape() << " and " << b.shape());
  int64_t n = a.dim(0), m = b.dim(0);
  int64_t d = n > 0 ? a.numel() / n : 0, db = m > 0 ? b.numel() / m : 0;
  FC_CHECK(n == 0 || m == 0 || d == db,
           "squared_distances: rows of " << a.shape() << " and " << b.shape() << " differ");
  std::vector<float> av = a.to_vector(), bv = b.to_vector();
  return row_distances(av.data(), n, bv.data(), m, n > 0 ? d : db);
}

std::vector<int64_t> linear_assignment(const std::vector<double>& cost, int64_t n) {
  FC_CHECK(n > 0, "linear_assignment: n must be positive, got " << n);
  FC_CHECK(static_cast<int64_t>(cost.size()) == n * n, "linear_assignment: cost has "
                                                           << cost.size() << " entries, expected "
                                                           << n << " x " << n);
  check_finite(cost, "linear_assignment");
  const double* c = cost.data();
  const size_t sn = static_cast<size_t>(n);

  // Invariant: reduced costs c[i][j] - u[i] - v[j] are >= 0, and 0 on matched pairs.
  // Column reduction (v[j] = min_i c[i][j], u = 0) establishes it, and matching each
  // column to its minimum row where that row is still free settles some rows for free
  // (60% of a uniform random problem, few of a geometric one, whose columns share
  // their nearest rows). JV's augmenting row reduction was tried here and dropped: it
  // halved the time of uniform random costs but did not help squared distances.
  std::vector<double> u(sn, 0.0), v(sn, kInf);
  std::vector<int64_t> col_of_row(sn, -1), row_of_col(sn, -1);
  std::vector<int64_t> argmin_row(sn, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (c[i * n + j] < v[j]) {
        v[j] = c[i * n + j];
        argmin_row[j] = i;
      }
  for (int64_t j = 0; j < n; ++j) {
    int64_t i = argmin_row[j];
    if (col_of_row[i] < 0) {
      col_of_row[i] = j;
      row_of_col[j] = i;
    }
  }

  // Each free row r is matched by the shortest augmenting path (Dijkstra over columns
  // on reduced costs) from r to a free column. The scans run over all n columns so that
  // they vectorise: `closed` is 0 for a column still open and +inf for a final one,
  // which blocks its update and hides it from the minimum without a branch.
  std::vector<double> dist(sn), closed(sn);
  std::vector<int64_t> pred(sn), final_cols;
  final_cols.reserve(sn);
  for (int64_t r = 0; r < n; ++r) {
    if (col_of_row[r] >= 0) continue;
    std::fill(dist.begin(), dist.end(), kInf);
    std::fill(closed.begin(), closed.end(), 0.0);
    final_cols.clear();
    int64_t row = r, sink = -1;
    double row_dist = 0;  // shortest distance to `row`: that of the column it holds
    while (sink < 0) {
      const double* crow = c + row * n;
      const double shift = row_dist - u[row];
      double* dp = dist.data();
      const double* cl = closed.data();
      const double* vp = v.data();
      int64_t* pp = pred.data();
      const int64_t* owner = row_of_col.data();
      // The minimum over open columns, and over open free ones: on a tie the path should
      // end at a free column (integer costs tie a lot).
      double best = kInf, best_free = kInf;
#pragma omp simd reduction(min : best, best_free)
      for (int64_t j = 0; j < n; ++j) {
        double d = shift + crow[j] - vp[j] + cl[j];
        double old = dp[j];
        bool shorter = d < old;
        double now = shorter ? d : old;
        int64_t from = shorter ? row : pp[j];
        dp[j] = now;  // stored unconditionally: a masked store is slow on some CPUs
        pp[j] = from;
        double key = now + cl[j];
        best = std::min(best, key);
        best_free = std::min(best_free, owner[j] < 0 ? key : kInf);
      }
      // Finding where the minimum is, outside the vector loop, keeps its reductions to
      // one instruction each.
      int64_t j = 0;
      if (best_free == best)
        while (j < n && (owner[j] >= 0 || dp[j] + cl[j] != best)) ++j;
      else
        while (j < n && dp[j] + cl[j] != best) ++j;
      // Only costs so large that reduced costs overflow could leave no finite minimum.
      FC_CHECK(j < n && best < kInf, "linear_assignment: costs too large (reduced costs overflow)");
      closed[j] = kInf;
      final_cols.push_back(j);
      if (row_of_col[j] < 0) {
        sink = j;
      } else {
        row = row_of_col[j];
        row_dist = best;
      }
    }
    // Shift potentials so that reduced costs stay >= 0 and the path's edges become tight.
    const double total = dist[sink];
    for (int64_t j : final_cols) {
      double delta = total - dist[j];
      v[j] -= delta;
      if (row_of_col[j] >= 0) u[row_of_col[j]] += delta;
    }
    u[r] += total;
    // Flip the path: every row on it takes the column that led to it.
    for (int64_t j = sink;;) {
      int64_t i = pred[j], next = col_of_row[i];
      col_of_row[i] = j;
      row_of_col[j] = i;
      if (i == r) break;
      j = next;
    }
  }
  return col_of_row;
}

SinkhornResult sinkhorn(const std::vector<double>& cost, int64_t n, int64_t m, double reg,
                        int max_iter, double tol) {
  FC_CHECK(n > 0 && m > 0, "sinkhorn: sizes must be positive, got " << n << " x " << m);
  FC_CHECK(static_cast<int64_t>(cost.size()) == n * m,
           "sinkhorn: cost has " << cost.size() << " entries, expected " << n << " x " << m);
  FC_CHECK(reg > 0 && std::isfinite(reg), "sinkhorn: reg must be positive, got " << reg);
  FC_CHECK(max_iter >= 1, "sinkhorn: max_iter must be >= 1, got " << max_iter);
  FC_CHECK(tol > 0, "sinkhorn: tol must be positive, got " << tol);
  check_finite(cost, "sinkhorn");

  double scale = 0;
  for (double x : cost) scale += std::fabs(x);
  scale /= static_cast<double>(n * m);
  if (scale == 0) scale = 1;  // all-zero cost: any plan is optimal, keep it as is
  const size_t sn = static_cast<size_t>(n), sm = static_cast<size_t>(m);
  std::vector<double> k(sn * sm);
  for (size_t e = 0; e < k.size(); ++e) k[e] = cost[e] / scale;

  // Log-domain stabilised Sinkhorn (Schmitzer 2019): the plan is
  //   P_ij = u_i exp((f_i + g_j - k_ij) / reg) v_j = u_i K_ij v_j,
  // with the dual potentials f, g kept in the log domain and only the scalings u, v
  // updated by plain matrix-vector products. When u or v leaves [1e-50, 1e50] they are
  // folded into f and g and K is recomputed, so nothing overflows, and an entry of K
  // dropped to 0 stands for a plan entry below 1e-100. An iteration then costs two
  // products instead of n m exps (15x faster on 256 x 256 at reg 0.05).
  const double inv_eps = 1.0 / reg, a = 1.0 / double(n), b = 1.0 / double(m);
  const double log_a = std::log(a), log_b = std::log(b);
  std::vector<double> f(sn), g(sm, 0.0), kernel(sn * sm);
  const int64_t row_grain = std::max<int64_t>(1, kElementwiseGrain / m);

  // Two exact half-steps in the log domain to start: rows exact with g = 0, then columns.
  // Afterwards every row sum is at least a b, and each later half-step changes u or v by
  // a factor of at most m or n, so the scalings cannot jump past the bounds in one step.
  parallel_for(n, row_grain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i)
      f[i] = reg * (log_a - log_sum_exp(g.data(), k.data() + i * m, m, inv_eps));
  });
  {
    std::vector<double> hi(sm, -kInf), sum(sm, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) hi[j] = std::max(hi[j], f[i] - k[i * m + j]);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) sum[j] += std::exp((f[i] - k[i * m + j] - hi[j]) * inv_eps);
    for (int64_t j = 0; j < m; ++j) g[j] = reg * (log_b - hi[j] * inv_eps - std::log(sum[j]));
  }

  std::vector<double> u(sn, 1.0), v(sm, 1.0), kv(sn), ktu(sm);
  auto absorb = [&] {
    for (int64_t i = 0; i < n; ++i) f[i] += reg * std::log(u[i]);
    for (int64_t j = 0; j < m; ++j) g[j] += reg * std::log(v[j]);
    std::fill(u.begin(), u.end(), 1.0);
    std::fill(v.begin(), v.end(), 1.0);
    parallel_for(n, std::max<int64_t>(1, kTranscendentalGrain / m), [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i)
        for (int64_t j = 0; j < m; ++j) {
          // Below e^-460 ~ 1e-200 an entry is 0: its plan entry is under 1e-100 while the
          // scalings stay in bounds, and subnormal numbers would slow every product.
          double t = (f[i] + g[j] - k[i * m + j]) * inv_eps;
          kernel[i * m + j] = t < -460 ? 0.0 : std::exp(t);
        }
    });
  };
  auto out_of_range = [](const std::vector<double>& x) {
    for (double s : x)
      if (!(s > 1e-50 && s < 1e50)) return true;
    return false;
  };
  absorb();

  SinkhornResult result;
  for (int it = 0; it < max_iter; ++it) {
    // Columns: v_j = b / (K^T u)_j. Each thread owns a range of columns, so the sums do
    // not depend on the thread count.
    parallel_for(m, std::max<int64_t>(1, kElementwiseGrain / n), [&](int64_t s, int64_t e) {
      std::fill(ktu.begin() + s, ktu.begin() + e, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double* kr = kernel.data() + i * m;
        const double ui = u[i];
        double* acc = ktu.data();
#pragma omp simd
        for (int64_t j = s; j < e; ++j) acc[j] += kr[j] * ui;
      }
    });
    for (int64_t j = 0; j < m; ++j) v[j] = b / ktu[j];
    result.iterations = it + 1;
    // Rows: the plan's row sums are u_i (K v)_i, so measuring the error is free.
    parallel_for(n, row_grain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        const double* kr = kernel.data() + i * m;
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < m; ++j) acc += kr[j] * v[j];
        kv[i] = acc;
      }
    });
    double err = 0;
    for (int64_t i = 0; i < n; ++i) err = std::max(err, std::fabs(u[i] * kv[i] - a));
    if (err < tol * a) break;  // keep u: the plan has exact columns already
    for (int64_t i = 0; i < n; ++i) u[i] = a / kv[i];
    if (out_of_range(u) || out_of_range(v)) absorb();
  }

  result.plan.resize(sn * sm);
  std::vector<double> col_sum(sm, 0.0);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double row_sum = 0;
    for (int64_t j = 0; j < m; ++j) {
      double p = u[i] * kernel[i * m + j] * v[j];
      result.plan[i * m + j] = p;
      row_sum += p;
      col_sum[j] += p;
    }
    worst = std::max(worst, std::fabs(row_sum - a));
  }
  for (int64_t j = 0; j < m; ++j) worst = std::max(worst, std::fabs(col_sum[j] - b));
  result.marginal_error = worst;
  return result;
}

Coupling parse_coupling(const std::string& name) {
  if (name == "independent") return Coupling::independent;
  if (name == "ot") return Coupling::ot;
  if (name == "sinkhorn") return Coupling::sinkhorn;
  if (name == "sb") return Coupling::sb;
  FC_THROW("unknown coupling '" << name << "' (expected independent, ot, sinkhorn or sb)");
}

std::string coupling_name(Coupling c) {
  switch (c) {
    case Coupling::independent: return "independent";
    case Coupling::ot: return "ot";
    case Coupling::sinkhorn: return "sinkhorn";
    case Coupling::sb: return "sb";
  }
  return "unknown";
}

std::vector<int64_t> coupling_partners(const Tensor& x0, const Tensor& x1, const CouplingOptions& options,
                                       Generator& gen) {
  FC_CHECK(x0.shape() == x1.shape(),
           "couple: x0 " << x0.shape() << " and x1 " << x1.shape() << " differ");
  FC_CHECK(x0.ndim() >= 1, "couple: expected rows in dim 0, got " << x0.shape());
  const int64_t n = x0.dim(0);
  std::vector<int64_t> partner(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) partner[i] = i;
  if (options.kind == Coupling::independent || n == 0) return partner;
  FC_CHECK(options.block >= 1, "couple: block must be >= 1, got " << options.block);
  const bool entropic = options.kind == Coupling::sinkhorn || options.kind == Coupling::sb;
  FC_CHECK(!entropic || (options.reg > 0 && options.max_iter >= 1),
           "couple: sinkhorn needs reg > 0 and max_iter >= 1, got " << options.reg << " and "
                                                                    << options.max_iter);
  const int64_t d = x0.numel() / n;
  std::vector<float> a = x0.to_vector(), b = x1.to_vector();
  // Checked here so that a NaN fails with a message instead of inside the parallel blocks.
  for (size_t k = 0; k < a.size(); ++k)
    FC_CHECK(std::isfinite(a[k]) && std::isfinite(b[k]), "couple: non-finite value in x0 or x1");

  std::vector<float> u;
  if (entropic) u = gen.uniform(Shape{n}).to_vector();
  const int64_t block = options.block, blocks = (n + block - 1) / block;
  std::vector<std::exception_ptr> failed(static_cast<size_t>(blocks));
  // Blocks are independent, and each writes only its own rows: the result does not
  // depend on the thread count.
  parallel_for(blocks, 1, [&](int64_t s, int64_t e) {
    for (int64_t blk = s; blk < e; ++blk) {
      try {
        int64_t start = blk * block, len = std::min(block, n - start);
        std::vector<double> cost =
            row_distances(a.data() + start * d, len, b.data() + start * d, len, d);
        if (options.kind == Coupling::ot) {
          std::vector<int64_t> cols = linear_assignment(cost, len);
          for (int64_t i = 0; i < len; ++i) partner[start + i] = start + cols[i];
        } else {
          // sinkhorn() scales the cost by its mean; an absolute reg is scaled with it.
          double reg = options.reg;
          if (options.kind == Coupling::sb) {
            double mean = 0;
            for (double c : cost) mean += c / static_cast<double>(cost.size());
            if (mean > 0) reg /= mean;
          }
          SinkhornResult sr = sinkhorn(cost, len, len, reg, options.max_iter);
          for (int64_t i = 0; i < len; ++i)
            partner[start + i] = start + sample_row(sr.plan.data() + i * len, len, u[start + i]);
        }
      } catch (...) {
        failed[blk] = std::current_exception();  // an exception must not leave an OpenMP region
      }
    }
  });
  for (auto& f : failed)
    if (f) std::rethrow_exception(f);
  return partner;
}

Tensor couple(const Tensor& x0, const Tensor& x1, const CouplingOptions& options, Generator& gen) {
  std::vector<int64_t> partner = coupling_partners(x0, x1, options, gen);
  if (options.kind == Coupling::independent || partner.empty()) return x1;
  const int64_t n = x1.dim(0), d = x1.numel() / n;
  std::vector<float> b = x1.to_vector(), out(b.size());
  for (int64_t i = 0; i < n; ++i)
    std::copy(b.begin() + partner[i] * d, b.begin() + (partner[i] + 1) * d, out.begin() + i * d);
  return Tensor::from_vector(out, x1.shape(), x1.device());
}

}  // namespace fc::flow
