#include "datasets/toy2d.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "datasets/image_file.hpp"
#include "datasets/npy.hpp"
#include "engine/error.hpp"

namespace fc::data {
namespace {

constexpr double kPi = 3.14159265358979323846;

const std::vector<std::string>& builtin_names() {
  // The first eight are the ones bench/rectify_all.sh runs; the last two are the scalings
  // flowcpp used before it drew the reference's (kept for old checkpoints and plots).
  static const std::vector<std::string> names = {"checkerboard",    "moons",       "mixture",  "8gaussians",
                                                 "spirals",         "circles",     "pinwheel", "swissroll",
                                                 "checkerboard-fb", "moons-scaled"};
  return names;
}

const char kPointsPrefix[] = "points:";
const char kRawPointsPrefix[] = "points-raw:";
const char kImagePrefix[] = "image:";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

// One line that starts with the file, whatever bytes the file held.
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  std::string msg = path + ": " + what;
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw Error(msg);
}

#define TOY_FAIL(path, msg)      \
  do {                           \
    std::ostringstream toy_oss_; \
    toy_oss_ << msg;             \
    fail((path), toy_oss_.str()); \
  } while (0)

[[noreturn]] void unknown_name(const std::string& name) {
  std::ostringstream os;
  os << "toy2d: unknown density '" << name << "'; valid: ";
  for (const std::string& n : builtin_names()) os << n << ", ";
  os << "points:FILE (.npy or .csv with N x 2 points, centred), points-raw:FILE (not centred), "
        "image:FILE (.png, dark pixels = mass)";
  std::string msg = os.str();
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw Error(msg);
}

// A uniform in [0, 1) with 48 random bits from two 24-bit draws, so that choosing one
// of millions of pixels or points is not visibly quantised.
inline double fine_uniform(float hi, float lo) { return static_cast<double>(hi) + static_cast<double>(lo) * 0x1p-24; }

// ---- built-in densities: each draws whole tensors, then computes on the host ----

// The cell of a coordinate on a board of squares of side `side`: floor(v / side). The
// sampler and checkerboard_in_square_fraction both use it, so that a sample always
// counts as inside its own square.
inline int board_cell(float v, double side) { return static_cast<int>(std::floor(static_cast<double>(v) / side)); }

// v scaled onto the board, moved by a few ulps when rounding put it in the next cell.
float on_board(double unit, int cell, double side) {
  float v = static_cast<float>(unit * side);
  const float centre = static_cast<float>((cell + 0.5) * side);
  while (board_cell(v, side) != cell) v = std::nextafter(v, centre);
  return v;
}

// The reference's checkerboard before scaling: x1 ~ U(-2, 2); x2 ~ U(0, 1) - 2 *
// randint(0, 2) + (floor(x1) mod 2); then both times `side`. The reference divides by
// 0.45 (side 1 / 0.45: 4 x 4 squares of side 2.22 over [-4.44, 4.44)^2);
// facebookresearch/flow_matching's notebook doubles them (side 2, [-4, 4)^2).
void checkerboard(int64_t n, Generator& gen, float* out, double side) {
  std::vector<float> x1 = gen.uniform({n}, -2.f, 2.f).to_vector();
  std::vector<float> u = gen.uniform({n}).to_vector();
  std::vector<float> k = gen.randint({n}, 0, 2).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    int col = std::min(1, std::max(-2, static_cast<int>(std::floor(x1[i]))));
    int row = (((col % 2) + 2) % 2) - 2 * static_cast<int>(k[i]);  // the unit cell of x2
    out[2 * i] = on_board(x1[i], col, side);
    out[2 * i + 1] = on_board(row + static_cast<double>(u[i]), row, side);
  }
}

// sklearn's make_moons (two interleaved half circles, noise 0.05) as it returns them, as
// the reference uses it: the upper moon (cos t, sin t), the lower (1 - cos t, 0.5 - sin t)
// for t in [0, pi] (make_moons spaces t evenly; here it is uniform, the same density),
// x in about [-1.1, 2.1], y in [-0.6, 1.1]. With `scaled`, flowcpp's earlier variant:
// centred and times 2.5, about [-3.75, 3.75] x [-1.9, 1.9].
void moons(int64_t n, Generator& gen, float* out, bool scaled) {
  std::vector<float> which = gen.randint({n}, 0, 2).to_vector();
  std::vector<float> t = gen.uniform({n}, 0.f, static_cast<float>(kPi)).to_vector();
  std::vector<float> z = gen.normal({n, 2}, 0.f, 0.05f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double c = std::cos(t[i]), s = std::sin(t[i]);
    double x = (which[i] == 0 ? c : 1.0 - c) + z[2 * i];
    double y = (which[i] == 0 ? s : 0.5 - s) + z[2 * i + 1];
    if (scaled) {
      x = 2.5 * (x - 0.5);
      y = 2.5 * (y - 0.25);
    }
    out[2 * i] = static_cast<float>(x);
    out[2 * i + 1] = static_cast<float>(y);
  }
}

