// Minibatch OT couplings: the assignment is optimal (brute force on small problems,
// known optima on large ones), Sinkhorn meets its marginals and approaches exact OT as
// reg shrinks, and couple() pairs rows as documented, deterministically for a seed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/error.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "flow/coupling.hpp"

using namespace fc;
using namespace fc::flow;

namespace {

double assignment_cost(const std::vector<double>& cost, int64_t n, const std::vector<int64_t>& p) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += cost[i * n + p[i]];
  return total;
}

bool is_permutation_of_range(std::vector<int64_t> p, int64_t n) {
  if (static_cast<int64_t>(p.size()) != n) return false;
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < n; ++i)
    if (p[i] != i) return false;
  return true;
}

double brute_force_min(const std::vector<double>& cost, int64_t n) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  double best = INFINITY;
  do best = std::min(best, assignment_cost(cost, n, p));
  while (std::next_permutation(p.begin(), p.end()));
  return best;
}

// Each row takes the cheapest column still free.
double greedy_cost(const std::vector<double>& cost, int64_t n) {
  std::vector<bool> taken(n, false);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = -1;
    for (int64_t j = 0; j < n; ++j)
      if (!taken[j] && (best < 0 || cost[i * n + j] < cost[i * n + best])) best = j;
    taken[best] = true;
    total += cost[i * n + best];
  }
  return total;
}

double paired_sq_distance(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector(), y = b.to_vector();
  double total = 0;
  for (size_t k = 0; k < x.size(); ++k) total += double(x[k] - y[k]) * (x[k] - y[k]);
  return total;
}

// Rows of an [n, d] tensor, sorted, so that two tensors can be compared as multisets of rows.
std::vector<std::vector<float>> sorted_rows(const Tensor& t, int64_t begin, int64_t end) {
  auto v = t.to_vector();
  int64_t d = t.numel() / t.dim(0);
  std::vector<std::vector<float>> rows;
  for (int64_t i = begin; i < end; ++i)
    rows.emplace_back(v.begin() + i * d, v.begin() + (i + 1) * d);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Two clusters away from the origin, so that pairing with N(0, I) noise matters.
Tensor two_clusters(int64_t n, Generator& gen) {
  auto v = gen.normal(Shape{n, 2}, 0.f, 0.3f).to_vector();
  for (int64_t i = 0; i < n; ++i) v[i * 2] += (i % 2 ? 3.f : -3.f);
  return Tensor::from_vector(v, Shape{n, 2});
}

}  // namespace

TEST_CASE("linear_assignment matches brute force on small problems", "[coupling]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> real(-5.0, 5.0);
  std::uniform_int_distribution<int> small_int(0, 3);  // many ties
  for (int64_t n = 1; n <= 7; ++n) {
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<double> cost(n * n);
      int kind = trial % 3;
      for (auto& c : cost) c = kind == 0 ? real(rng) : kind == 1 ? small_int(rng) : 1.0;
      auto p = linear_assignment(cost, n);
      INFO("n = " << n << ", trial " << trial);
      REQUIRE(is_permutation_of_range(p, n));
      CHECK(assignment_cost(cost, n, p) == Approx(brute_force_min(cost, n)).margin(1e-9));
    }
  }
}

