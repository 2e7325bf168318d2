// colorbar() and colorbar_label_room() from plot.hpp: a vertical gradient with ticks.
#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "viz/plot.hpp"
#include "viz/text.hpp"
#include "viz/tick_label.hpp"

namespace fc::viz {

namespace {

constexpr int kTickLen = 4;
constexpr int kLabelPad = 3;

// Ticks 0, 1, 10, 100, ... (with 2 and 5 between when there are few decades).
std::vector<double> log1p_ticks(double vmax) {
  std::vector<double> t{0.0};
  if (vmax < 1) return t;
  int decades = static_cast<int>(std::floor(std::log10(vmax)));
  for (int d = 0; d <= decades; ++d)
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && decades > 2) continue;
      double v = m * std::pow(10.0, d);
      if (v <= vmax * (1 + 1e-9)) t.push_back(v);
    }
  return t;
}

}  // namespace

int colorbar_label_room(float font_px, bool has_label, int chars) {
  float w = kTickLen + kLabelPad + text_width(std::string(static_cast<size_t>(std::max(chars, 1)), '0'), font_px) + 4;
  if (has_label) w += 6 + font_px * 1.2f;
  return static_cast<int>(std::ceil(w));
}

void colorbar(Canvas& canvas, const Rect& bar, const Colormap& cmap, double vmin, double vmax,
              const std::string& label, float font_px, ColorScale scale, RGB text) {
  FC_CHECK(!bar.empty(), "colorbar: empty bar rectangle " << bar.w << "x" << bar.h);
  FC_CHECK(std::isfinite(vmin) && std::isfinite(vmax), "colorbar: range [" << vmin << ", " << vmax << "] is not finite");
  if (scale == ColorScale::log1p) vmin = 0;
  if (!(vmax > vmin)) vmax = vmin + 1;  // a constant field still gets a readable bar
  for (int y = bar.y; y < bar.bottom(); ++y) {
    float t = 1.f - (static_cast<float>(y - bar.y) + 0.5f) / bar.h;
    canvas.fill_rect(Rect{bar.x, y, bar.w, 1}, cmap(t));
  }
  const RGB frame{70, 70, 70};
  canvas.stroke_rect(bar.inset(-1), frame);

  auto pos = [&](double v) {
    double t = scale == ColorScale::log1p ? std::log1p(v) / std::log1p(vmax) : (v - vmin) / (vmax - vmin);
    return static_cast<float>(bar.bottom() - t * bar.h);
  };
  std::vector<double> ticks;
  double step = 1;
  if (scale == ColorScale::log1p) {
    ticks = log1p_ticks(vmax);
  } else {
    // Sparser than an axis: a bar is read for its range, not for exact values.
    int target = std::clamp(static_cast<int>(bar.h / (font_px * 4.5f)), 2, 8);
    ticks = nice_ticks(vmin, vmax, target);
    step = nice_step(vmin, vmax, target);
  }
  // Drop ticks that would crowd the previous label.
  const float min_gap = font_metrics(font_px).cap_height * 2.f;
  float last = 1e30f, widest = 0;
  int lx = bar.right() + 1 + kTickLen + kLabelPad;
  for (double v : ticks) {
    float p = pos(v);
    if (std::fabs(last - p) < min_gap) continue;
    last = p;
    // Stretched by a pixel so that the end ticks land on the frame (see plot.cpp).
    float frac = (p - bar.y) / bar.h;
    int row = std::clamp(static_cast<int>(std::floor(bar.y - 1 + frac * (bar.h + 1) + 0.5f)), bar.y - 1, bar.bottom());
    canvas.fill_rect(Rect{bar.right() + 1, row, kTickLen, 1}, frame);
    std::string s = scale == ColorScale::log1p ? (v == 0 ? std::string("0") : format_log_tick(v, v >= 1e5))
                                               : format_tick(v, step);
    widest = std::max(widest, tick_label_width(s, font_px));
    draw_tick_label(canvas, s, static_cast<float>(lx), p, font_px, text, Align::left);
  }
  if (!label.empty())
    draw_text_vertical(canvas, label, lx + std::ceil(widest) + 6 + 0.6f * font_px, bar.y + 0.5f * bar.h, font_px,
                       text, Align::center, VAlign::middle);
}

}  // namespace fc::viz
