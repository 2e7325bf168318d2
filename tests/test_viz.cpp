// viz/: canvas, colormaps, text, PNG/GIF files, ticks, histograms and plots.
#include <catch2/catch.hpp>
#include <stb/stb_image.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "viz/canvas.hpp"
#include "viz/colormap.hpp"
#include "viz/gif.hpp"
#include "viz/histogram.hpp"
#include "viz/plot.hpp"
#include "viz/png.hpp"
#include "viz/quantize.hpp"
#include "viz/text.hpp"
#include "test_util.hpp"
#include "viz/ticks.hpp"

namespace viz = fc::viz;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("flowcpp_test_viz_" + name)).string();
}

// The message of the fc::Error that f throws ("" when it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const fc::Error& e) {
    return e.what();
  }
  return "";
}

size_t count_not(const viz::Canvas& c, viz::RGB bg) {
  size_t n = 0;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x) n += c.get(x, y) != bg;
  return n;
}


}  // namespace

TEST_CASE("colormap endpoints and tab10", "[viz]") {
  auto near = [](viz::RGB c, int r, int g, int b) {
    return std::abs(c.r - r) <= 1 && std::abs(c.g - g) <= 1 && std::abs(c.b - b) <= 1;
  };
  CHECK(near(viz::viridis()(0.f), 68, 1, 84));
  CHECK(near(viz::viridis()(1.f), 253, 231, 37));
  CHECK(near(viz::viridis()(0.5f), 33, 145, 140));  // matplotlib viridis(0.5)
  CHECK(near(viz::magma()(0.f), 0, 0, 4));
  CHECK(near(viz::magma()(1.f), 252, 253, 191));
  CHECK(near(viz::inferno()(1.f), 252, 255, 164));
  CHECK(viz::viridis()(-3.f) == viz::viridis()(0.f));  // clamped
  CHECK(viz::viridis()(NAN) == viz::viridis()(0.f));
  CHECK(viz::tab10(0) == viz::RGB{31, 119, 180});
  CHECK(viz::tab10(11) == viz::tab10(1));
  CHECK(&viz::colormap_by_name("magma") == &viz::magma());
  CHECK(error_of([] { viz::colormap_by_name("jet"); }).find("jet") != std::string::npos);
}

TEST_CASE("canvas primitives stay in the clip and anti-alias", "[viz]") {
  viz::Canvas c(40, 30);
  c.set_clip(viz::Rect{10, 10, 10, 10});
  c.fill_rect(viz::Rect{0, 0, 40, 30}, viz::kBlack);
  CHECK(count_not(c, viz::kWhite) == 100);
  c.reset_clip();
  c.fill(viz::kWhite);
  // A 1-px line along a pixel row centre fills exactly that row.
  c.line({5.f, 10.5f}, {25.f, 10.5f}, viz::kBlack, 1.f);
  CHECK(c.get(15, 10) == viz::kBlack);
  CHECK(c.get(15, 9) == viz::kWhite);
  CHECK(c.get(15, 11) == viz::kWhite);
  // A diagonal line has partially covered (grey) pixels.
  c.fill(viz::kWhite);
  c.line({2.f, 2.f}, {37.f, 20.f}, viz::kBlack, 1.5f);
  bool grey = false;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) grey |= c.get(x, y).r > 20 && c.get(x, y).r < 235;
  CHECK(grey);
  c.fill(viz::kWhite);
  c.arrow({5.f, 15.5f}, {35.f, 15.5f}, viz::kBlack, 2.f, 8.f, 8.f);
  CHECK(c.get(33, 15) == viz::kBlack);      // inside the head
  CHECK(c.get(29, 13) != viz::kWhite);      // the head is wider than the shaft
  CHECK(c.get(10, 13) == viz::kWhite);
  viz::Canvas small(4, 3, viz::RGB{1, 2, 3});
  c.blit(small, 38, 28);  // partly off the canvas
  CHECK(c.get(39, 29) == (viz::RGB{1, 2, 3}));
  // A 2x2 field scaled to 4x4 with nearest sampling, row 0 at the top.
  viz::Canvas f(4, 4);
  std::vector<float> v{0.f, 1.f, 1.f, 0.f};
  f.draw_field(v.data(), 2, 2, f.bounds(), viz::gray(), 0.f, 1.f);
  CHECK(f.get(0, 0) == viz::kBlack);
  CHECK(f.get(3, 0) == viz::kWhite);
  CHECK(f.get(0, 3) == viz::kWhite);
}