TEST_CASE("linear_assignment on n = 200 beats greedy and random, finds known optima",
          "[coupling]") {
  const int64_t n = 200;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  SECTION("random costs: never worse than greedy or random permutations") {
    std::vector<double> cost(n * n);
    for (auto& c : cost) c = unit(rng);
    auto p = linear_assignment(cost, n);
    REQUIRE(is_permutation_of_range(p, n));
    double best = assignment_cost(cost, n, p);
    // The optimum of uniform costs is about 1.6 (Aldous' zeta(2)); greedy is far worse.
    CHECK(best < 0.6 * greedy_cost(cost, n));
    std::vector<int64_t> q(n);
    std::iota(q.begin(), q.end(), 0);
    for (int k = 0; k < 50; ++k) {
      std::shuffle(q.begin(), q.end(), rng);
      CHECK(best <= assignment_cost(cost, n, q));
    }
  }
  SECTION("cost (i - perm(j))^2: the inverse permutation") {
    std::vector<int64_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> cost(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) cost[i * n + j] = double(i - perm[j]) * double(i - perm[j]);
    auto p = linear_assignment(cost, n);
    for (int64_t i = 0; i < n; ++i) CHECK(perm[p[i]] == i);
  }
  SECTION("1-D points with squared distance: sorted order matches sorted order") {
    std::vector<double> x(n), y(n);
    for (auto& v : x) v = unit(rng);
    for (auto& v : y) v = 3 * unit(rng) - 1;
    std::vector<double> cost(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) cost[i * n + j] = (x[i] - y[j]) * (x[i] - y[j]);
    auto p = linear_assignment(cost, n);
    std::vector<int64_t> by_x(n), by_y(n);
    std::iota(by_x.begin(), by_x.end(), 0);
    std::iota(by_y.begin(), by_y.end(), 0);
    std::sort(by_x.begin(), by_x.end(), [&](int64_t a, int64_t b) { return x[a] < x[b]; });
    std::sort(by_y.begin(), by_y.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
    for (int64_t r = 0; r < n; ++r) CHECK(p[by_x[r]] == by_y[r]);
  }
}

TEST_CASE("linear_assignment rejects bad input", "[coupling]") {
  CHECK_THROWS_AS(linear_assignment({}, 0), fc::Error);
  CHECK_THROWS_AS(linear_assignment({1, 2, 3}, 2), fc::Error);
  CHECK_THROWS_AS(linear_assignment({1, NAN, 3, 4}, 2), fc::Error);
}

TEST_CASE("sinkhorn meets both marginals and approaches exact OT as reg shrinks", "[coupling]") {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  SECTION("marginals of a rectangular problem") {
    const int64_t n = 30, m = 45;
    std::vector<double> cost(n * m);
    for (auto& c : cost) c = 100 * std::fabs(normal(rng));  // the scale must not matter
    const double tol = 1e-6;
    SinkhornResult r = sinkhorn(cost, n, m, 0.05, 5000, tol);
    CHECK(r.iterations < 5000);
    CHECK(r.marginal_error < tol / n);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < m; ++j) s += r.plan[i * m + j];
      CHECK(std::fabs(s - 1.0 / n) < tol / n);
    }
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += r.plan[i * m + j];
      CHECK(std::fabs(s - 1.0 / m) < tol / n);
    }
  }
  SECTION("plan cost tends to the assignment cost") {
    const int64_t n = 40;
    std::vector<double> px(n * 2), py(n * 2);
    for (auto& v : px) v = normal(rng);
    for (auto& v : py) v = normal(rng) + 2;
    std::vector<double> cost(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double dx = px[2 * i] - py[2 * j], dy = px[2 * i + 1] - py[2 * j + 1];
        cost[i * n + j] = dx * dx + dy * dy;
      }
    // With uniform marginals 1/n the exact OT plan is a permutation scaled by 1/n.
    double exact = assignment_cost(cost, n, linear_assignment(cost, n)) / n;
    auto plan_cost = [&](double reg) {
      SinkhornResult r = sinkhorn(cost, n, n, reg, 20000, 1e-6);
      double total = 0;
      for (size_t k = 0; k < cost.size(); ++k) total += r.plan[k] * cost[k];
      CHECK(std::isfinite(total));
      CHECK(r.marginal_error < 1e-3 / n);  // reg 1e-3 converges slowly
      return total;
    };
    // reg 1e-3 would underflow exp(-C / reg) everywhere without the log-domain potentials.
    double loose = plan_cost(0.5), medium = plan_cost(0.05), tight = plan_cost(0.001);
    INFO("exact " << exact << ", reg 0.5: " << loose << ", 0.05: " << medium
                  << ", 0.001: " << tight);
    CHECK(loose > medium);
    CHECK(medium > tight);
    CHECK(medium < exact * 1.10);
    CHECK(tight >= exact * (1 - 1e-4));
    CHECK(tight < exact * 1.01);
  }
  SECTION("reg is relative to the mean cost: scaling the cost changes nothing") {
    const int64_t n = 20;
    std::vector<double> cost(n * n), scaled(n * n);
    for (size_t k = 0; k < cost.size(); ++k) {
      cost[k] = std::fabs(normal(rng));
      scaled[k] = 1e4 * cost[k];
    }
    SinkhornResult r1 = sinkhorn(cost, n, n, 0.05), r2 = sinkhorn(scaled, n, n, 0.05);
    CHECK(r1.iterations == r2.iterations);
    for (size_t k = 0; k < cost.size(); ++k) CHECK(r1.plan[k] == Approx(r2.plan[k]).margin(1e-12));
  }
  SECTION("bad input") {
    CHECK_THROWS_AS(sinkhorn({1, 2}, 1, 3, 0.1), fc::Error);
    CHECK_THROWS_AS(sinkhorn({1, 2}, 1, 2, 0.0), fc::Error);
    CHECK_THROWS_AS(sinkhorn({1, NAN}, 1, 2, 0.1), fc::Error);
  }
}

