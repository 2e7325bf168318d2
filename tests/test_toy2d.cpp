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

}  // namespace

TEST_CASE("toy2d: the built-in names", "[toy2d]") {
  std::vector<std::string> names = toy2d_names();
  CHECK(names == std::vector<std::string>{"checkerboard", "moons", "mixture", "8gaussians", "spirals", "circles",
                                          "pinwheel", "swissroll"});
  for (const auto& n : names) CHECK(is_builtin_toy2d(n));
  CHECK_FALSE(is_builtin_toy2d("points:a.csv"));
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

TEST_CASE("toy2d: checkerboard samples fill exactly the true squares", "[toy2d]") {
  std::vector<float> p = draw("checkerboard", 200000);
  Tensor t = Tensor::from_vector(p, {200000, 2});
  CHECK(checkerboard_in_square_fraction(t) == 1.0);
  Stats s = stats_of(p);
  CHECK(std::fabs(s.mx) < 0.03);
  CHECK(std::fabs(s.my) < 0.03);
  CHECK(s.vx == Approx(64.0 / 12).epsilon(0.02));  // uniform on [-4, 4)
  CHECK(s.vy == Approx(64.0 / 12).epsilon(0.02));
  // All eight squares get their share.
  std::map<std::pair<int, int>, int> squares;
  for (size_t i = 0; i < p.size() / 2; ++i)
    ++squares[{static_cast<int>(std::floor(p[2 * i] / 2)), static_cast<int>(std::floor(p[2 * i + 1] / 2))}];
  CHECK(squares.size() == 8);
  for (const auto& kv : squares) CHECK(kv.second == Approx(25000).epsilon(0.04));

  Generator g(5);
  Tensor noise = g.uniform({200000, 2}, -4.f, 4.f);
  CHECK(checkerboard_in_square_fraction(noise) == Approx(0.5).margin(0.01));
  CHECK(checkerboard_in_square_fraction(Tensor::from_vector({1.f, 1.f, -1.f, 1.f, 9.f, 9.f}, {3, 2})) ==
        Approx(1.0 / 3));
  CHECK_THROWS_AS(checkerboard_in_square_fraction(Tensor::zeros({4})), fc::Error);
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

TEST_CASE("toy2d: moons are two noisy half circles, centred", "[toy2d]") {
  std::vector<float> p = draw("moons", 100000);
  Stats s = stats_of(p);
  CHECK(s.mx == Approx(0.0).margin(0.03));
  CHECK(s.my == Approx(0.0).margin(0.03));
  int near = 0, upper = 0;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    // Back to make_moons units: the upper moon is the unit circle's top half, the lower
    // one the same circle turned over and moved to (1, 0.5).
    double x = p[2 * i] / 2.5 + 0.5, y = p[2 * i + 1] / 2.5 + 0.25;
    double d_upper = std::fabs(std::hypot(x, y) - 1), d_lower = std::fabs(std::hypot(x - 1, y - 0.5) - 1);
    if (std::min(d_upper, d_lower) < 0.25) ++near;
    if (d_upper < d_lower) ++upper;
  }
  CHECK(near > 99900);
  CHECK(upper == Approx(50000).epsilon(0.03));
  CHECK(std::sqrt(s.vx) > 1.5);  // spans about [-3.75, 3.75]
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

TEST_CASE("toy2d: points: resamples the rows of a CSV or an npy file", "[toy2d]") {
  TempDir dir;
  const std::vector<std::pair<float, float>> rows = {{1.5f, -2.f}, {0.f, 0.25f}, {-3.f, 3.f}, {2.f, 2.f}};
  std::set<std::pair<float, float>> expected(rows.begin(), rows.end());

  auto check_sample = [&](const std::string& spec) {
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
  write_bytes(dir.file("pts.txt"), "1.5 -2\n0 0.25\n# a comment\n-3 3\n2 2\n");
  check_sample("points:" + dir.file("pts.txt"));

  std::vector<float> flat;
  for (const auto& r : rows) {
    flat.push_back(r.first);
    flat.push_back(r.second);
  }
  fc::data::save_npy(dir.file("pts.npy"), Tensor::from_vector(flat, {4, 2}));
  check_sample("points:" + dir.file("pts.npy"));

  // A changed file is reloaded, not served from the cache.
  std::string spec = "points:" + dir.file("pts.npy");
  fc::data::save_npy(dir.file("pts.npy"), Tensor::from_vector({7.f, -7.f}, {1, 2}));
  Generator g(9);
  std::vector<float> v = sample_toy2d(spec, 10, g).to_vector();
  for (size_t i = 0; i < 10; ++i) {
    CHECK(v[2 * i] == 7.f);
    CHECK(v[2 * i + 1] == -7.f);
  }
}

TEST_CASE("toy2d: image: puts the mass on dark pixels, y up, aspect kept", "[toy2d]") {
  TempDir dir;
  // A 4 x 2 RGBA picture: black at (row 0, col 3), mid grey at (row 1, col 0), a black but
  // fully transparent pixel at (row 1, col 2); the rest white.
  std::vector<unsigned char> px(4 * 2 * 4, 255);
  auto set = [&](int row, int col, unsigned char v, unsigned char a) {
    unsigned char* p = px.data() + 4 * (row * 4 + col);
    p[0] = p[1] = p[2] = v;
    p[3] = a;
  };
  set(0, 3, 0, 255);
  set(1, 0, 128, 255);
  set(1, 2, 0, 0);
  std::string png = dir.file("tiny.png");
  REQUIRE(stbi_write_png(png.c_str(), 4, 2, 4, px.data(), 4 * 4) != 0);

  Generator g(11);
  std::vector<float> v = sample_toy2d("image:" + png, 30000, g).to_vector();
  int black = 0, grey = 0;
  for (size_t i = 0; i < 30000; ++i) {
    float x = v[2 * i], y = v[2 * i + 1];
    // Width 4 spans [-4, 4], so each pixel is 2 wide; height 2 spans [-2, 2].
    if (x >= 2.f && x <= 4.f && y >= 0.f && y <= 2.f) ++black;
    else if (x >= -4.f && x <= -2.f && y >= -2.f && y <= 0.f) ++grey;
  }
  CHECK(black + grey == 30000);
  double grey_dark = 1 - 128 / 255.0;
  CHECK(grey / 30000.0 == Approx(grey_dark / (1 + grey_dark)).margin(0.015));

  // The shipped logo: every point inside [-4, 4]^2, nearly all on dark pixels.
  std::string logo = logo_path();
  int w = 0, h = 0, c = 0;
  unsigned char* img = stbi_load(logo.c_str(), &w, &h, &c, 1);
  REQUIRE(img != nullptr);
  double mean_dark = 0;
  for (int i = 0; i < w * h; ++i) mean_dark += 1 - img[i] / 255.0;
  mean_dark /= w * h;
  Tensor t = sample_toy2d("image:" + logo, 20000, g);
  std::vector<float> q = t.to_vector();
  double sampled_dark = 0;
  int on_white = 0;
  for (size_t i = 0; i < 20000; ++i) {
    float x = q[2 * i], y = q[2 * i + 1];
    REQUIRE(x >= -4.f);
    REQUIRE(x <= 4.f);
    REQUIRE(y >= -4.f);
    REQUIRE(y <= 4.f);
    int col = std::min(w - 1, static_cast<int>((x + 4) / 8 * w));
    int row = std::min(h - 1, static_cast<int>((4 - y) / 8 * h));
    double d = 1 - img[row * w + col] / 255.0;
    sampled_dark += d;
    if (d == 0) ++on_white;
  }
  stbi_image_free(img);
  sampled_dark /= 20000;
  CHECK(mean_dark < 0.4);
  CHECK(sampled_dark > 0.8);
  CHECK(on_white == 0);
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