TEST_CASE("PNG round trip keeps every pixel", "[viz]") {
  viz::Canvas c(13, 7);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 13; ++x)
      c.set(x, y, viz::RGB{static_cast<uint8_t>(x * 19), static_cast<uint8_t>(y * 37), static_cast<uint8_t>(x * y)});
  std::string path = temp_path("roundtrip.png");
  viz::write_png(path, c);
  viz::Image img = viz::read_image(path);
  REQUIRE(img.width == 13);
  REQUIRE(img.height == 7);
  REQUIRE(img.channels == 3);
  size_t bad = 0;
  for (size_t i = 0; i < c.pixels().size(); ++i)
    bad += std::lround(img.pixels[i] * 255.f) != c.pixels()[i];
  CHECK(bad == 0);
  viz::Image gray = viz::read_png_gray(path);
  CHECK(gray.channels == 1);
  CHECK(gray.pixels.size() == 13u * 7u);
  std::remove(path.c_str());
}

TEST_CASE("unreadable images and paths give one-line errors naming the file", "[viz]") {
  std::string path = temp_path("garbage.png");
  {
    std::ofstream out(path, std::ios::binary);
    out << "this is not a PNG file at all\n\x01\x02";
  }
  std::string msg = error_of([&] { viz::read_png_gray(path); });
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  std::remove(path.c_str());

  std::string missing = temp_path("missing_dir/none.png");
  msg = error_of([&] { viz::read_image(missing); });
  CHECK(msg.find(missing) != std::string::npos);
  msg = error_of([&] { viz::write_png(missing, viz::Canvas(2, 2)); });
  CHECK(msg.find(missing) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  msg = error_of([&] { viz::GifWriter g(missing, 4, 4, 10); });
  CHECK(msg.find(missing) != std::string::npos);
}

TEST_CASE("text draws pixels and measures", "[viz]") {
  viz::Canvas c(200, 60);
  viz::draw_text(c, "Hello", 10.f, 30.f, 16.f, viz::kBlack);
  size_t inked = count_not(c, viz::kWhite);
  CHECK(inked > 50);
  CHECK(viz::text_width("Hello world", 16.f) > viz::text_width("Hello", 16.f));
  CHECK(viz::text_width("Hello", 32.f) == Approx(2 * viz::text_width("Hello", 16.f)).epsilon(0.01));
  CHECK(viz::text_width("", 16.f) == 0.f);
  // Centred text is centred: equal ink on both sides of the anchor (within a pixel column).
  viz::Canvas m(200, 40);
  viz::draw_text(m, "HHHH", 100.f, 20.f, 16.f, viz::kBlack, viz::Align::center, viz::VAlign::middle);
  int left = 200, right = 0, top = 40, bottom = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 200; ++x)
      if (m.get(x, y).r < 128) left = std::min(left, x), right = std::max(right, x), top = std::min(top, y), bottom = std::max(bottom, y);
  CHECK(std::abs((left + right + 1) / 2.0 - 100.0) <= 1.5);
  CHECK(std::abs((top + bottom + 1) / 2.0 - 20.0) <= 1.5);
  // Vertical text is taller than wide.
  viz::Canvas v(60, 200);
  viz::draw_text_vertical(v, "Vertical label", 30.f, 100.f, 16.f, viz::kBlack);
  left = 60, right = 0, top = 200, bottom = 0;
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 60; ++x)
      if (v.get(x, y) != viz::kWhite) left = std::min(left, x), right = std::max(right, x), top = std::min(top, y), bottom = std::max(bottom, y);
  CHECK(bottom - top > 3 * (right - left));
  // UTF-8 (superscripts, minus) renders without throwing.
  CHECK_NOTHROW(viz::draw_text(c, "10\u207b\u00b3 \xff", 10.f, 50.f, 14.f, viz::kBlack));
}

