#pragma once
// Colormaps for scalar fields (viridis, magma, inferno, gray) and a qualitative
// palette (tab10) for lines and classes. Sequential maps are perceptually uniform
// so that equal steps in value read as equal steps in colour.
#include <array>
#include <cstdint>
#include <string>

namespace fc::viz {

struct RGB {
  uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(RGB a, RGB b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(RGB a, RGB b) { return !(a == b); }

// A sequential colormap: t in [0, 1] -> colour. Lookups go through a 1024-entry
// table built once from the anchors, so per-pixel calls cost an index, not a lerp.
class Colormap {
 public:
  static constexpr int kLutSize = 1024;
  // anchors: n >= 2 colours (0..255 floats) at evenly spaced t, linearly interpolated.
  Colormap(std::string name, const float (*anchors)[3], int n);

  // t is clamped to [0, 1]; NaN maps to t = 0.
  RGB operator()(float t) const {
    if (!(t > 0.f)) return lut_[0];
    if (t >= 1.f) return lut_[kLutSize - 1];
    return lut_[static_cast<int>(t * (kLutSize - 1) + 0.5f)];
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::array<RGB, kLutSize> lut_;
};

const Colormap& viridis();
const Colormap& magma();
const Colormap& inferno();
const Colormap& gray();  // black -> white, for image samples
// "viridis", "magma", "inferno" or "gray"; throws fc::Error listing the names otherwise.
const Colormap& colormap_by_name(const std::string& name);

// Matplotlib's tab10: ten distinct colours for lines and classes; i wraps modulo 10.
RGB tab10(int i);

}  // namespace fc::viz