TEST_CASE("squared_distances between rows", "[coupling]") {
  Tensor a = Tensor::from_vector({0, 0, 1, 2}, Shape{2, 2});
  Tensor b = Tensor::from_vector({1, 1, 3, 0, -1, 2}, Shape{3, 2});
  std::vector<double> want = {2, 9, 5, 1, 8, 4};
  CHECK(squared_distances(a, b) == want);
  CHECK_THROWS_AS(squared_distances(a, Tensor::zeros(Shape{3, 3})), fc::Error);
}

TEST_CASE("couple: ot pairs rows within blocks and shortens paths", "[coupling]") {
  const int64_t n = 1000;  // blocks of 256: the last one holds 232
  Generator data_gen(1);
  Tensor x0 = data_gen.normal(Shape{n, 2});
  Tensor x1 = two_clusters(n, data_gen);
  CouplingOptions ot;
  ot.kind = Coupling::ot;
  Generator gen(5);
  Tensor paired = couple(x0, x1, ot, gen);
  REQUIRE(paired.shape() == x1.shape());
  CHECK(gen.offset() == 0);  // ot draws nothing

  double independent = paired_sq_distance(x0, x1), coupled = paired_sq_distance(x0, paired);
  INFO("independent " << independent << ", ot " << coupled);
  CHECK(coupled < 0.5 * independent);
  for (int64_t s = 0; s < n; s += ot.block) {
    int64_t e = std::min(n, s + ot.block);
    CHECK(sorted_rows(paired, s, e) == sorted_rows(x1, s, e));
  }

  Generator gen2(99);
  CHECK(couple(x0, x1, ot, gen2).to_vector() == paired.to_vector());

  // One block holding the whole batch: exactly the assignment on squared distances.
  Tensor a = data_gen.normal(Shape{60, 2});
  Tensor b = two_clusters(60, data_gen);
  ot.block = 60;
  auto p = linear_assignment(squared_distances(a, b), 60);
  auto got = couple(a, b, ot, gen).to_vector(), bv = b.to_vector();
  for (int64_t i = 0; i < 60; ++i) {
    CHECK(got[2 * i] == bv[2 * p[i]]);
    CHECK(got[2 * i + 1] == bv[2 * p[i] + 1]);
  }

  CouplingOptions none;
  CHECK(couple(x0, x1, none, gen).to_vector() == x1.to_vector());
}

TEST_CASE("couple: sinkhorn is deterministic for a seed and shortens paths", "[coupling]") {
  const int64_t n = 600;
  Generator data_gen(2);
  Tensor x0 = data_gen.normal(Shape{n, 2});
  Tensor x1 = two_clusters(n, data_gen);
  CouplingOptions sk;
  sk.kind = Coupling::sinkhorn;
  Generator g1(42), g2(42), g3(43);
  Tensor p1 = couple(x0, x1, sk, g1), p2 = couple(x0, x1, sk, g2), p3 = couple(x0, x1, sk, g3);
  CHECK(p1.to_vector() == p2.to_vector());
  CHECK(p1.to_vector() != p3.to_vector());
  CHECK(g1.offset() > 0);
  double independent = paired_sq_distance(x0, x1), coupled = paired_sq_distance(x0, p1);
  INFO("independent " << independent << ", sinkhorn " << coupled);
  CHECK(coupled < 0.6 * independent);
  // Every output row is one of x1's rows from the same block.
  for (int64_t s = 0; s < n; s += sk.block) {
    int64_t e = std::min(n, s + sk.block);
    auto src = sorted_rows(x1, s, e);
    for (auto& row : sorted_rows(p1, s, e)) CHECK(std::binary_search(src.begin(), src.end(), row));
  }
}

