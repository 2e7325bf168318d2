#include "viz/canvas.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.hpp"

namespace fc::viz {

Rect Rect::intersect(const Rect& o) const {
  int x0 = std::max(x, o.x), y0 = std::max(y, o.y);
  int x1 = std::min(right(), o.right()), y1 = std::min(bottom(), o.bottom());
  return Rect{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

namespace {

inline uint8_t mix(uint8_t dst, uint8_t src, float a) {
  return static_cast<uint8_t>(static_cast<float>(dst) + (static_cast<float>(src) - dst) * a + 0.5f);
}

// Pixel rect covering the float box [x0, x1] x [y0, y1], grown by one pixel for the
// anti-aliased fringe.
Rect bbox_of(float x0, float y0, float x1, float y1) {
  if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1)))
    return Rect{};
  // Clamp before converting so that huge coordinates cannot overflow int.
  auto lo = [](float v) { return static_cast<int>(std::floor(std::clamp(v, -1e6f, 1e6f))) - 1; };
  auto hi = [](float v) { return static_cast<int>(std::ceil(std::clamp(v, -1e6f, 1e6f))) + 1; };
  int ix0 = lo(x0), iy0 = lo(y0);
  return Rect{ix0, iy0, hi(x1) - ix0, hi(y1) - iy0};
}

// Coverage of several shapes over one area, combined with max and blended once, so
// that overlapping parts of one stroke (polyline joints, arrow shaft under its head)
// are not blended twice and do not come out darker.
class Coverage {
 public:
  explicit Coverage(const Rect& area)
      : area_(area), cov_(static_cast<size_t>(std::max(0, area.w)) * std::max(0, area.h), 0.f) {}

  // A segment with round caps of radius r: coverage ~ how far inside the pixel centre is.
  void add_capsule(Point a, Point b, float r) {
    Rect box = bbox_of(std::min(a.x, b.x) - r, std::min(a.y, b.y) - r, std::max(a.x, b.x) + r,
                       std::max(a.y, b.y) + r)
                   .intersect(area_);
    float dx = b.x - a.x, dy = b.y - a.y;
    float len2 = dx * dx + dy * dy;
    float inv = len2 > 0.f ? 1.f / len2 : 0.f;
    for (int y = box.y; y < box.bottom(); ++y) {
      float py = static_cast<float>(y) + 0.5f - a.y;
      for (int x = box.x; x < box.right(); ++x) {
        float px = static_cast<float>(x) + 0.5f - a.x;
        float t = std::clamp((px * dx + py * dy) * inv, 0.f, 1.f);
        float ex = px - t * dx, ey = py - t * dy;
        float c = r + 0.5f - std::sqrt(ex * ex + ey * ey);
        if (c > 0.f) put(x, y, std::min(c, 1.f));
      }
    }
  }

  // Coverage from the signed distance to the nearest edge, positive inside.
  void add_triangle(Point a, Point b, Point c) {
    float area2 = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
    if (std::fabs(area2) < 1e-6f) return;
    if (area2 < 0.f) std::swap(b, c);
    Point v[3] = {a, b, c};
    float nx[3], ny[3], off[3];
    for (int i = 0; i < 3; ++i) {
      Point p = v[i], q = v[(i + 1) % 3];
      float ex = q.x - p.x, ey = q.y - p.y, l = std::sqrt(ex * ex + ey * ey);
      nx[i] = -ey / l;  // inward normal for counter-clockwise order in y-down space
      ny[i] = ex / l;
      off[i] = -(nx[i] * p.x + ny[i] * p.y);
    }
    Rect box = bbox_of(std::min({a.x, b.x, c.x}), std::min({a.y, b.y, c.y}),
                       std::max({a.x, b.x, c.x}), std::max({a.y, b.y, c.y}))
                   .intersect(area_);
    for (int y = box.y; y < box.bottom(); ++y) {
      float py = static_cast<float>(y) + 0.5f;
      for (int x = box.x; x < box.right(); ++x) {
        float px = static_cast<float>(x) + 0.5f;
        float d = std::min({nx[0] * px + ny[0] * py + off[0], nx[1] * px + ny[1] * py + off[1],
                            nx[2] * px + ny[2] * py + off[2]});
        float cv = d + 0.5f;
        if (cv > 0.f) put(x, y, std::min(cv, 1.f));
      }
    }
  }

