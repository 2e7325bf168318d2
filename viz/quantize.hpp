#pragma once
// Colour quantization for GIF: one palette for many frames (median cut refined by a
// few k-means passes over a colour histogram), and a cached nearest-colour lookup.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "viz/colormap.hpp"

namespace fc::viz {

// Histogram over a 64x64x64 grid of colour cells; each cell keeps its pixel count and
// the sum of its exact colours, so palette entries are true means, not cell centres.
// (64 levels, not 32: a viridis gradient then lands in steps of ~4 levels, not ~8.)
class ColorHistogram {
 public:
  static constexpr int kBits = 6;
  static constexpr int kCells = 1 << (3 * kBits);
  ColorHistogram();
  void add(const uint8_t* rgb, size_t n_pixels);
  // At most max_colors (1..256) colours that cover what was added.
  std::vector<RGB> build_palette(int max_colors) const;

 private:
  std::vector<uint64_t> count_;
  std::vector<uint64_t> sum_;  // 3 per cell
};

// Nearest palette colour, memoized per 64x64x64 cell: frames repeat the same few
// thousand colours, so almost every pixel is one table read.
class PaletteMap {
 public:
  explicit PaletteMap(std::vector<RGB> palette);
  uint8_t operator()(uint8_t r, uint8_t g, uint8_t b);
  const std::vector<RGB>& palette() const { return palette_; }

 private:
  std::vector<RGB> palette_;
  std::vector<uint16_t> cache_;  // 0xFFFF = not computed yet
};

// Squared colour distance weighted 2:4:3 (a cheap stand-in for perceived difference:
// the eye is most sensitive to green, least to blue).
inline int color_distance2(int r0, int g0, int b0, int r1, int g1, int b1) {
  int dr = r0 - r1, dg = g0 - g1, db = b0 - b1;
  return 2 * dr * dr + 4 * dg * dg + 3 * db * db;
}

}  // namespace fc::viz
