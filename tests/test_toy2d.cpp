#include <stb/stb_image.h>        // implementations come from libstb.so
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "datasets/npy.hpp"
#include "datasets/toy2d.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"
#include "test_util.hpp"

using fc::Generator;
using fc::Shape;
using fc::Tensor;
using fc::data::checkerboard_in_square_fraction;
using fc::data::is_builtin_toy2d;
using fc::data::sample_toy2d;
using fc::data::Toy2d;
using fc::data::toy2d_names;
using Catch::Matchers::Contains;

namespace {

// The shipped picture, found from the repository root (where `make test` runs) or
// from this source file.
std::string logo_path() {
  const std::string rel = "assets/flowcpp_logo.png";
  if (std::filesystem::exists(rel)) return rel;
  return (std::filesystem::path(__FILE__).parent_path() / ".." / rel).string();
}

struct Stats {
  double mx = 0, my = 0, vx = 0, vy = 0, cxy = 0;
};

Stats stats_of(const std::vector<float>& p) {
  Stats s;
  const size_t n = p.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    s.mx += p[2 * i];
    s.my += p[2 * i + 1];
  }
  s.mx /= n;
  s.my /= n;
  for (size_t i = 0; i < n; ++i) {
    double dx = p[2 * i] - s.mx, dy = p[2 * i + 1] - s.my;
    s.vx += dx * dx;
    s.vy += dy * dy;
    s.cxy += dx * dy;
  }
  s.vx /= n;
  s.vy /= n;
  s.cxy /= n;
  return s;
}

std::vector<float> draw(const std::string& name, int64_t n, uint64_t seed = 1) {
  Generator g(seed);
  Tensor t = sample_toy2d(name, n, g);
  REQUIRE(t.shape() == Shape{n, 2});
  return t.to_vector();
}

// What `f` throws must be one line naming `what`.
template <class F>
std::string one_line_error(F f) {
  try {
    f();
  } catch (const fc::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find('\n') == std::string::npos);
    return msg;
  }
  FAIL("no error thrown");
  return "";
}


TEST_CASE("toy2d: the built-in names", "[toy2d]") {
  std::vector<std::string> names = toy2d_names();
  CHECK(names == std::vector<std::string>{"checkerboard", "moons", "mixture", "8gaussians", "spirals", "circles",
                                          "pinwheel", "swissroll", "checkerboard-fb", "moons-scaled"});
  for (const auto& n : names) CHECK(is_builtin_toy2d(n));
  CHECK_FALSE(is_builtin_toy2d("points:a.csv"));
  CHECK_FALSE(is_builtin_toy2d("points-raw:a.csv"));
  CHECK_FALSE(is_builtin_toy2d("image:a.png"));
  CHECK_FALSE(is_builtin_toy2d("Checkerboard"));
}

TEST_CASE("toy2d: every built-in is deterministic for a seed, finite, [n, 2] and in range", "[toy2d]") {
  for (const std::string& name : toy2d_names()) {
    INFO(name);
    Generator a(42), b(42), c(43);
    Tensor ta = sample_toy2d(name, 5000, a);
    Tensor tb = sample_toy2d(name, 5000, b);
    Tensor tc = sample_toy2d(name, 5000, c);
    REQUIRE(ta.shape() == Shape{5000, 2});
    CHECK(ta.is_cpu());
    CHECK(ta.to_vector() == tb.to_vector());
    CHECK(ta.to_vector() != tc.to_vector());
    CHECK(a.offset() == b.offset());
    CHECK(a.offset() > 0);
    // The next draw continues the stream rather than repeating it.
    CHECK(sample_toy2d(name, 5000, a).to_vector() != ta.to_vector());
    int outside = 0;
    for (float v : ta.to_vector()) {
      REQUIRE(std::isfinite(v));
      if (std::fabs(v) > 4.5f) ++outside;
      REQUIRE(std::fabs(v) < 8.f);
    }
    CHECK(outside < 50);  // under 0.5% of the coordinates beyond the [-4.5, 4.5] box
    CHECK(sample_toy2d(name, 0, a).shape() == Shape{0, 2});
    CHECK(Toy2d(name).sample(7, a).shape() == Shape{7, 2});
  }
  Generator g(0);
  CHECK_THROWS_AS(sample_toy2d("moons", -1, g), fc::Error);
}