  void blend_into(Canvas& cv, RGB col, float alpha) const {
    for (int y = 0; y < area_.h; ++y)
      for (int x = 0; x < area_.w; ++x) {
        float c = cov_[static_cast<size_t>(y) * area_.w + x];
        if (c > 0.f) cv.blend(area_.x + x, area_.y + y, col, c * alpha);
      }
  }

 private:
  void put(int x, int y, float c) {
    float& dst = cov_[static_cast<size_t>(y - area_.y) * area_.w + (x - area_.x)];
    dst = std::max(dst, c);
  }
  Rect area_;
  std::vector<float> cov_;
};

}  // namespace

Canvas::Canvas(int width, int height, RGB background) : width_(width), height_(height) {
  FC_CHECK(width > 0 && height > 0 && width <= 1 << 15 && height <= 1 << 15,
           "canvas size " << width << "x" << height << " is out of range (1..32768)");
  pixels_.resize(static_cast<size_t>(width) * height * 3);
  clip_ = bounds();
  fill(background);
}

RGB Canvas::get(int x, int y) const {
  FC_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_,
           "canvas pixel (" << x << ", " << y << ") is outside " << width_ << "x" << height_);
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  return RGB{p[0], p[1], p[2]};
}

void Canvas::set(int x, int y, RGB c) {
  if (x < clip_.x || y < clip_.y || x >= clip_.right() || y >= clip_.bottom()) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::blend(int x, int y, RGB c, float alpha) {
  if (x < clip_.x || y < clip_.y || x >= clip_.right() || y >= clip_.bottom()) return;
  if (!(alpha > 0.f)) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  if (alpha >= 1.f) {
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
    return;
  }
  p[0] = mix(p[0], c.r, alpha);
  p[1] = mix(p[1], c.g, alpha);
  p[2] = mix(p[2], c.b, alpha);
}

void Canvas::fill(RGB c) {
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = c.r;
    pixels_[i + 1] = c.g;
    pixels_[i + 2] = c.b;
  }
}

void Canvas::fill_rect(const Rect& r, RGB c, float alpha) {
  Rect b = r.intersect(clip_);
  for (int y = b.y; y < b.bottom(); ++y)
    for (int x = b.x; x < b.right(); ++x) blend(x, y, c, alpha);
}

void Canvas::stroke_rect(const Rect& r, RGB c, int thickness) {
  int t = std::min({thickness, r.w, r.h});
  if (t <= 0) return;
  fill_rect(Rect{r.x, r.y, r.w, t}, c);
  fill_rect(Rect{r.x, r.bottom() - t, r.w, t}, c);
  fill_rect(Rect{r.x, r.y + t, t, r.h - 2 * t}, c);
  fill_rect(Rect{r.right() - t, r.y + t, t, r.h - 2 * t}, c);
}

void Canvas::line(Point a, Point b, RGB c, float width, float alpha) {
  polyline({a, b}, c, width, alpha);
}

void Canvas::polyline(const std::vector<Point>& pts, RGB c, float width, float alpha) {
  float r = std::max(width, 0.f) * 0.5f;
  // Each finite run of points is one stroke with its own coverage buffer.
  size_t i = 0;
  while (i < pts.size()) {
    while (i < pts.size() && !(std::isfinite(pts[i].x) && std::isfinite(pts[i].y))) ++i;
    size_t j = i;
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    while (j < pts.size() && std::isfinite(pts[j].x) && std::isfinite(pts[j].y)) {
      x0 = std::min(x0, pts[j].x);
      y0 = std::min(y0, pts[j].y);
      x1 = std::max(x1, pts[j].x);
      y1 = std::max(y1, pts[j].y);
      ++j;
    }
    if (j > i) {
      Coverage cov(bbox_of(x0 - r, y0 - r, x1 + r, y1 + r).intersect(clip_));
      if (j - i == 1) cov.add_capsule(pts[i], pts[i], r);
      for (size_t k = i; k + 1 < j; ++k) cov.add_capsule(pts[k], pts[k + 1], r);
      cov.blend_into(*this, c, alpha);
    }
    i = j;
  }
}