// The reference's mixture: four Gaussians of std 0.5, equal weights.
void mixture(int64_t n, Generator& gen, float* out) {
  static const float centres[4][2] = {{0.f, -2.f}, {0.f, 0.f}, {2.f, 2.f}, {-2.f, 2.f}};
  std::vector<float> which = gen.randint({n}, 0, 4).to_vector();
  std::vector<float> z = gen.normal({n, 2}, 0.f, 0.5f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    int k = static_cast<int>(which[i]);
    out[2 * i] = centres[k][0] + z[2 * i];
    out[2 * i + 1] = centres[k][1] + z[2 * i + 1];
  }
}

// FFJORD's 8gaussians: centres at angles k * 45 degrees on a circle of radius 4 (scale),
// std 0.5, then everything divided by 1.414 (radius 2.83, std 0.354).
void eight_gaussians(int64_t n, Generator& gen, float* out) {
  std::vector<float> which = gen.randint({n}, 0, 8).to_vector();
  std::vector<float> z = gen.normal({n, 2}).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double a = which[i] * (kPi / 4);
    out[2 * i] = static_cast<float>((4.0 * std::cos(a) + 0.5 * z[2 * i]) / 1.414);
    out[2 * i + 1] = static_cast<float>((4.0 * std::sin(a) + 0.5 * z[2 * i + 1]) / 1.414);
  }
}

// FFJORD's 2spirals: angle sqrt(U) * 540 degrees, radius = angle, a U(0, 0.5) jitter,
// the second spiral the first one negated, /3, plus N(0, 0.1) noise.
void spirals(int64_t n, Generator& gen, float* out) {
  std::vector<float> which = gen.randint({n}, 0, 2).to_vector();
  std::vector<float> u = gen.uniform({n, 3}).to_vector();
  std::vector<float> z = gen.normal({n, 2}, 0.f, 0.1f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double a = std::sqrt(static_cast<double>(u[3 * i])) * 3 * kPi;
    double x = -std::cos(a) * a + 0.5 * u[3 * i + 1];
    double y = std::sin(a) * a + 0.5 * u[3 * i + 2];
    double sign = which[i] == 0 ? 1.0 : -1.0;
    out[2 * i] = static_cast<float>(sign * x / 3 + z[2 * i]);
    out[2 * i + 1] = static_cast<float>(sign * y / 3 + z[2 * i + 1]);
  }
}

// FFJORD's circles: sklearn make_circles (radii 1 and 0.5, noise 0.08), times 3.
void circles(int64_t n, Generator& gen, float* out) {
  std::vector<float> which = gen.randint({n}, 0, 2).to_vector();
  std::vector<float> t = gen.uniform({n}, 0.f, static_cast<float>(2 * kPi)).to_vector();
  std::vector<float> z = gen.normal({n, 2}, 0.f, 0.08f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double r = which[i] == 0 ? 1.0 : 0.5;
    out[2 * i] = static_cast<float>(3 * (r * std::cos(t[i]) + z[2 * i]));
    out[2 * i + 1] = static_cast<float>(3 * (r * std::sin(t[i]) + z[2 * i + 1]));
  }
}

// FFJORD's pinwheel: 5 arms; radial std 0.3 around 1, tangential std 0.1, each point
// turned by its arm's angle plus 0.25 * exp(radial), times 2.
void pinwheel(int64_t n, Generator& gen, float* out) {
  std::vector<float> which = gen.randint({n}, 0, 5).to_vector();
  std::vector<float> z = gen.normal({n, 2}).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double f0 = 1.0 + 0.3 * z[2 * i], f1 = 0.1 * z[2 * i + 1];
    double a = which[i] * (2 * kPi / 5) + 0.25 * std::exp(f0);
    double c = std::cos(a), s = std::sin(a);
    out[2 * i] = static_cast<float>(2 * (f0 * c + f1 * s));
    out[2 * i + 1] = static_cast<float>(2 * (-f0 * s + f1 * c));
  }
}