// The reference's checkerboard: x1 ~ U(-2, 2), x2 ~ U(0, 1) - 2 randint(0, 2) + (floor(x1)
// mod 2), both divided by 0.45 (squares of side s = 1 / 0.45); checkerboard-fb is the same
// board with s = 2. Either way x and y are each uniform on [-2s, 2s) (variance 16 s^2 / 12),
// and, since the filled cells (cx + cy even) are the diagonal ones, cov(x, y) = s^2 / 4.
void check_board(const std::string& name, double side) {
  INFO(name);
  const int64_t n = 200000;
  std::vector<float> p = draw(name, n);
  Tensor t = Tensor::from_vector(p, {n, 2});
  CHECK(fc::data::checkerboard_square_side(name) == side);
  CHECK(checkerboard_in_square_fraction(t, side) == 1.0);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.03));
  CHECK(s.my == Approx(0.0).margin(0.03));
  CHECK(s.vx == Approx(16 * side * side / 12).epsilon(0.02));
  CHECK(s.vy == Approx(16 * side * side / 12).epsilon(0.02));
  CHECK(s.cxy == Approx(side * side / 4).epsilon(0.05));
  float lo = INFINITY, hi = -INFINITY;
  for (float v : p) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  CHECK(lo >= static_cast<float>(-2 * side));
  CHECK(lo < -2 * side + 0.01);
  CHECK(hi < static_cast<float>(2 * side));
  CHECK(hi > 2 * side - 0.01);
  // All eight squares get their share.
  std::map<std::pair<int, int>, int> squares;
  for (size_t i = 0; i < p.size() / 2; ++i)
    ++squares[{static_cast<int>(std::floor(p[2 * i] / side)), static_cast<int>(std::floor(p[2 * i + 1] / side))}];
  CHECK(squares.size() == 8);
  for (const auto& kv : squares) CHECK(kv.second == Approx(n / 8).epsilon(0.04));
  // Uniform points over the board's bounding box: half of them inside.
  Generator g(5);
  Tensor noise = g.uniform({n, 2}, static_cast<float>(-2 * side), static_cast<float>(2 * side));
  CHECK(checkerboard_in_square_fraction(noise, side) == Approx(0.5).margin(0.01));
}

}  // namespace

TEST_CASE("toy2d: checkerboard is the reference's board (side 1/0.45), checkerboard-fb the side-2 one", "[toy2d]") {
  check_board("checkerboard", 1 / 0.45);
  check_board("checkerboard-fb", 2.0);
  CHECK(fc::data::checkerboard_square_side("moons") == 0);
  // The two boards differ: the reference's samples are not all inside the side-2 squares.
  Tensor ref = Tensor::from_vector(draw("checkerboard", 20000), {20000, 2});
  CHECK(checkerboard_in_square_fraction(ref, 2.0) < 0.9);
  CHECK(checkerboard_in_square_fraction(ref) == 1.0);  // the default side is the reference's

  // (2.1, 0.1) is in the reference's square [0, 2.22)^2 but in the side-2 board's empty
  // square [2, 4) x [0, 2); (4.5, 0.1) is off the reference's board; NaN is never inside.
  Tensor pts = Tensor::from_vector({0.1f, 0.1f, 2.1f, 0.1f, 4.5f, 0.1f, NAN, 0.f}, {4, 2});
  CHECK(checkerboard_in_square_fraction(pts) == Approx(0.5));
  CHECK(checkerboard_in_square_fraction(pts, 2.0) == Approx(0.25));
  CHECK_THROWS_AS(checkerboard_in_square_fraction(Tensor::zeros({4})), fc::Error);
  CHECK_THROWS_AS(checkerboard_in_square_fraction(pts, 0.0), fc::Error);
}

