#include "viz/plot.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "viz/text.hpp"
#include "viz/tick_label.hpp"

namespace fc::viz {

namespace {

constexpr int kTickLen = 5;
constexpr int kPad = 4;
constexpr int kBarGap = 12;   // frame to colour bar
constexpr int kBarWidth = 16;
const RGB kFrame{70, 70, 70};
const RGB kGrid{228, 228, 228};

// Restores the canvas clip when a plotting call ends, even by exception.
struct ClipScope {
  Canvas& c;
  Rect saved;
  ClipScope(Canvas& canvas, const Rect& r) : c(canvas), saved(canvas.clip()) { c.set_clip(r.intersect(saved)); }
  ~ClipScope() { c.set_clip(saved); }
};

// The column (row) of a 1-px tick or grid line at continuous position p in
// [lo_edge, hi_edge]. The frame lines sit just outside that span (columns lo_edge - 1
// and hi_edge), so stretch it by a pixel: the end ticks then land on the frame.
int tick_pixel(float p, int lo_edge, int hi_edge) {
  float frac = (p - lo_edge) / std::max(hi_edge - lo_edge, 1);
  int c = static_cast<int>(std::floor(lo_edge - 1 + frac * (hi_edge - lo_edge + 1) + 0.5f));
  return std::clamp(c, lo_edge - 1, hi_edge);
}

}  // namespace

Rect grid_cell(const Rect& area, int rows, int cols, int row, int col, int gap) {
  FC_CHECK(rows > 0 && cols > 0 && row >= 0 && row < rows && col >= 0 && col < cols,
           "grid_cell: cell (" << row << ", " << col << ") is not in a " << rows << "x" << cols << " grid");
  // Integer edges from fractions, so that cells tile the area without drift.
  auto edge = [](int start, int len, int n, int i) { return start + static_cast<int>(std::lround(static_cast<double>(len) * i / n)); };
  int x0 = edge(area.x, area.w + gap, cols, col), x1 = edge(area.x, area.w + gap, cols, col + 1) - gap;
  int y0 = edge(area.y, area.h + gap, rows, row), y1 = edge(area.y, area.h + gap, rows, row + 1) - gap;
  return Rect{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

Axes::Axes(Canvas& canvas, const Rect& panel, Range x, Range y, AxesOptions options)
    : canvas_(canvas), panel_(panel), x_(x), y_(y), opt_(std::move(options)) {
  FC_CHECK(std::isfinite(x.lo) && std::isfinite(x.hi) && x.lo < x.hi,
           "Axes: x range [" << x.lo << ", " << x.hi << "] is empty or not finite");
  FC_CHECK(std::isfinite(y.lo) && std::isfinite(y.hi) && y.lo < y.hi,
           "Axes: y range [" << y.lo << ", " << y.hi << "] is empty or not finite");
  FC_CHECK(!opt_.log_y || y.lo > 0, "Axes: a log y axis needs y > 0, got [" << y.lo << ", " << y.hi << "]");
  FC_CHECK(!opt_.log_x || x.lo > 0, "Axes: a log x axis needs x > 0, got [" << x.lo << ", " << x.hi << "]");
  const float fs = opt_.font_px;
  const int label_h = static_cast<int>(std::ceil(fs * 1.2f));

  int top = !opt_.title.empty() ? static_cast<int>(std::lround(opt_.title_px * 1.8f))
                                : static_cast<int>(std::lround(fs * 0.8f));
  int bottom = opt_.ticks ? 1 + kTickLen + kPad + label_h : 2;
  if (!opt_.xlabel.empty()) bottom += kPad + label_h;
  bottom += kPad;
  int right = opt_.ticks ? static_cast<int>(std::ceil(0.5f * text_width(format_tick(x.hi, nice_step(x.lo, x.hi, 5)), fs))) + 2
                         : 2;
  right = std::max(right, 10);
  if (opt_.colorbar) right += 1 + kBarGap + kBarWidth + colorbar_label_room(fs, !opt_.colorbar_label.empty());

  const float cap = font_metrics(fs).cap_height;
  auto make_yticks = [&](int height) {
    // As many ticks as fit with at least ~2.4 capital heights between them.
    for (int target = std::clamp(static_cast<int>(height / (fs * 3.f)), 2, 8);; --target) {
      yticks_ = opt_.log_y ? log_ticks(y.lo, y.hi, target) : nice_ticks(y.lo, y.hi, target);
      ystep_ = nice_step(y.lo, y.hi, target);
      if (target <= 2 || yticks_.size() < 2) break;
      double span = opt_.log_y ? std::log10(y.hi / y.lo) : y.hi - y.lo;
      double gap = 1e30;
      for (size_t i = 1; i < yticks_.size(); ++i) {
        double d = opt_.log_y ? std::log10(yticks_[i] / yticks_[i - 1]) : yticks_[i] - yticks_[i - 1];
        gap = std::min(gap, d / span * height);
      }
      if (gap >= cap * 2.4f) break;
    }
  };

  int inner_h = panel.h - top - bottom;
  int left = 2;
  if (opt_.ticks) {
    make_yticks(inner_h);
    float wmax = 0;
    for (double t : yticks_) wmax = std::max(wmax, tick_label_width(ytick_label(t), fs));
    left = 1 + kTickLen + kPad + static_cast<int>(std::ceil(wmax)) + kPad;
  }
  if (!opt_.ylabel.empty()) left += label_h + kPad;
  inner_ = Rect{panel.x + left, panel.y + top, panel.w - left - right, inner_h};
  FC_CHECK(inner_.w >= 16 && inner_.h >= 16,
           "Axes: panel " << panel.w << "x" << panel.h << " is too small for its labels");

  if (opt_.equal_aspect) {
    double ppu = std::min(inner_.w / (x.hi - x.lo), inner_.h / (y.hi - y.lo));
    int w = static_cast<int>(std::lround(ppu * (x.hi - x.lo)));
    int h = static_cast<int>(std::lround(ppu * (y.hi - y.lo)));
    inner_.x += (inner_.w - w) / 2;
    inner_.y += (inner_.h - h) / 2;
    inner_.w = w;
    inner_.h = h;
  }

  if (opt_.ticks) {
    make_yticks(inner_.h);
    // The most x ticks whose labels keep a gap of 1.5 em between them.
    for (int target = std::clamp(static_cast<int>(inner_.w / (fs * 5.f)), 2, 10);; --target) {
      if (!opt_.xtick_values.empty()) {
        xticks_ = opt_.xtick_values;
        xstep_ = 1;
        break;
      }
      xticks_ = opt_.log_x ? log_ticks(x.lo, x.hi, target) : nice_ticks(x.lo, x.hi, target);
      xstep_ = nice_step(x.lo, x.hi, target);
      if (target <= 2) break;
      bool fits = true;
      for (size_t i = 1; i < xticks_.size() && fits; ++i) {
        float need = 0.5f * (text_width(format_tick(xticks_[i - 1], xstep_), fs) +
                             text_width(format_tick(xticks_[i], xstep_), fs)) + 1.5f * fs;
        fits = px(xticks_[i]) - px(xticks_[i - 1]) >= need;
      }
      if (fits) break;
    }
  }
  draw_decorations();
}

std::string Axes::ytick_label(double v) const {
  if (!opt_.log_y) return format_tick(v, ystep_);
  double decades = std::log10(y_.hi / y_.lo);
  // Within a decade the ticks are linear; over a few they are 1/2/5 x 10^k, plain.
  if (decades < 1.0) return format_tick(v, ystep_);
  return format_log_tick(v, decades > 2.5);
}

float Axes::px(double x) const {
  if (opt_.log_x) {
    if (!(x > 0)) return NAN;
    return static_cast<float>(inner_.x + std::log10(x / x_.lo) / std::log10(x_.hi / x_.lo) * inner_.w);
  }
  return static_cast<float>(inner_.x + (x - x_.lo) / (x_.hi - x_.lo) * inner_.w);
}

float Axes::py(double y) const {
  double t;
  if (opt_.log_y) {
    if (!(y > 0)) return NAN;
    t = std::log10(y / y_.lo) / std::log10(y_.hi / y_.lo);
  } else {
    t = (y - y_.lo) / (y_.hi - y_.lo);
  }
  return static_cast<float>(inner_.bottom() - t * inner_.h);
}

void Axes::draw_decorations() {
  Canvas& c = canvas_;
  const float fs = opt_.font_px;
  const int label_h = static_cast<int>(std::ceil(fs * 1.2f));
  c.fill_rect(inner_, opt_.background);

  if (opt_.grid && opt_.ticks) {
    for (double t : xticks_) {
      int col = tick_pixel(px(t), inner_.x, inner_.right());
      if (col >= inner_.x && col < inner_.right()) c.fill_rect(Rect{col, inner_.y, 1, inner_.h}, kGrid);
    }
    for (double t : yticks_) {
      int row = tick_pixel(py(t), inner_.y, inner_.bottom());
      if (row >= inner_.y && row < inner_.bottom()) c.fill_rect(Rect{inner_.x, row, inner_.w, 1}, kGrid);
    }
  }
  c.stroke_rect(inner_.inset(-1), kFrame);

  float ylabels_w = 0;
  if (opt_.ticks) {
    int label_top = inner_.bottom() + 1 + kTickLen + kPad;
    for (double t : xticks_) {
      float p = px(t);
      c.fill_rect(Rect{tick_pixel(p, inner_.x, inner_.right()), inner_.bottom() + 1, 1, kTickLen}, kFrame);
      draw_text(c, format_tick(t, xstep_), p, static_cast<float>(label_top), fs, opt_.text, Align::center,
                VAlign::top);
    }
    bool decades = opt_.log_y && std::log10(y_.hi / y_.lo) > 2.5;
    float label_right = static_cast<float>(inner_.x - 1 - kTickLen - kPad);
    for (double t : yticks_) {
      float p = py(t);
      c.fill_rect(Rect{inner_.x - 1 - kTickLen, tick_pixel(p, inner_.y, inner_.bottom()), kTickLen, 1}, kFrame);
      std::string s = ytick_label(t);
      ylabels_w = std::max(ylabels_w, tick_label_width(s, fs));
      draw_tick_label(c, s, label_right, p, fs, opt_.text, Align::right);
    }
    // Unlabelled minor ticks at 2..9 x 10^k when only decades carry labels.
    if (decades && std::log10(y_.hi / y_.lo) <= 8) {
      for (int d = static_cast<int>(std::floor(std::log10(y_.lo))); d <= std::ceil(std::log10(y_.hi)); ++d)
        for (int m = 2; m <= 9; ++m) {
          double v = m * std::pow(10.0, d);
          if (v < y_.lo || v > y_.hi) continue;
          c.fill_rect(Rect{inner_.x - 1 - 3, tick_pixel(py(v), inner_.y, inner_.bottom()), 3, 1}, kFrame);
        }
    }
  }

  float cx = inner_.x + 0.5f * inner_.w, cy = inner_.y + 0.5f * inner_.h;
  if (!opt_.xlabel.empty()) {
    float y = static_cast<float>(inner_.bottom() + 1 + (opt_.ticks ? kTickLen + kPad + label_h : 0) + kPad);
    draw_text(c, opt_.xlabel, cx, y, fs, opt_.text, Align::center, VAlign::top);
  }
  if (!opt_.ylabel.empty()) {
    float x = inner_.x - 1 - (opt_.ticks ? kTickLen + kPad + std::ceil(ylabels_w) : 0) - kPad - 0.5f * label_h;
    draw_text_vertical(c, opt_.ylabel, x, cy, fs, opt_.text, Align::center, VAlign::middle);
  }
  if (!opt_.title.empty())
    draw_text(c, opt_.title, cx, inner_.y - 1 - std::round(opt_.title_px * 0.6f), opt_.title_px, opt_.text,
              Align::center, VAlign::baseline);
}

void Axes::plot(const std::vector<double>& xs, const std::vector<double>& ys, RGB color, float width) {
  FC_CHECK(xs.size() == ys.size(), "Axes::plot: " << xs.size() << " x values but " << ys.size() << " y values");
  std::vector<Point> pts(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) pts[i] = to_pixel(xs[i], ys[i]);
  ClipScope clip(canvas_, inner_);
  canvas_.polyline(pts, color, width);
}

void Axes::plot(const std::vector<float>& xs, const std::vector<float>& ys, RGB color, float width) {
  plot(std::vector<double>(xs.begin(), xs.end()), std::vector<double>(ys.begin(), ys.end()), color, width);
}

void Axes::scatter(const float* xy, size_t n, RGB color, float radius, float alpha) {
  ClipScope clip(canvas_, inner_);
  for (size_t i = 0; i < n; ++i) canvas_.fill_circle(to_pixel(xy[2 * i], xy[2 * i + 1]), radius, color, alpha);
}

void Axes::legend(const std::vector<std::pair<std::string, RGB>>& entries) {
  if (entries.empty()) return;
  const float fs = opt_.font_px;
  const int row_h = static_cast<int>(std::ceil(fs * 1.45f));
  const int sample = static_cast<int>(fs * 1.6f);
  float wmax = 0;
  for (const auto& e : entries) wmax = std::max(wmax, text_width(e.first, fs));
  int w = 8 + sample + 6 + static_cast<int>(std::ceil(wmax)) + 8;
  int h = 6 + row_h * static_cast<int>(entries.size()) + 4;
  Rect box{inner_.right() - 8 - w, inner_.y + 8, w, h};
  ClipScope clip(canvas_, inner_);
  canvas_.fill_rect(box, kWhite, 0.88f);
  canvas_.stroke_rect(box, RGB{200, 200, 200});
  for (size_t i = 0; i < entries.size(); ++i) {
    float yc = box.y + 6 + row_h * (i + 0.5f);
    canvas_.line(Point{box.x + 8.f, yc}, Point{box.x + 8.f + sample, yc}, entries[i].second, 2.5f);
    draw_text(canvas_, entries[i].first, box.x + 8.f + sample + 6.f, yc, fs, opt_.text, Align::left, VAlign::middle);
  }
}

void Axes::field(const std::vector<float>& values, int rows, int cols, const Colormap& cmap, float vmin,
                 float vmax, Sampling sampling) {
  FC_CHECK(rows > 0 && cols > 0 && values.size() == static_cast<size_t>(rows) * cols,
           "Axes::field: " << values.size() << " values for a " << rows << "x" << cols << " grid");
  ClipScope clip(canvas_, inner_);
  canvas_.draw_field(values.data(), rows, cols, inner_, cmap, vmin, vmax, sampling, /*flip_rows=*/true);
}

Histogram2D Axes::hist2d(const float* xy, size_t n, int bins, const Colormap& cmap, bool log_scale) {
  Histogram2D h = histogram2d(xy, n, bins, bins, x_, y_);
  std::vector<float> shade(h.counts.size(), 0.f);
  if (h.max_count > 0) {
    float top = log_scale ? std::log1p(h.max_count) : h.max_count;
    for (size_t i = 0; i < shade.size(); ++i)
      shade[i] = (log_scale ? std::log1p(h.counts[i]) : h.counts[i]) / top;
  }
  ClipScope clip(canvas_, inner_);
  canvas_.fill_rect(inner_, cmap(0.f));
  canvas_.draw_field(shade.data(), bins, bins, inner_, cmap, 0.f, 1.f, Sampling::nearest, /*flip_rows=*/true);
  return h;
}

float Axes::quiver(const float* xy, const float* uv, size_t n, double spacing, const Colormap& cmap, float vmax) {
  FC_CHECK(spacing > 0, "Axes::quiver: spacing must be positive, got " << spacing);
  if (!(vmax > 0)) {
    vmax = 0;
    for (size_t i = 0; i < n; ++i) {
      float m = std::hypot(uv[2 * i], uv[2 * i + 1]);
      if (std::isfinite(m)) vmax = std::max(vmax, m);
    }
  }
  if (!(vmax > 0)) return 0.f;
  const double sx = inner_.w / (x_.hi - x_.lo), sy = inner_.h / (y_.hi - y_.lo);
  const float cell = static_cast<float>(spacing * std::min(sx, sy));
  // Shaft and head scale with the grid cell so that dense and sparse grids both read;
  // the head never exceeds half of a short arrow.
  const float width = std::clamp(cell * 0.08f, 1.5f, 3.5f);
  const float head = std::clamp(cell * 0.3f, 4.f, 14.f);
  const double k = 0.9 * spacing / vmax;
  ClipScope clip(canvas_, inner_);
  for (size_t i = 0; i < n; ++i) {
    float u = uv[2 * i], v = uv[2 * i + 1];
    float m = std::hypot(u, v);
    if (!std::isfinite(m)) continue;
    Point p = to_pixel(xy[2 * i], xy[2 * i + 1]);
    float dx = static_cast<float>(u * k * sx), dy = static_cast<float>(-v * k * sy);
    float len = std::hypot(dx, dy);
    RGB col = cmap(m / vmax);
    if (len < 1.f) {
      canvas_.fill_circle(p, width * 0.6f, col);
      continue;
    }
    // Centred on the grid point, so neighbouring arrows never touch.
    Point tail{p.x - 0.5f * dx, p.y - 0.5f * dy}, tip{p.x + 0.5f * dx, p.y + 0.5f * dy};
    float hl = std::min(head, 0.5f * len);
    canvas_.arrow(tail, tip, col, std::min(width, hl * 0.6f), hl, hl * 0.9f);
  }
  return vmax;
}

void Axes::colorbar(const Colormap& cmap, double vmin, double vmax, ColorScale scale) {
  FC_CHECK(opt_.colorbar, "Axes::colorbar: set AxesOptions::colorbar to keep room for the bar");
  Rect bar{inner_.right() + 1 + kBarGap, inner_.y, kBarWidth, inner_.h};
  viz::colorbar(canvas_, bar, cmap, vmin, vmax, opt_.colorbar_label, opt_.font_px, scale, opt_.text);
}

}  // namespace fc::viz