TEST_CASE("couple: sb is Sinkhorn with an absolute reg, 2 S^2 in squared-distance units", "[coupling][sb]") {
  const int64_t n = 256;  // one block
  Generator data_gen(6);
  Tensor x0 = data_gen.normal(Shape{n, 2});
  Tensor x1 = two_clusters(n, data_gen);
  std::vector<double> cost = squared_distances(x0, x1);
  double mean = 0;
  for (double c : cost) mean += c / static_cast<double>(cost.size());
  const double sigma = 0.5;
  CouplingOptions sb, sk;
  sb.kind = Coupling::sb;
  sb.reg = 2 * sigma * sigma;
  sk.kind = Coupling::sinkhorn;
  sk.reg = sb.reg / mean;  // the same plan, written relative to the mean cost
  Generator g1(3), g2(3);
  CHECK(couple(x0, x1, sb, g1).to_vector() == couple(x0, x1, sk, g2).to_vector());
  // A small S is nearly exact OT, a huge one nearly independent.
  Generator g3(3), g4(3);
  sb.reg = 2 * 0.05 * 0.05;
  double tight = paired_sq_distance(x0, couple(x0, x1, sb, g3));
  sb.reg = 2 * 20.0 * 20.0;
  double loose = paired_sq_distance(x0, couple(x0, x1, sb, g4));
  INFO("S = 0.05: " << tight << ", S = 20: " << loose << ", independent " << paired_sq_distance(x0, x1));
  CHECK(tight < 0.6 * loose);
  CHECK(loose > 0.8 * paired_sq_distance(x0, x1));
}

TEST_CASE("couplings and sinkhorn give the same bits on 1 and 2 threads", "[coupling]") {
  const int saved = num_threads();
  Generator data_gen(4);
  Tensor x0 = data_gen.normal(Shape{700, 2}), x1 = two_clusters(700, data_gen);
  // One block of 300: sinkhorn's own loops, not the blocks, are split across threads.
  std::vector<double> cost = squared_distances(x0, x1);
  cost.resize(300 * 300);  // any 300 x 300 numbers will do
  std::vector<std::vector<float>> out[2];
  std::vector<double> plans[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Coupling kind : {Coupling::ot, Coupling::sinkhorn}) {
      CouplingOptions o;
      o.kind = kind;
      Generator gen(8);
      out[threads - 1].push_back(couple(x0, x1, o, gen).to_vector());
    }
    plans[threads - 1] = sinkhorn(cost, 300, 300, 0.05).plan;
  }
  set_num_threads(saved);
  CHECK(out[0] == out[1]);
  CHECK(plans[0] == plans[1]);
}

TEST_CASE("couple and parse_coupling reject bad input", "[coupling]") {
  Generator gen(0);
  CouplingOptions ot;
  ot.kind = Coupling::ot;
  CHECK_THROWS_AS(couple(Tensor::zeros(Shape{4, 2}), Tensor::zeros(Shape{5, 2}), ot, gen),
                  fc::Error);
  CHECK_THROWS_AS(couple(Tensor::zeros(Shape{4, 2}), Tensor::full(Shape{4, 2}, NAN), ot, gen),
                  fc::Error);
  REQUIRE_THROWS_WITH(parse_coupling("exact"),
                      Catch::Contains("exact") && Catch::Contains("independent, ot, sinkhorn or sb"));
  for (Coupling c : {Coupling::independent, Coupling::ot, Coupling::sinkhorn, Coupling::sb})
    CHECK(parse_coupling(coupling_name(c)) == c);
}