TEST_CASE("a missing font named by FLOWCPP_FONT is a one-line error naming it", "[viz]") {
  std::string bad = "/nonexistent/flowcpp/NoSuchFont.ttf";
  {
    EnvGuard guard("FLOWCPP_FONT");
    setenv("FLOWCPP_FONT", bad.c_str(), 1);
    CHECK(viz::font_path() == bad);
    std::string msg = error_of([] { viz::text_width("x", 12.f); });
    CHECK(msg.find(bad) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    viz::Canvas c(10, 10);
    CHECK_THROWS_AS(viz::draw_text(c, "x", 0.f, 5.f, 12.f, viz::kBlack), fc::Error);
  }
  CHECK(viz::text_width("x", 12.f) > 0.f);  // the default font again

  // A file that exists but is no font: an error, not a crash inside stb_truetype.
  std::string junk = temp_path("junk.ttf");
  {
    std::ofstream out(junk, std::ios::binary);
    std::string bytes(4096, '\xff');
    bytes[0] = 0, bytes[1] = 1, bytes[2] = 0, bytes[3] = 0;  // a TrueType tag, then garbage
    out << bytes;
  }
  {
    EnvGuard guard("FLOWCPP_FONT");
    setenv("FLOWCPP_FONT", junk.c_str(), 1);
    std::string msg = error_of([] { viz::text_width("x", 12.f); });
    CHECK(msg.find(junk) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  std::remove(junk.c_str());
}

TEST_CASE("GIF: header, logical size and frames that decode back", "[viz]") {
  std::string path = temp_path("three.gif");
  const int w = 48, h = 20;
  std::vector<viz::Canvas> frames;
  for (int k = 0; k < 3; ++k) {
    viz::Canvas c(w, h);
    c.fill_rect(viz::Rect{k * 10, 5, 12, 8}, viz::tab10(k));
    frames.push_back(c);
  }
  {
    viz::GifWriter gif(path, w, h, 10);
    for (const auto& f : frames) gif.add_frame(f);
    CHECK(gif.frame_count() == 3);
    gif.close();
    CHECK(!gif.is_open());
  }
  const std::string file = read_bytes(path);
  const std::vector<unsigned char> b(file.begin(), file.end());
  REQUIRE(b.size() > 13);
  CHECK(std::string(b.begin(), b.begin() + 6) == "GIF89a");
  CHECK((b[6] | b[7] << 8) == w);
  CHECK((b[8] | b[9] << 8) == h);
  // stb_image composites the frames (partial rectangles, transparency) as a viewer would.
  int *delays = nullptr, gw = 0, gh = 0, gz = 0, comp = 0;
  unsigned char* px = stbi_load_gif_from_memory(b.data(), static_cast<int>(b.size()), &delays, &gw, &gh, &gz, &comp, 3);
  REQUIRE(px);
  CHECK(gz == 3);
  CHECK(delays[0] == 100);  // milliseconds
  size_t bad = 0;
  for (int k = 0; k < std::min(gz, 3); ++k)
    for (size_t i = 0; i < static_cast<size_t>(w) * h * 3; ++i)
      bad += px[static_cast<size_t>(k) * w * h * 3 + i] != frames[k].pixels()[i];
  CHECK(bad == 0);
  stbi_image_free(px);
  stbi_image_free(delays);
  std::remove(path.c_str());

  viz::GifWriter g2(path, w, h, 5);
  CHECK(error_of([&] { g2.add_frame(viz::Canvas(w + 1, h)); }).find(path) != std::string::npos);
  g2.close();
  std::remove(path.c_str());
}

TEST_CASE("GIF palette keeps a viridis gradient smooth", "[viz]") {
  // A full-width gradient plus black text and white background, as in a heatmap frame.
  viz::Canvas c(512, 40);
  for (int x = 0; x < 512; ++x) c.fill_rect(viz::Rect{x, 0, 1, 30}, viz::viridis()(x / 511.f));
  viz::draw_text(c, "log-likelihood 0.25 -1.5", 4.f, 38.f, 12.f, viz::kBlack);
  viz::ColorHistogram hist;
  hist.add(c.pixels().data(), 512 * 40);
  viz::PaletteMap map(hist.build_palette(255));
  int worst = 0;
  for (int x = 0; x < 512; ++x) {
    viz::RGB want = c.get(x, 10);
    viz::RGB got = map.palette()[map(want.r, want.g, want.b)];
    worst = std::max({worst, std::abs(want.r - got.r), std::abs(want.g - got.g), std::abs(want.b - got.b)});
  }
  CHECK(worst <= 6);
  viz::RGB white = map.palette()[map(255, 255, 255)];
  CHECK(white == viz::kWhite);
}

TEST_CASE("nice ticks and labels", "[viz]") {
  auto t = viz::nice_ticks(0.0, 1.0, 5);
  REQUIRE(t.size() == 6);
  for (int i = 0; i <= 5; ++i) CHECK(t[i] == Approx(0.2 * i).margin(1e-12));
  t = viz::nice_ticks(-3.7, 12.2, 5);
  CHECK(t.front() == Approx(-2.0));
  CHECK(t.back() == Approx(12.0));
  CHECK(viz::nice_step(-3.7, 12.2, 5) == Approx(2.0));
  t = viz::nice_ticks(0.0, 1000.0, 5);
  CHECK(t == std::vector<double>{0, 200, 400, 600, 800, 1000});
  t = viz::nice_ticks(0.013, 0.0871, 5);
  CHECK(t.front() == Approx(0.02));
  CHECK(t.back() == Approx(0.08));
  CHECK(viz::nice_step(0, 50, 5) == Approx(10.0));
  CHECK(viz::format_tick(0.6000000000000001, 0.2) == "0.6");
  CHECK(viz::format_tick(-1e-17, 0.2) == "0.0");  // same decimals as 0.2, no "-0.0"
  CHECK(viz::format_tick(-1e-17, 1) == "0");
  CHECK(viz::format_tick(1500, 500) == "1500");
  CHECK(viz::format_tick(0.05, 0.05) == "0.05");
  CHECK(viz::format_tick(3e-5, 1e-5) == "3e\u22125");
  CHECK(viz::format_tick(-2.5, 0.5) == "\u22122.5");  // a true minus sign
  CHECK(viz::format_log_tick(100, false) == "100");
  CHECK(viz::format_log_tick(0.02, true) == "0.02");
  CHECK(viz::format_log_tick(1e-5, true) == "10\u207b\u2075");
  auto lt = viz::log_ticks(1e-4, 10, 5);
  CHECK(lt.front() == Approx(1e-4));
  CHECK(lt.back() == Approx(10));
  auto r = viz::padded_range({1.0, 3.0}, 0.05);
  CHECK(r.lo == Approx(0.9));
  CHECK(r.hi == Approx(3.1));
  CHECK(error_of([] { viz::nice_ticks(1.0, 1.0, 5); }).find("lo < hi") != std::string::npos);
}

TEST_CASE("2-D histogram counts every in-range point once", "[viz]") {
  std::vector<float> xy;
  size_t inside = 0;
  uint32_t s = 12345;
  for (int i = 0; i < 5000; ++i) {
    s = s * 1664525u + 1013904223u;
    float x = (s >> 8) / 16777216.f * 6.f - 3.f;  // [-3, 3)
    s = s * 1664525u + 1013904223u;
    float y = (s >> 8) / 16777216.f * 6.f - 3.f;
    xy.push_back(x);
    xy.push_back(y);
    inside += std::fabs(x) <= 2.f && std::fabs(y) <= 2.f;
  }
  xy.push_back(NAN);
  xy.push_back(0.f);
  xy.push_back(2.f);  // on the hi edge: counted in the last bin
  xy.push_back(2.f);
  ++inside;
  viz::Histogram2D h = viz::histogram2d(xy.data(), xy.size() / 2, 16, 16, {-2, 2}, {-2, 2});
  double sum = 0;
  for (float c : h.counts) sum += c;
  CHECK(h.in_range == inside);
  CHECK(sum == Approx(static_cast<double>(inside)));
  CHECK(h.counts.back() >= 1.f);
}

TEST_CASE("axes map data to pixels inside the panel and draw", "[viz]") {
  viz::Canvas c(500, 360);
  viz::AxesOptions o;
  o.title = "loss";
  o.xlabel = "step";
  o.ylabel = "value";
  o.log_y = true;
  o.grid = true;
  viz::Axes ax(c, c.bounds(), {0, 100}, {0.01, 10}, o);
  viz::Rect in = ax.inner();
  CHECK(in.x > 30);
  CHECK(in.right() < 500);
  CHECK(in.bottom() < 360 - 30);
  CHECK(ax.px(0) == Approx(in.x));
  CHECK(ax.px(100) == Approx(in.right()));
  CHECK(ax.py(10) == Approx(in.y));
  CHECK(ax.py(0.01) == Approx(in.bottom()));
  CHECK(ax.py(0.1) == Approx(in.bottom() - in.h / 3.0));
  CHECK(std::isnan(ax.py(-1)));
  ax.plot(std::vector<double>{0, 50, 100}, std::vector<double>{5, 0.1, 0.02}, viz::tab10(3));
  CHECK(c.get(static_cast<int>(ax.px(50)), static_cast<int>(ax.py(0.1))) != viz::kWhite);
  CHECK(c.get(in.x - 1, in.y + 5) != viz::kWhite);  // the frame

  viz::Canvas d(420, 320);
  viz::AxesOptions q;
  q.equal_aspect = true;
  q.colorbar = true;
  viz::Axes qa(d, d.bounds(), {-1, 1}, {-1, 1}, q);
  CHECK(std::abs(qa.inner().w - qa.inner().h) <= 1);
  std::vector<float> pts{0.5f, 0.5f}, vec{1.f, 0.f};
  CHECK(qa.quiver(pts.data(), vec.data(), 1, 0.5, viz::viridis()) == Approx(1.f));
  qa.colorbar(viz::viridis(), 0, 1);
  CHECK(d.get(qa.inner().right() + 20, qa.inner().y + 2) != viz::kWhite);
  CHECK(error_of([&] { viz::Axes tiny(d, viz::Rect{0, 0, 30, 30}, {0, 1}, {0, 1}); }).find("too small") !=
        std::string::npos);
}