TEST_CASE("toy2d: mixture has the reference's mean, spread and component std", "[toy2d]") {
  std::vector<float> p = draw("mixture", 200000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.02));
  CHECK(s.my == Approx(0.5).margin(0.02));
  // Centres (0,-2), (0,0), (2,2), (-2,2) with std 0.5: var_x = 0.25 + 2, var_y = 0.25 + 2.75.
  CHECK(s.vx == Approx(2.25).epsilon(0.03));
  CHECK(s.vy == Approx(3.0).epsilon(0.03));
  CHECK(s.cxy == Approx(0.0).margin(0.05));
  // The component at (0, -2), seen through the region y < -1.
  std::vector<float> xs, ys;
  for (size_t i = 0; i < p.size() / 2; ++i)
    if (p[2 * i + 1] < -1.f) {
      xs.push_back(p[2 * i]);
      ys.push_back(p[2 * i + 1]);
    }
  CHECK(xs.size() / 200000.0 == Approx(0.25).margin(0.01));
  double mx = 0, vx = 0, my = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= xs.size();
  my /= ys.size();
  for (float x : xs) vx += (x - mx) * (x - mx);
  vx /= xs.size();
  CHECK(mx == Approx(0.0).margin(0.02));
  CHECK(my == Approx(-2.0).margin(0.05));
  CHECK(std::sqrt(vx) == Approx(0.5).margin(0.02));
}

// make_moons(noise=0.05) as the reference uses it: the upper moon (cos t, sin t), the lower
// (1 - cos t, 0.5 - sin t), t ~ U(0, pi), plus N(0, 0.05^2) noise. Its moments: E = (0.5,
// 0.25); var x = 0.75, var y = 0.5625 - 1 / pi, cov = 0.125 - 1 / pi (+ 0.0025 noise on
// the variances).
TEST_CASE("toy2d: moons are make_moons as returned, with its moments and ranges", "[toy2d]") {
  std::vector<float> p = draw("moons", 200000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.5).margin(0.01));
  CHECK(s.my == Approx(0.25).margin(0.01));
  CHECK(s.vx == Approx(0.75 + 0.0025).epsilon(0.02));
  CHECK(s.vy == Approx(0.5625 - 1 / M_PI + 0.0025).epsilon(0.02));
  CHECK(s.cxy == Approx(0.125 - 1 / M_PI).epsilon(0.03));
  float x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  int near = 0, upper = 0;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    double x = p[2 * i], y = p[2 * i + 1];
    x_lo = std::min<float>(x_lo, x);
    x_hi = std::max<float>(x_hi, x);
    y_lo = std::min<float>(y_lo, y);
    y_hi = std::max<float>(y_hi, y);
    double d_upper = std::fabs(std::hypot(x, y) - 1), d_lower = std::fabs(std::hypot(x - 1, y - 0.5) - 1);
    if (std::min(d_upper, d_lower) < 0.25) ++near;
    if (d_upper < d_lower) ++upper;
  }
  CHECK(near > 199800);
  CHECK(upper == Approx(100000).epsilon(0.03));
  // x spans [-1, 2] and y [-0.5, 1], widened by the noise (0.05: a few std at most).
  CHECK(x_lo < -1.0);
  CHECK(x_lo > -1.35);
  CHECK(x_hi > 2.0);
  CHECK(x_hi < 2.35);
  CHECK(y_lo < -0.5);
  CHECK(y_lo > -0.85);
  CHECK(y_hi > 1.0);
  CHECK(y_hi < 1.35);
}

TEST_CASE("toy2d: moons-scaled is flowcpp's earlier moons, centred and times 2.5", "[toy2d]") {
  std::vector<float> p = draw("moons-scaled", 100000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.03));
  CHECK(s.my == Approx(0.0).margin(0.03));
  CHECK(s.vx == Approx(2.5 * 2.5 * 0.7525).epsilon(0.02));
  int near = 0;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    double x = p[2 * i] / 2.5 + 0.5, y = p[2 * i + 1] / 2.5 + 0.25;
    double d_upper = std::fabs(std::hypot(x, y) - 1), d_lower = std::fabs(std::hypot(x - 1, y - 0.5) - 1);
    if (std::min(d_upper, d_lower) < 0.25) ++near;
  }
  CHECK(near > 99900);
}