// FFJORD's swissroll: sklearn make_swiss_roll (t = 1.5 pi (1 + 2U), noise 1.0), the
// (t cos t, t sin t) plane, divided by 5.
void swissroll(int64_t n, Generator& gen, float* out) {
  std::vector<float> u = gen.uniform({n}).to_vector();
  std::vector<float> z = gen.normal({n, 2}).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double t = 1.5 * kPi * (1 + 2 * static_cast<double>(u[i]));
    out[2 * i] = static_cast<float>((t * std::cos(t) + z[2 * i]) / 5);
    out[2 * i + 1] = static_cast<float>((t * std::sin(t) + z[2 * i + 1]) / 5);
  }
}

// ---- file densities ----

void check_points(const std::string& path, const std::vector<float>& pts) {
  if (pts.empty()) TOY_FAIL(path, "no points in the file");
  for (size_t i = 0; i < pts.size(); ++i)
    if (!std::isfinite(pts[i])) TOY_FAIL(path, "point " << i / 2 << " is not finite");
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Two numbers split by a comma (or, with no comma, by whitespace); false otherwise.
bool parse_row(const std::string& line, double& x, double& y) {
  std::vector<std::string> fields;
  if (line.find(',') != std::string::npos) {
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) fields.push_back(trim(f));
    if (!line.empty() && line.back() == ',') fields.push_back("");
  } else {
    std::istringstream ss(line);
    std::string f;
    while (ss >> f) fields.push_back(f);
  }
  if (fields.size() != 2) return false;
  double v[2];
  for (int k = 0; k < 2; ++k) {
    const char* s = fields[k].c_str();
    char* end = nullptr;
    if (*s == '\0') return false;
    v[k] = std::strtod(s, &end);
    if (*end != '\0') return false;
  }
  x = v[0];
  y = v[1];
  return true;
}

std::vector<float> load_csv_points(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) TOY_FAIL(path, "cannot open: " << std::strerror(errno));
  std::vector<float> pts;
  std::string line;
  int64_t line_no = 0;
  bool seen_first = false;
  while (std::getline(f, line)) {
    ++line_no;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    double x = 0, y = 0;
    if (!parse_row(t, x, y)) {
      if (!seen_first) {  // a header line
        seen_first = true;
        continue;
      }
      std::string shown = t.size() > 40 ? t.substr(0, 40) + "..." : t;
      TOY_FAIL(path, "line " << line_no << ": expected two numbers, got '" << shown << "'");
    }
    seen_first = true;
    if (!std::isfinite(x) || !std::isfinite(y)) TOY_FAIL(path, "line " << line_no << ": value is not finite");
    pts.push_back(static_cast<float>(x));
    pts.push_back(static_cast<float>(y));
  }
  if (f.bad()) TOY_FAIL(path, "read error");
  if (pts.empty()) TOY_FAIL(path, "no points (want a CSV of two numeric columns, optional header line)");
  return pts;
}

std::vector<float> load_points(const std::string& path) {
  if (path.empty()) throw Error("toy2d: points: needs a file, as in points:FILE.npy or points:FILE.csv");
  std::vector<float> pts;
  if (ends_with_ci(path, ".npy")) {
    Tensor t = load_npy(path);  // its errors already name the file
    if (t.ndim() != 2 || t.dim(1) != 2) TOY_FAIL(path, "points must have shape (N, 2), got " << t.shape());
    pts = t.to_vector();
  } else {
    pts = load_csv_points(path);
  }
  check_points(path, pts);
  return pts;
}

}  // namespace

std::vector<std::string> toy2d_names() { return builtin_names(); }

