#include "viz/quantize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "engine/error.hpp"

namespace fc::viz {

namespace {

constexpr int kShift = 8 - ColorHistogram::kBits;

inline int cell_of(uint8_t r, uint8_t g, uint8_t b) {
  return ((r >> kShift) << (2 * ColorHistogram::kBits)) | ((g >> kShift) << ColorHistogram::kBits) |
         (b >> kShift);
}

struct Entry {
  float c[3];  // mean colour of the cell
  double n;    // pixels in it
};

constexpr float kWeight[3] = {2.f, 4.f, 3.f};  // as in color_distance2

struct Box {
  size_t begin, end;   // into the entry array
  int axis = 0;        // channel with the widest weighted spread
  float spread = 0;    // that spread
  double priority = 0;  // which box to split next
};

void measure(const std::vector<Entry>& e, Box& box) {
  float lo[3] = {255, 255, 255}, hi[3] = {0, 0, 0};
  for (size_t i = box.begin; i < box.end; ++i)
    for (int c = 0; c < 3; ++c) {
      lo[c] = std::min(lo[c], e[i].c[c]);
      hi[c] = std::max(hi[c], e[i].c[c]);
    }
  box.spread = -1.f;
  for (int c = 0; c < 3; ++c) {
    float s = (hi[c] - lo[c]) * std::sqrt(kWeight[c]);
    if (s > box.spread) {
      box.spread = s;
      box.axis = c;
    }
  }
  if (box.end - box.begin < 2) box.spread = 0.f;
  // Spread alone would spend entries evenly on every colour in use, down to the
  // faint anti-aliased fringes; weighting by sqrt(pixels) gives the big gradients
  // (heatmaps, colour bars) the finer steps that keep them from banding.
  double n = 0;
  for (size_t i = box.begin; i < box.end; ++i) n += e[i].n;
  box.priority = box.spread * std::sqrt(n);
}

}  // namespace

ColorHistogram::ColorHistogram() : count_(kCells, 0), sum_(static_cast<size_t>(kCells) * 3, 0) {}

void ColorHistogram::add(const uint8_t* rgb, size_t n_pixels) {
  for (size_t i = 0; i < n_pixels; ++i, rgb += 3) {
    int k = cell_of(rgb[0], rgb[1], rgb[2]);
    ++count_[k];
    sum_[3 * k] += rgb[0];
    sum_[3 * k + 1] += rgb[1];
    sum_[3 * k + 2] += rgb[2];
  }
}

std::vector<RGB> ColorHistogram::build_palette(int max_colors) const {
  FC_CHECK(max_colors >= 1 && max_colors <= 256, "palette size " << max_colors << " is not in 1..256");
  std::vector<Entry> e;
  for (int k = 0; k < kCells; ++k) {
    if (!count_[k]) continue;
    double n = static_cast<double>(count_[k]);
    e.push_back(Entry{{static_cast<float>(sum_[3 * k] / n), static_cast<float>(sum_[3 * k + 1] / n),
                       static_cast<float>(sum_[3 * k + 2] / n)},
                      n});
  }
  if (e.empty()) return {RGB{0, 0, 0}};

  // Median cut: split the box whose colours spread widest (weighted by its pixels,
  // see measure), so that every region of colour space in use gets entries.
  std::vector<Box> boxes;
  boxes.push_back(Box{0, e.size()});
  measure(e, boxes[0]);
  while (static_cast<int>(boxes.size()) < max_colors) {
    auto widest = std::max_element(boxes.begin(), boxes.end(),
                                   [](const Box& a, const Box& b) { return a.priority < b.priority; });
    if (widest->spread <= 0.f) break;  // every box is a single colour
    Box box = *widest;
    int ax = box.axis;
    std::sort(e.begin() + box.begin, e.begin() + box.end,
              [ax](const Entry& a, const Entry& b) { return a.c[ax] < b.c[ax]; });
    // Split at the pixel-weighted median, keeping at least one cell on each side.
    double total = 0;
    for (size_t i = box.begin; i < box.end; ++i) total += e[i].n;
    double acc = 0;
    size_t mid = box.begin + 1;
    for (size_t i = box.begin; i + 1 < box.end; ++i) {
      acc += e[i].n;
      mid = i + 1;
      if (acc >= total * 0.5) break;
    }
    Box a{box.begin, mid}, b{mid, box.end};
    measure(e, a);
    measure(e, b);
    *widest = a;
    boxes.push_back(b);
  }

  std::vector<std::array<float, 3>> centre(boxes.size());
  for (size_t j = 0; j < boxes.size(); ++j) {
    double s[3] = {0, 0, 0}, n = 0;
    for (size_t i = boxes[j].begin; i < boxes[j].end; ++i) {
      for (int c = 0; c < 3; ++c) s[c] += e[i].c[c] * e[i].n;
      n += e[i].n;
    }
    for (int c = 0; c < 3; ++c) centre[j][c] = static_cast<float>(s[c] / n);
  }

  // A few k-means passes move entries off the box boundaries towards the colours
  // actually used; an entry that loses all its cells keeps its place.
  std::vector<int> owner(e.size());
  for (int pass = 0; pass < 3; ++pass) {
    for (size_t i = 0; i < e.size(); ++i) {
      float best = 1e30f;
      for (size_t j = 0; j < centre.size(); ++j) {
        float d = 0;
        for (int c = 0; c < 3; ++c) {
          float t = e[i].c[c] - centre[j][c];
          d += kWeight[c] * t * t;
        }
        if (d < best) {
          best = d;
          owner[i] = static_cast<int>(j);
        }
      }
    }
    std::vector<std::array<double, 4>> acc(centre.size(), {0, 0, 0, 0});
    for (size_t i = 0; i < e.size(); ++i) {
      for (int c = 0; c < 3; ++c) acc[owner[i]][c] += e[i].c[c] * e[i].n;
      acc[owner[i]][3] += e[i].n;
    }
    for (size_t j = 0; j < centre.size(); ++j)
      if (acc[j][3] > 0)
        for (int c = 0; c < 3; ++c) centre[j][c] = static_cast<float>(acc[j][c] / acc[j][3]);
  }

  std::vector<RGB> palette;
  for (const auto& c : centre)
    palette.push_back(RGB{static_cast<uint8_t>(std::lround(std::clamp(c[0], 0.f, 255.f))),
                          static_cast<uint8_t>(std::lround(std::clamp(c[1], 0.f, 255.f))),
                          static_cast<uint8_t>(std::lround(std::clamp(c[2], 0.f, 255.f)))});
  return palette;
}

PaletteMap::PaletteMap(std::vector<RGB> palette)
    : palette_(std::move(palette)), cache_(ColorHistogram::kCells, 0xFFFF) {
  FC_CHECK(!palette_.empty() && palette_.size() <= 256,
           "palette has " << palette_.size() << " colours, expected 1..256");
}

uint8_t PaletteMap::operator()(uint8_t r, uint8_t g, uint8_t b) {
  uint16_t& slot = cache_[cell_of(r, g, b)];
  if (slot != 0xFFFF) return static_cast<uint8_t>(slot);
  // The cell's centre stands for every colour in it (at most 2 levels away).
  int half = 1 << (kShift - 1);
  int cr = (r >> kShift << kShift) + half, cg = (g >> kShift << kShift) + half,
      cb = (b >> kShift << kShift) + half;
  int best = 0, best_d = 1 << 30;
  for (size_t j = 0; j < palette_.size(); ++j) {
    int d = color_distance2(cr, cg, cb, palette_[j].r, palette_[j].g, palette_[j].b);
    if (d < best_d) {
      best_d = d;
      best = static_cast<int>(j);
    }
  }
  slot = static_cast<uint16_t>(best);
  return static_cast<uint8_t>(best);
}

}  // namespace fc::viz