TEST_CASE("toy2d: the plot square is the reference's get_square_range, the same on every call", "[toy2d]") {
  using fc::data::plot_square;
  auto sq = plot_square(Toy2d("checkerboard"));
  auto again = plot_square(Toy2d("checkerboard"));
  CHECK(sq.x_lo == again.x_lo);
  CHECK(sq.y_hi == again.y_hi);
  // The board's bounding box [-4.44, 4.44)^2, 5% wider.
  const double edge = 2 / 0.45 * 1.05;
  CHECK(sq.x_lo == Approx(-edge).margin(0.01));
  CHECK(sq.x_hi == Approx(edge).margin(0.01));
  CHECK(sq.y_lo == Approx(-edge).margin(0.01));
  CHECK(sq.y_hi == Approx(edge).margin(0.01));
  // The moons: x about [-1.1, 2.1] sets the side, centred on the moons' box.
  auto m = plot_square(Toy2d("moons"));
  CHECK(m.x_hi - m.x_lo == Approx(m.y_hi - m.y_lo).epsilon(1e-5));
  CHECK((m.x_lo + m.x_hi) / 2 == Approx(0.5).margin(0.05));
  CHECK((m.y_lo + m.y_hi) / 2 == Approx(0.25).margin(0.05));
  CHECK(m.x_lo < -1.1);
  CHECK(m.x_hi > 2.1);
  CHECK(m.x_hi - m.x_lo < 3.8);
}

TEST_CASE("toy2d: circles have radii 3 and 1.5 with equal mass", "[toy2d]") {
  std::vector<float> p = draw("circles", 100000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.03));
  CHECK(s.my == Approx(0.0).margin(0.03));
  int outer = 0, inner = 0;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    double r = std::hypot(p[2 * i], p[2 * i + 1]);
    if (std::fabs(r - 3) < 0.75) ++outer;
    if (std::fabs(r - 1.5) < 0.75) ++inner;
  }
  CHECK(outer + inner > 99500);
  CHECK(outer == Approx(50000).epsilon(0.03));
  CHECK(inner == Approx(50000).epsilon(0.03));
}

TEST_CASE("toy2d: 8gaussians sit on a circle of radius 4/1.414 in eight equal clusters", "[toy2d]") {
  std::vector<float> p = draw("8gaussians", 160000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.03));
  CHECK(s.my == Approx(0.0).margin(0.03));
  std::vector<int> cluster(8, 0);
  double mean_r = 0;
  int near = 0;
  const double radius = 4 / 1.414;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    double a = std::atan2(p[2 * i + 1], p[2 * i]);
    int k = static_cast<int>(std::lround(a / (M_PI / 4))) & 7;
    ++cluster[k];
    double cx = radius * std::cos(k * M_PI / 4), cy = radius * std::sin(k * M_PI / 4);
    if (std::hypot(p[2 * i] - cx, p[2 * i + 1] - cy) < 4 * 0.5 / 1.414) ++near;
    mean_r += std::hypot(p[2 * i], p[2 * i + 1]);
  }
  mean_r /= p.size() / 2;
  CHECK(mean_r == Approx(radius).epsilon(0.03));
  CHECK(near > 159000);
  for (int c : cluster) CHECK(c == Approx(20000).epsilon(0.04));
}