bool is_builtin_toy2d(const std::string& name) {
  const auto& names = builtin_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

namespace {

// The reference's point cloud is centred on its mean (siggraph.pkl minus its mean).
void centre_points(std::vector<float>& pts) {
  double mx = 0, my = 0;
  const size_t n = pts.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    mx += pts[2 * i];
    my += pts[2 * i + 1];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    pts[2 * i] = static_cast<float>(pts[2 * i] - mx);
    pts[2 * i + 1] = static_cast<float>(pts[2 * i + 1] - my);
  }
}

// The grey level (0 to 255) of an RGBA pixel as PIL's convert("L") computes it (ITU-R
// 601 weights in 16-bit fixed point, rounded), which the reference's picture density
// reads. PIL drops the alpha; here a transparent pixel is first laid over white, so a
// picture's transparent background stays empty (opaque pictures are unchanged).
double pil_grey(const unsigned char* p) {
  const unsigned grey = (p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16;
  if (p[3] == 255) return grey;
  const double a = p[3] / 255.0;
  return a * grey + (1 - a) * 255.0;
}

// numpy's linspace(lo, hi, n)[i].
double linspace_at(double lo, double hi, int n, int i) { return n == 1 ? lo : lo + (hi - lo) * i / (n - 1); }

}  // namespace

std::string toy2d_help() {
  std::string out;
  for (const std::string& n : builtin_names()) out += n + ", ";
  return out +
         "points:FILE (N x 2 points from .npy/.csv, centred on their mean like the reference's "
         "siggraph points), points-raw:FILE (the same, coordinates as given), image:FILE.png (the "
         "reference's picture density: darker pixels carry more mass)";
}

Toy2d::Toy2d(const std::string& name) : name_(name) {
  if (is_builtin_toy2d(name)) {
    kind_ = Kind::Builtin;
  } else if (starts_with(name, kPointsPrefix) || starts_with(name, kRawPointsPrefix)) {
    kind_ = Kind::Points;
    const bool raw = starts_with(name, kRawPointsPrefix);
    points_ = load_points(name.substr(std::strlen(raw ? kRawPointsPrefix : kPointsPrefix)));
    if (!raw) centre_points(points_);
  } else if (starts_with(name, kImagePrefix)) {
    kind_ = Kind::Image;
    const std::string path = name.substr(std::strlen(kImagePrefix));
    if (path.empty()) throw Error("toy2d: image: needs a file, as in image:FILE.png");
    {
      std::ifstream probe(path, std::ios::binary);
      if (!probe) TOY_FAIL(path, "cannot open: " << std::strerror(errno));
    }
    const DecodedImage img = decode_image_file(path, 4);  // refuses pictures over kMaxImagePixels
    const int w = img.width, h = img.height;
    const unsigned char* px = img.pixels.get();
    width_ = w;
    height_ = h;
    // The reference's weights: (the image's maximum grey level - the pixel's).
    std::vector<double> grey(static_cast<size_t>(w) * h);
    double brightest = 0;
    for (size_t i = 0; i < grey.size(); ++i) brightest = std::max(brightest, grey[i] = pil_grey(px + 4 * i));
    cdf_.resize(grey.size());
    double total = 0;
    for (size_t i = 0; i < grey.size(); ++i) cdf_[i] = total += brightest - grey[i];
    if (!(total > 0)) TOY_FAIL(path, "image has no pixel darker than its brightest, so the density is empty");
  } else {
    unknown_name(name);
  }
}

Tensor Toy2d::sample(int64_t n, Generator& gen) const {
  FC_CHECK(n >= 0, "toy2d: negative sample count " << n);
  Tensor out = Tensor::empty({n, 2});
  if (n == 0) return out;
  float* o = out.cpu_data();
  switch (kind_) {
    case Kind::Builtin:
      if (name_ == "checkerboard") checkerboard(n, gen, o, kCheckerboardSide);
      else if (name_ == "checkerboard-fb") checkerboard(n, gen, o, kCheckerboardFbSide);
      else if (name_ == "moons") moons(n, gen, o, false);
      else if (name_ == "moons-scaled") moons(n, gen, o, true);
      else if (name_ == "mixture") mixture(n, gen, o);
      else if (name_ == "8gaussians") eight_gaussians(n, gen, o);
      else if (name_ == "spirals") spirals(n, gen, o);
      else if (name_ == "circles") circles(n, gen, o);
      else if (name_ == "pinwheel") pinwheel(n, gen, o);
      else swissroll(n, gen, o);
      break;
    case Kind::Points: {
      const int64_t count = static_cast<int64_t>(points_.size() / 2);
      std::vector<float> u = gen.uniform({n, 2}).to_vector();
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = std::min(count - 1, static_cast<int64_t>(fine_uniform(u[2 * i], u[2 * i + 1]) * count));
        o[2 * i] = points_[2 * k];
        o[2 * i + 1] = points_[2 * k + 1];
      }
      break;
    }
    case Kind::Image: {
      // The reference's picture density: a pixel with probability proportional to its
      // weight, then a Gaussian of std half a pixel around its centre; the centres are
      // linspace(-4, 4, w) across and linspace(4, -4, h) down (the top is +y), so the
      // picture fills [-4, 4]^2 whatever its aspect.
      std::vector<float> u = gen.uniform({n, 2}).to_vector();
      std::vector<float> z = gen.normal({n, 2}).to_vector();
      const double total = cdf_.back(), sx = 8.0 / width_ / 2, sy = 8.0 / height_ / 2;
      for (int64_t i = 0; i < n; ++i) {
        double target = fine_uniform(u[2 * i], u[2 * i + 1]) * total;
        // The first pixel whose running sum passes the target has non-zero mass.
        size_t k = static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), target) - cdf_.begin());
        k = std::min(k, cdf_.size() - 1);
        const int row = static_cast<int>(k / static_cast<size_t>(width_));
        const int col = static_cast<int>(k % static_cast<size_t>(width_));
        o[2 * i] = static_cast<float>(linspace_at(-4, 4, width_, col) + sx * z[2 * i]);
        o[2 * i + 1] = static_cast<float>(linspace_at(4, -4, height_, row) + sy * z[2 * i + 1]);
      }
      break;
    }
  }
  return out;
}