void Canvas::arrow(Point tail, Point tip, RGB c, float width, float head_length, float head_width,
                   float alpha) {
  float dx = tip.x - tail.x, dy = tip.y - tail.y;
  float len = std::sqrt(dx * dx + dy * dy);
  if (!(len > 1e-3f) || !std::isfinite(len)) return;
  float ux = dx / len, uy = dy / len;
  float hl = std::min(head_length, len);
  float hw = head_width * (head_length > 0.f ? hl / head_length : 0.f);
  Point base{tip.x - ux * hl, tip.y - uy * hl};
  Point left{base.x - uy * hw * 0.5f, base.y + ux * hw * 0.5f};
  Point right{base.x + uy * hw * 0.5f, base.y - ux * hw * 0.5f};
  float r = std::max(width, 0.f) * 0.5f;
  float pad = std::max(r, hw * 0.5f);
  Coverage cov(bbox_of(std::min(tail.x, tip.x) - pad, std::min(tail.y, tip.y) - pad,
                       std::max(tail.x, tip.x) + pad, std::max(tail.y, tip.y) + pad)
                   .intersect(clip_));
  if (len > hl) cov.add_capsule(tail, base, r);
  if (hl > 0.f && hw > 0.f) cov.add_triangle(tip, left, right);
  cov.blend_into(*this, c, alpha);
}

void Canvas::fill_circle(Point o, float radius, RGB c, float alpha) {
  Rect box = bbox_of(o.x - radius, o.y - radius, o.x + radius, o.y + radius).intersect(clip_);
  // A disc smaller than a pixel keeps its area as faint coverage instead of vanishing.
  float peak = radius < 0.5f ? std::max(radius, 0.f) * 2.f : 1.f;
  for (int y = box.y; y < box.bottom(); ++y)
    for (int x = box.x; x < box.right(); ++x) {
      float ex = static_cast<float>(x) + 0.5f - o.x, ey = static_cast<float>(y) + 0.5f - o.y;
      float cv = std::min(radius + 0.5f - std::sqrt(ex * ex + ey * ey), peak);
      if (cv > 0.f) blend(x, y, c, cv * alpha);
    }
}

void Canvas::blit(const Canvas& src, int x, int y) {
  Rect dst = Rect{x, y, src.width(), src.height()}.intersect(clip_);
  for (int row = dst.y; row < dst.bottom(); ++row) {
    const uint8_t* s = &src.pixels_[(static_cast<size_t>(row - y) * src.width_ + (dst.x - x)) * 3];
    uint8_t* d = &pixels_[(static_cast<size_t>(row) * width_ + dst.x) * 3];
    std::memcpy(d, s, static_cast<size_t>(dst.w) * 3);
  }
}

void Canvas::draw_field(const float* values, int rows, int cols, const Rect& dst,
                        const Colormap& cmap, float vmin, float vmax, Sampling sampling,
                        bool flip_rows) {
  FC_CHECK(values && rows > 0 && cols > 0,
           "draw_field: empty field (" << rows << "x" << cols << ")");
  if (dst.empty()) return;
  float span = vmax - vmin;
  float scale = span != 0.f && std::isfinite(span) ? 1.f / span : 0.f;
  Rect box = dst.intersect(clip_);
  float sx = static_cast<float>(cols) / dst.w, sy = static_cast<float>(rows) / dst.h;
  auto at = [&](int r, int c) {
    int rr = flip_rows ? rows - 1 - r : r;
    return values[static_cast<size_t>(rr) * cols + c];
  };
  for (int y = box.y; y < box.bottom(); ++y) {
    float fy = (static_cast<float>(y - dst.y) + 0.5f) * sy;
    for (int x = box.x; x < box.right(); ++x) {
      float fx = (static_cast<float>(x - dst.x) + 0.5f) * sx;
      float v;
      if (sampling == Sampling::nearest) {
        v = at(std::min(static_cast<int>(fy), rows - 1), std::min(static_cast<int>(fx), cols - 1));
      } else {
        // Interpolate values, not colours, so the colormap stays exact along gradients.
        float u = std::clamp(fx - 0.5f, 0.f, static_cast<float>(cols - 1));
        float w = std::clamp(fy - 0.5f, 0.f, static_cast<float>(rows - 1));
        int c0 = std::min(static_cast<int>(u), cols - 1), r0 = std::min(static_cast<int>(w), rows - 1);
        int c1 = std::min(c0 + 1, cols - 1), r1 = std::min(r0 + 1, rows - 1);
        float fu = u - c0, fw = w - r0;
        float top = at(r0, c0) * (1.f - fu) + at(r0, c1) * fu;
        float bot = at(r1, c0) * (1.f - fu) + at(r1, c1) * fu;
        v = top * (1.f - fw) + bot * fw;
      }
      if (std::isnan(v)) continue;
      set(x, y, cmap((v - vmin) * scale));
    }
  }
}

}  // namespace fc::viz