TEST_CASE("toy2d: spirals, pinwheel and swissroll have their shapes' symmetry and extent", "[toy2d]") {
  {
    std::vector<float> p = draw("spirals", 100000);
    Stats s = stats_of(p);
    CHECK(s.mx == Approx(0.0).margin(0.03));
    CHECK(s.my == Approx(0.0).margin(0.03));
    double max_r = 0;
    for (size_t i = 0; i < p.size() / 2; ++i) max_r = std::max<double>(max_r, std::hypot(p[2 * i], p[2 * i + 1]));
    CHECK(max_r > 3.0);  // the arms reach 3 pi / 3
    CHECK(max_r < 4.5);
  }
  {
    std::vector<float> p = draw("pinwheel", 100000);
    Stats s = stats_of(p);
    CHECK(s.mx == Approx(0.0).margin(0.03));
    CHECK(s.my == Approx(0.0).margin(0.03));
    double mean_r = 0;
    for (size_t i = 0; i < p.size() / 2; ++i) mean_r += std::hypot(p[2 * i], p[2 * i + 1]);
    mean_r /= p.size() / 2;
    CHECK(mean_r == Approx(2.0).epsilon(0.05));  // 2 * |(1 + 0.3 z0, 0.1 z1)|
  }
  {
    std::vector<float> p = draw("swissroll", 100000);
    int in_band = 0;
    for (size_t i = 0; i < p.size() / 2; ++i) {
      double r = std::hypot(p[2 * i], p[2 * i + 1]);
      if (r > 0.3 && r < 3.6) ++in_band;  // t / 5 runs over [0.94, 2.83], noise 0.2
    }
    CHECK(in_band > 99000);
  }
}

TEST_CASE("toy2d: points: resamples the rows of a CSV or an npy file, centred; points-raw: as given", "[toy2d]") {
  TempDir dir;
  const std::vector<std::pair<float, float>> rows = {{1.5f, -2.f}, {0.f, 0.25f}, {-3.f, 3.f}, {2.f, 2.f}};
  // Their mean (0.125, 0.8125) is exact in binary, so the centred rows are exact too.
  std::set<std::pair<float, float>> raw(rows.begin(), rows.end()), centred;
  for (const auto& r : rows) centred.insert({r.first - 0.125f, r.second - 0.8125f});

  auto check_sample = [&](const std::string& spec) {
    const std::set<std::pair<float, float>>& expected = spec.rfind("points-raw:", 0) == 0 ? raw : centred;
    INFO(spec);
    Generator g(3), g2(3);
    Tensor t = sample_toy2d(spec, 8000, g);
    REQUIRE(t.shape() == Shape{8000, 2});
    CHECK(t.to_vector() == sample_toy2d(spec, 8000, g2).to_vector());
    std::map<std::pair<float, float>, int> seen;
    std::vector<float> v = t.to_vector();
    for (size_t i = 0; i < 8000; ++i) ++seen[{v[2 * i], v[2 * i + 1]}];
    CHECK(seen.size() == rows.size());
    for (const auto& kv : seen) {
      CHECK(expected.count(kv.first) == 1);
      CHECK(kv.second == Approx(2000).margin(200));
    }
  };

  write_bytes(dir.file("pts.csv"), "x,y\r\n1.5,-2\r\n0, 0.25\r\n\r\n-3e0,3\r\n2.0,2.0\r\n");
  check_sample("points:" + dir.file("pts.csv"));
  check_sample("points-raw:" + dir.file("pts.csv"));
  write_bytes(dir.file("pts.txt"), "1.5 -2\n0 0.25\n# a comment\n-3 3\n2 2\n");
  check_sample("points:" + dir.file("pts.txt"));

  std::vector<float> flat;
  for (const auto& r : rows) {
    flat.push_back(r.first);
    flat.push_back(r.second);
  }
  fc::data::save_npy(dir.file("pts.npy"), Tensor::from_vector(flat, {4, 2}));
  check_sample("points:" + dir.file("pts.npy"));
  check_sample("points-raw:" + dir.file("pts.npy"));

  // A changed file is reloaded, not served from the cache.
  std::string spec = "points-raw:" + dir.file("pts.npy");
  fc::data::save_npy(dir.file("pts.npy"), Tensor::from_vector({7.f, -7.f}, {1, 2}));
  Generator g(9);
  std::vector<float> v = sample_toy2d(spec, 10, g).to_vector();
  for (size_t i = 0; i < 10; ++i) {
    CHECK(v[2 * i] == 7.f);
    CHECK(v[2 * i + 1] == -7.f);
  }
}

