#pragma once
// An RGB8 raster with the anti-aliased primitives the figures need.
// Coordinates are continuous: pixel (x, y) covers [x, x+1) x [y, y+1), so its centre is
// (x + 0.5, y + 0.5) and a 1-px horizontal line at y = 10.5 fills row 10 exactly.
// Every draw call respects the clip rectangle (the whole canvas unless set), which is
// how plot panels keep data inside their frame.
#include <cstdint>
#include <vector>

#include "viz/colormap.hpp"

namespace fc::viz {

inline constexpr RGB kWhite{255, 255, 255};
inline constexpr RGB kBlack{0, 0, 0};

struct Point {
  float x = 0.f, y = 0.f;
};

// Integer pixel rectangle [x, x + w) x [y, y + h).
struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  int right() const { return x + w; }
  int bottom() const { return y + h; }
  bool empty() const { return w <= 0 || h <= 0; }
  Rect intersect(const Rect& o) const;
  Rect inset(int d) const { return Rect{x + d, y + d, w - 2 * d, h - 2 * d}; }
};

enum class Sampling { nearest, bilinear };

class Canvas {
 public:
  Canvas() = default;
  Canvas(int width, int height, RGB background = kWhite);

  int width() const { return width_; }
  int height() const { return height_; }
  // Row-major RGB triplets, 3 * width * height bytes (what PNG and GIF writers take).
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  std::vector<uint8_t>& pixels() { return pixels_; }

  RGB get(int x, int y) const;  // (x, y) must lie on the canvas
  void set(int x, int y, RGB c);  // ignored outside the clip
  // c over the pixel with opacity alpha in [0, 1]; ignored outside the clip.
  void blend(int x, int y, RGB c, float alpha);

  Rect bounds() const { return Rect{0, 0, width_, height_}; }
  Rect clip() const { return clip_; }
  void set_clip(const Rect& r) { clip_ = r.intersect(bounds()); }
  void reset_clip() { clip_ = bounds(); }

  void fill(RGB c);  // the whole canvas, ignoring the clip
  void fill_rect(const Rect& r, RGB c, float alpha = 1.f);
  // A crisp pixel-aligned outline `thickness` pixels wide, drawn inside r.
  void stroke_rect(const Rect& r, RGB c, int thickness = 1);

  // Anti-aliased segment with round caps, `width` pixels thick.
  void line(Point a, Point b, RGB c, float width = 1.f, float alpha = 1.f);
  // Joined segments, blended once so that joints are not darker than the rest.
  // Non-finite points break the line into pieces.
  void polyline(const std::vector<Point>& pts, RGB c, float width = 1.f, float alpha = 1.f);
  // Shaft from tail to tip plus a filled triangular head (sizes in pixels). A head
  // longer than the arrow shrinks to fit, so short arrows still point somewhere.
  void arrow(Point tail, Point tip, RGB c, float width, float head_length, float head_width,
             float alpha = 1.f);
  void fill_circle(Point centre, float radius, RGB c, float alpha = 1.f);

  // Copies src with its top-left corner at (x, y); parts outside the clip are dropped.
  void blit(const Canvas& src, int x, int y);

  // Draws a rows x cols float field (row-major) scaled into dst through cmap, mapping
  // vmin..vmax to 0..1. Row 0 is drawn at the top unless flip_rows (then at the bottom,
  // as for a grid whose first row is the smallest y). NaN cells leave pixels untouched.
  void draw_field(const float* values, int rows, int cols, const Rect& dst, const Colormap& cmap,
                  float vmin, float vmax, Sampling sampling = Sampling::nearest,
                  bool flip_rows = false);

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
  Rect clip_;
};

}  // namespace fc::viz
