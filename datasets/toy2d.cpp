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
  static const std::vector<std::string> names = {"checkerboard", "moons",   "mixture",  "8gaussians",
                                                 "spirals",      "circles", "pinwheel", "swissroll"};
  return names;
}

const char kPointsPrefix[] = "points:";
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
  os << "points:FILE (.npy or .csv with N x 2 points), image:FILE (.png, dark pixels = mass)";
  std::string msg = os.str();
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw Error(msg);
}

// A uniform in [0, 1) with 48 random bits from two 24-bit draws, so that choosing one
// of millions of pixels or points is not visibly quantised.
inline double fine_uniform(float hi, float lo) { return static_cast<double>(hi) + static_cast<double>(lo) * 0x1p-24; }

// ---- built-in densities: each draws whole tensors, then computes on the host ----

// The reference's checkerboard: x1 ~ U(-2, 2); x2 ~ U(0, 1) - 2 * randint(0, 2) + (floor(x1)
// mod 2); both doubled, so the mass fills alternate 2 x 2 squares of [-4, 4]^2.
void checkerboard(int64_t n, Generator& gen, float* out) {
  std::vector<float> x1 = gen.uniform({n}, -2.f, 2.f).to_vector();
  std::vector<float> u = gen.uniform({n}).to_vector();
  std::vector<float> k = gen.randint({n}, 0, 2).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    int col = static_cast<int>(std::floor(x1[i]));
    int row = (((col % 2) + 2) % 2) - 2 * static_cast<int>(k[i]);  // the unit cell of x2
    // Keep rounding from pushing a point across its square's edge.
    float y = static_cast<float>(2.0 * (row + static_cast<double>(u[i])));
    y = std::min(std::max(y, 2.f * row), std::nextafter(2.f * (row + 1), -INFINITY));
    out[2 * i] = 2.f * x1[i];
    out[2 * i + 1] = y;
  }
}

// sklearn's make_moons (two interleaved half circles, noise 0.05), centred and scaled by
// 2.5 so it spans about [-3.75, 3.75] x [-1.9, 1.9].
void moons(int64_t n, Generator& gen, float* out) {
  std::vector<float> which = gen.randint({n}, 0, 2).to_vector();
  std::vector<float> t = gen.uniform({n}, 0.f, static_cast<float>(kPi)).to_vector();
  std::vector<float> z = gen.normal({n, 2}, 0.f, 0.05f).to_vector();
  for (int64_t i = 0; i < n; ++i) {
    double c = std::cos(t[i]), s = std::sin(t[i]);
    double x = which[i] == 0 ? c : 1.0 - c;
    double y = which[i] == 0 ? s : 0.5 - s;
    out[2 * i] = static_cast<float>(2.5 * (x + z[2 * i] - 0.5));
    out[2 * i + 1] = static_cast<float>(2.5 * (y + z[2 * i + 1] - 0.25));
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

Toy2d::Toy2d(const std::string& name) : name_(name) {
  if (is_builtin_toy2d(name)) {
    kind_ = Kind::Builtin;
  } else if (starts_with(name, kPointsPrefix)) {
    kind_ = Kind::Points;
    points_ = load_points(name.substr(std::strlen(kPointsPrefix)));
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
    cdf_.resize(static_cast<size_t>(w) * h);
    double total = 0;
    for (size_t i = 0; i < cdf_.size(); ++i) {
      const unsigned char* p = px + 4 * i;
      // Rec. 601 luminance, composited over white so transparent pixels are empty.
      double lum = (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / 255.0;
      double alpha = p[3] / 255.0;
      total += alpha * (1.0 - lum);
      cdf_[i] = total;
    }
    if (!(total > 0)) TOY_FAIL(path, "image has no dark pixels, so the density is empty");
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
      if (name_ == "checkerboard") checkerboard(n, gen, o);
      else if (name_ == "moons") moons(n, gen, o);
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
      // A pixel with probability proportional to its darkness, then a uniform point in
      // it; the longer side spans [-4, 4], the picture's top is +y.
      std::vector<float> u = gen.uniform({n, 4}).to_vector();
      const double total = cdf_.back(), scale = 8.0 / std::max(width_, height_);
      for (int64_t i = 0; i < n; ++i) {
        double target = fine_uniform(u[4 * i], u[4 * i + 1]) * total;
        // The first pixel whose running sum passes the target has non-zero mass.
        size_t k = static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), target) - cdf_.begin());
        k = std::min(k, cdf_.size() - 1);
        const int64_t row = static_cast<int64_t>(k) / width_, col = static_cast<int64_t>(k) % width_;
        o[2 * i] = static_cast<float>((col + u[4 * i + 2] - 0.5 * width_) * scale);
        o[2 * i + 1] = static_cast<float>((0.5 * height_ - row - u[4 * i + 3]) * scale);
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

double checkerboard_in_square_fraction(const Tensor& samples) {
  FC_CHECK(samples.defined() && samples.ndim() == 2 && samples.dim(1) == 2,
           "checkerboard_in_square_fraction: expected [n, 2] samples, got "
               << (samples.defined() ? samples.shape().str() : std::string("an undefined tensor")));
  const int64_t n = samples.dim(0);
  FC_CHECK(n > 0, "checkerboard_in_square_fraction: no samples");
  std::vector<float> p = samples.to_vector();
  int64_t inside = 0;
  for (int64_t i = 0; i < n; ++i) {
    float x = p[2 * i], y = p[2 * i + 1];
    if (!(x >= -4.f && x < 4.f && y >= -4.f && y < 4.f)) continue;
    int cx = static_cast<int>(std::floor(x / 2.f)), cy = static_cast<int>(std::floor(y / 2.f));
    if (((cx + cy) % 2 + 2) % 2 == 0) ++inside;
  }
  return static_cast<double>(inside) / static_cast<double>(n);
}

}  // namespace fc::data