// The reference's picture density: a Gaussian of std (8 / w / 2, 8 / h / 2) at every pixel
// centre (linspace(-4, 4, w)[col], linspace(4, -4, h)[row]), weighted by (the brightest grey
// level - the pixel's), grey as PIL's convert("L").
TEST_CASE("toy2d: image: the reference's Gaussian per pixel, weighted by (max - grey)", "[toy2d]") {
  TempDir dir;
  // A 4 x 2 RGBA picture, the rest white: black at (row 0, col 3), grey 128 at (row 1,
  // col 0), pure red at (row 1, col 1) (grey 76), and a black but fully transparent pixel
  // at (row 1, col 2), which lies on white and so weighs nothing.
  std::vector<unsigned char> px(4 * 2 * 4, 255);
  auto set = [&](int row, int col, unsigned char r, unsigned char g, unsigned char b, unsigned char a) {
    unsigned char* p = px.data() + 4 * (row * 4 + col);
    p[0] = r;
    p[1] = g;
    p[2] = b;
    p[3] = a;
  };
  set(0, 3, 0, 0, 0, 255);
  set(1, 0, 128, 128, 128, 255);
  set(1, 1, 255, 0, 0, 255);
  set(1, 2, 0, 0, 0, 0);
  std::string png = dir.file("tiny.png");
  REQUIRE(stbi_write_png(png.c_str(), 4, 2, 4, px.data(), 4 * 4) != 0);

  // The mixture's moments from the formula: weights 255, 127, 179 at the centres
  // (4, 4), (-4, -4), (-4/3, -4); std (1, 2).
  struct Component {
    double w, x, y;
  };
  const std::vector<Component> parts = {{255, 4, 4}, {127, -4, -4}, {179, -4.0 / 3, -4}};
  const double sx = 8.0 / 4 / 2, sy = 8.0 / 2 / 2;
  double total = 0, ex = 0, ey = 0, exx = 0, eyy = 0, exy = 0;
  for (const Component& c : parts) total += c.w;
  for (const Component& c : parts) {
    const double q = c.w / total;
    ex += q * c.x;
    ey += q * c.y;
    exx += q * (c.x * c.x + sx * sx);
    eyy += q * (c.y * c.y + sy * sy);
    exy += q * c.x * c.y;
  }
  std::vector<float> v = draw("image:" + png, 200000, 11);
  Stats s = stats_of(v);
  CHECK(s.mx == Approx(ex).margin(0.03));
  CHECK(s.my == Approx(ey).margin(0.03));
  CHECK(s.vx == Approx(exx - ex * ex).epsilon(0.02));
  CHECK(s.vy == Approx(eyy - ey * ey).epsilon(0.02));
  CHECK(s.cxy == Approx(exy - ex * ey).epsilon(0.03));
  // The black pixel alone: the points right of x = 2.67 and above y = 0.
  std::vector<float> black;
  for (size_t i = 0; i < v.size() / 2; ++i)
    if (v[2 * i] > 8.f / 3 && v[2 * i + 1] > 0.f) {
      black.push_back(v[2 * i]);
      black.push_back(v[2 * i + 1]);
    }
  // P(x > 8/3) = 0.909 for N(4, 1), P(y > 0) = 0.977 for N(4, 2); the others barely reach.
  CHECK(black.size() / 2 / 200000.0 == Approx(255 / total * 0.909 * 0.977).margin(0.01));

  // The shipped logo: the points sit on its dark pixels (the nearest pixel centre of a
  // point is its own pixel or a neighbour, so the mean weight stays well above the
  // picture's).
  std::string logo = logo_path();
  int w = 0, h = 0, c = 0;
  unsigned char* img = stbi_load(logo.c_str(), &w, &h, &c, 1);
  REQUIRE(img != nullptr);
  double brightest = 0;
  for (int i = 0; i < w * h; ++i) brightest = std::max<double>(brightest, img[i]);
  double mean_weight = 0;
  for (int i = 0; i < w * h; ++i) mean_weight += (brightest - img[i]) / brightest;
  mean_weight /= w * h;
  std::vector<float> q = draw("image:" + logo, 20000, 12);
  double sampled_weight = 0;
  for (size_t i = 0; i < 20000; ++i) {
    float x = q[2 * i], y = q[2 * i + 1];
    REQUIRE(std::fabs(x) < 4.5f);
    REQUIRE(std::fabs(y) < 4.5f);
    int col = std::clamp(static_cast<int>(std::lround((x + 4) / 8 * (w - 1))), 0, w - 1);
    int row = std::clamp(static_cast<int>(std::lround((4 - y) / 8 * (h - 1))), 0, h - 1);
    sampled_weight += (brightest - img[row * w + col]) / brightest;
  }
  stbi_image_free(img);
  sampled_weight /= 20000;
  INFO("mean weight " << mean_weight << ", at the samples " << sampled_weight);
  CHECK(mean_weight < 0.4);
  CHECK(sampled_weight > 0.7);
}

