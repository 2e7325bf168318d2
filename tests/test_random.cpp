// engine/random.hpp: the seeded Philox generator. Same seed, same numbers (whatever
// the thread count); the distributions have the right range and moments; the offset
// advances so that draws never repeat.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "engine/philox.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"

using namespace fc;

namespace {

struct Moments {
  double mean = 0, std = 0, min = 0, max = 0;
};

Moments moments(const std::vector<float>& v) {
  Moments m;
  m.min = m.max = v.at(0);
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
    m.min = std::min(m.min, double(x));
    m.max = std::max(m.max, double(x));
  }
  const double n = double(v.size());
  m.mean = s / n;
  m.std = std::sqrt(std::max(0.0, s2 / n - m.mean * m.mean));
  return m;
}

// Restores the thread count on scope exit, even when a REQUIRE fails.
struct ThreadsGuard {
  int saved = num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("random: Philox4x32-10 matches the Random123 known answer", "[random]") {
  // Random123's kat_vectors: counter 0, key 0.
  Philox4 r = philox4x32_10(0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  CHECK(philox_unit(0xffffffffu) < 1.f);
  CHECK(philox_unit(0u) == 0.f);
  CHECK(philox_unit_open0(0u) > 0.f);
  CHECK(philox_unit_open0(0xffffffffu) == 1.f);
}

TEST_CASE("random: a seed determines the numbers", "[random]") {
  Generator a(42), b(42), c(43);
  const Shape s{1001};
  std::vector<float> ua = a.uniform(s).to_vector(), ub = b.uniform(s).to_vector();
  std::vector<float> uc = c.uniform(s).to_vector();
  CHECK(ua == ub);
  CHECK(a.normal(s).to_vector() == b.normal(s).to_vector());
  CHECK(a.randint(s, -5, 9).to_vector() == b.randint(s, -5, 9).to_vector());
  CHECK(a.rademacher(s).to_vector() == b.rademacher(s).to_vector());
  CHECK(a.offset() == b.offset());
  // Another seed gives other numbers (equal floats by chance: a handful at most).
  int same = 0;
  for (size_t i = 0; i < ua.size(); ++i) same += ua[i] == uc[i];
  CHECK(same < 5);
  // Seeds that differ only in the high word differ too (the key is 64 bits).
  Generator hi1(1ull << 32), hi2(2ull << 32);
  CHECK(hi1.uniform(s).to_vector() != hi2.uniform(s).to_vector());
  // set_state replays a draw.
  Generator d(7);
  d.uniform(Shape{10});
  const uint64_t off = d.offset();
  std::vector<float> first = d.normal(Shape{33}).to_vector();
  d.set_state(7, off);
  CHECK(d.normal(Shape{33}).to_vector() == first);
  CHECK(d.seed() == 7);
}

TEST_CASE("random: the same numbers on 1 and 2 threads", "[random]") {
  ThreadsGuard guard;
  const Shape s{100003};  // many blocks per thread, and a ragged end
  auto draw = [&s](int threads) {
    set_num_threads(threads);
    Generator g(2024);
    std::vector<float> out = g.uniform(s, -2.f, 3.f).to_vector();
    std::vector<float> n = g.normal(s, 1.f, 2.f).to_vector();
    std::vector<float> k = g.randint(s, 0, 1000).to_vector();
    out.insert(out.end(), n.begin(), n.end());
    out.insert(out.end(), k.begin(), k.end());
    return out;
  };
  std::vector<float> one = draw(1), two = draw(2);
  REQUIRE(one.size() == two.size());
  CHECK(one == two);
}

TEST_CASE("random: uniform is in range with the right moments", "[random]") {
  Generator g(5);
  Moments m = moments(g.uniform(Shape{1000000}).to_vector());
  CHECK(m.min >= 0.0);
  CHECK(m.max < 1.0);
  CHECK(m.mean == Approx(0.5).margin(3e-3));
  CHECK(m.std == Approx(std::sqrt(1.0 / 12)).margin(3e-3));
  CHECK(m.min < 1e-4);
  CHECK(m.max > 1 - 1e-4);

  Moments r = moments(g.uniform(Shape{200001}, -3.f, 5.f).to_vector());
  CHECK(r.min >= -3.0);
  CHECK(r.max < 5.0);
  CHECK(r.mean == Approx(1.0).margin(0.03));
  CHECK(r.std == Approx(8 / std::sqrt(12.0)).margin(0.03));
  REQUIRE_THROWS_AS(g.uniform(Shape{2}, 1.f, 0.f), Error);
}

TEST_CASE("random: normal has mean 0 and std 1", "[random]") {
  Generator g(6);
  std::vector<float> v = g.normal(Shape{1000000}).to_vector();
  Moments m = moments(v);
  CHECK(m.mean == Approx(0.0).margin(5e-3));
  CHECK(m.std == Approx(1.0).margin(5e-3));
  CHECK(std::isfinite(m.min));
  CHECK(std::isfinite(m.max));
  // The shape, not just two moments: P(|z| < 1) = 0.6827, P(|z| < 2) = 0.9545.
  size_t in1 = 0, in2 = 0, pos = 0;
  for (float x : v) {
    in1 += std::fabs(x) < 1.f;
    in2 += std::fabs(x) < 2.f;
    pos += x > 0.f;
  }
  CHECK(double(in1) / v.size() == Approx(0.6827).margin(3e-3));
  CHECK(double(in2) / v.size() == Approx(0.9545).margin(2e-3));
  CHECK(double(pos) / v.size() == Approx(0.5).margin(3e-3));
  // Neighbouring values are uncorrelated (Box-Muller pairs included).
  double cov = 0;
  for (size_t i = 0; i + 1 < v.size(); ++i) cov += double(v[i]) * v[i + 1];
  CHECK(cov / (v.size() - 1) == Approx(0.0).margin(5e-3));

  Moments s = moments(g.normal(Shape{200001}, 2.f, 3.f).to_vector());
  CHECK(s.mean == Approx(2.0).margin(0.03));
  CHECK(s.std == Approx(3.0).margin(0.03));
}

TEST_CASE("random: randint covers its range evenly", "[random]") {
  Generator g(7);
  const int64_t lo = -3, hi = 7, n = 1000000;
  std::vector<float> v = g.randint(Shape{n}, lo, hi).to_vector();
  std::map<int64_t, int64_t> counts;
  int64_t bad = 0;
  for (float x : v) {
    bad += !(x == std::floor(x) && x >= lo && x < hi);
    ++counts[int64_t(x)];
  }
  REQUIRE(bad == 0);
  REQUIRE(counts.size() == size_t(hi - lo));
  for (auto [k, c] : counts) {
    INFO("value " << k << " drawn " << c << " times");
    CHECK(std::abs(c - n / (hi - lo)) < n / (hi - lo) / 30);  // within 3.3% (10 sigma)
  }
  // A single-value range, and a wide one whose ends are both reached.
  for (float x : g.randint(Shape{17}, 4, 5).to_vector()) CHECK(x == 4.f);
  Moments w = moments(g.randint(Shape{100000}, 0, 1000).to_vector());
  CHECK(w.min == 0.0);
  CHECK(w.max == 999.0);
  REQUIRE_THROWS_AS(g.randint(Shape{2}, 3, 3), Error);
}

TEST_CASE("random: rademacher is +-1 with mean 0", "[random]") {
  Generator g(8);
  std::vector<float> v = g.rademacher(Shape{3, 100001}).to_vector();
  size_t plus = 0, other = 0;
  for (float x : v) {
    plus += x == 1.f;
    other += x != 1.f && x != -1.f;
  }
  CHECK(other == 0);
  CHECK(double(plus) / v.size() == Approx(0.5).margin(5e-3));
  // Without a graph: probes are constants.
  CHECK_FALSE(g.rademacher(Shape{4}).requires_grad());
}

TEST_CASE("random: the offset advances so consecutive draws differ", "[random]") {
  Generator g(9);
  CHECK(g.offset() == 0);
  std::vector<float> a = g.uniform(Shape{5}).to_vector();
  CHECK(g.offset() == 2);  // 5 numbers take two blocks of four
  std::vector<float> b = g.uniform(Shape{5}).to_vector();
  CHECK(g.offset() == 4);
  CHECK(a != b);
  for (float x : a) CHECK(std::find(b.begin(), b.end(), x) == b.end());
  g.normal(Shape{1});
  CHECK(g.offset() == 5);
  g.randint(Shape{8}, 0, 2);
  CHECK(g.offset() == 7);

  // Block-aligned pieces give the numbers of one large draw: a draw is a pure
  // function of (seed, offset, index).
  Generator whole(10), parts(10);
  std::vector<float> w = whole.normal(Shape{12}).to_vector();
  std::vector<float> p = parts.normal(Shape{4}).to_vector();
  std::vector<float> q = parts.normal(Shape{8}).to_vector();
  p.insert(p.end(), q.begin(), q.end());
  CHECK(w == p);
  CHECK(whole.offset() == parts.offset());
}