Tensor sample_toy2d(const std::string& name, int64_t n, Generator& gen) {
  if (is_builtin_toy2d(name)) return Toy2d(name).sample(n, gen);
  // A file density: keep the last one loaded while its file is unchanged.
  struct Stamp {
    std::string name;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp& o) const {
      return name == o.name && dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
  static std::mutex mu;
  static std::shared_ptr<const Toy2d> cached;
  static Stamp cached_stamp;

  Stamp stamp;
  stamp.name = name;
  bool stamped = false;
  size_t colon = name.find(':');
  struct stat st;
  if (colon != std::string::npos && ::stat(name.substr(colon + 1).c_str(), &st) == 0) {
    stamp.dev = st.st_dev;
    stamp.ino = st.st_ino;
    stamp.size = st.st_size;
    stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    stamped = true;
  }
  std::shared_ptr<const Toy2d> density;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stamped && cached && cached_stamp == stamp) density = cached;
  }
  if (!density) {
    density = std::make_shared<const Toy2d>(name);  // throws for unknown names and bad files
    if (stamped) {
      std::lock_guard<std::mutex> lock(mu);
      cached = density;
      cached_stamp = stamp;
    }
  }
  return density->sample(n, gen);
}

double checkerboard_square_side(const std::string& name) {
  if (name == "checkerboard") return kCheckerboardSide;
  if (name == "checkerboard-fb") return kCheckerboardFbSide;
  return 0;
}

double checkerboard_in_square_fraction(const Tensor& samples, double side) {
  FC_CHECK(samples.defined() && samples.ndim() == 2 && samples.dim(1) == 2,
           "checkerboard_in_square_fraction: expected [n, 2] samples, got "
               << (samples.defined() ? samples.shape().str() : std::string("an undefined tensor")));
  FC_CHECK(side > 0, "checkerboard_in_square_fraction: the squares' side must be positive, got " << side);
  const int64_t n = samples.dim(0);
  FC_CHECK(n > 0, "checkerboard_in_square_fraction: no samples");
  std::vector<float> p = samples.to_vector();
  int64_t inside = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = p[2 * i], y = p[2 * i + 1];
    if (!(std::isfinite(x) && std::isfinite(y))) continue;
    const int cx = board_cell(x, side), cy = board_cell(y, side);
    // The 4 x 4 board's cells run from -2 to 1; the filled ones have an even sum.
    if (cx >= -2 && cx <= 1 && cy >= -2 && cy <= 1 && ((cx + cy) % 2 + 2) % 2 == 0) ++inside;
  }
  return static_cast<double>(inside) / static_cast<double>(n);
}

PlotSquare plot_square(const Toy2d& density) {
  Generator gen(kPlotSquareSeed);
  std::vector<float> p = density.sample(kPlotSquarePoints, gen).to_vector();
  float x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    x_lo = std::min(x_lo, p[2 * i]);
    x_hi = std::max(x_hi, p[2 * i]);
    y_lo = std::min(y_lo, p[2 * i + 1]);
    y_hi = std::max(y_hi, p[2 * i + 1]);
  }
  const double cx = (static_cast<double>(x_lo) + x_hi) / 2, cy = (static_cast<double>(y_lo) + y_hi) / 2;
  double half = std::max(static_cast<double>(x_hi) - x_lo, static_cast<double>(y_hi) - y_lo) / 2;
  if (!(half > 0)) half = 1;  // one point: any square around it
  half *= 1.05;
  return PlotSquare{static_cast<float>(cx - half), static_cast<float>(cx + half), static_cast<float>(cy - half),
                    static_cast<float>(cy + half)};
}

}  // namespace fc::data