TEST_CASE("toy2d: unknown names and bad files give one-line errors", "[toy2d]") {
  TempDir dir;
  Generator g(1);
  std::string msg = one_line_error([&] { sample_toy2d("checkerbored", 10, g); });
  CHECK_THAT(msg, Contains("checkerbored"));
  for (const auto& n : toy2d_names()) CHECK_THAT(msg, Contains(n));
  CHECK_THAT(msg, Contains("points:"));
  CHECK_THAT(msg, Contains("image:"));

  std::string garbage = dir.file("garbage.npy");
  write_bytes(garbage, "\x93NUMPY\x01\x00 definitely not a header");
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + garbage, 10, g); }), Contains(garbage));

  std::string wide = dir.file("wide.npy");
  fc::data::save_npy(wide, Tensor::zeros({4, 3}));
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + wide, 10, g); }), Contains(wide));

  std::string missing = dir.file("missing.csv");
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + missing, 10, g); }), Contains(missing));
  std::string missing_png = dir.file("missing.png");
  CHECK_THAT(one_line_error([&] { sample_toy2d("image:" + missing_png, 10, g); }), Contains(missing_png));

  std::string csv = dir.file("bad.csv");
  write_bytes(csv, "x,y\n1,2\nthree,4\n5,6\n");
  msg = one_line_error([&] { sample_toy2d("points:" + csv, 10, g); });
  CHECK_THAT(msg, Contains(csv));
  CHECK_THAT(msg, Contains("line 3"));
  write_bytes(csv, "1,2\n3,4,5\n");
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + csv, 10, g); }), Contains(csv));
  write_bytes(csv, "x,y\n");
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + csv, 10, g); }), Contains(csv));
  write_bytes(csv, "1,nan\n");
  CHECK_THAT(one_line_error([&] { sample_toy2d("points:" + csv, 10, g); }), Contains(csv));

  std::string fake = dir.file("fake.png");
  write_bytes(fake, "this is not a picture\n\x01\x02\x03");
  CHECK_THAT(one_line_error([&] { sample_toy2d("image:" + fake, 10, g); }), Contains(fake));
  std::string white = dir.file("white.png");
  std::vector<unsigned char> px(16, 255);
  REQUIRE(stbi_write_png(white.c_str(), 4, 4, 1, px.data(), 4) != 0);
  CHECK_THAT(one_line_error([&] { sample_toy2d("image:" + white, 10, g); }), Contains(white));

  CHECK_THROWS_AS(sample_toy2d("points:", 10, g), fc::Error);
  CHECK_THROWS_AS(sample_toy2d("image:", 10, g), fc::Error);
  CHECK_THROWS_AS(Toy2d("nope"), fc::Error);
}
