#include "apps/image/plots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.hpp"
#include "viz/gif.hpp"
#include "viz/image_grid.hpp"
#include "viz/plot.hpp"
#include "viz/png.hpp"
#include "viz/text.hpp"

namespace fc::app {

namespace {

constexpr float kCaptionPx = 16.f;
constexpr int kCaptionHeight = 30;

// Small images get larger pixels so that a 28x28 digit stays legible.
viz::GridStyle grid_style(const Tensor& images) {
  viz::GridStyle s;
  s.scale = images.dim(3) <= 32 ? 2 : 1;
  s.title_px = 12.f;
  return s;
}

// Class names are cut to what fits above a column.
std::vector<std::string> fitted_titles(const std::vector<std::string>& titles, float width, float px) {
  std::vector<std::string> out;
  for (std::string t : titles) {
    while (t.size() > 1 && viz::text_width(t, px) > width) t.pop_back();
    out.push_back(t);
  }
  return out;
}

}  // namespace

void write_sample_grid(const std::string& path, const Tensor& images, int64_t columns,
                       const std::vector<std::string>& titles, const std::string& caption) {
  viz::GridStyle s = grid_style(images);
  auto t = fitted_titles(titles, static_cast<float>(images.dim(3) * s.scale + s.gap), s.title_px);
  viz::Rect size = viz::image_grid_size(images, columns, !t.empty(), s);
  viz::Canvas canvas(size.w + 2 * s.margin, size.h + 2 * s.margin + kCaptionHeight);
  viz::draw_text(canvas, caption, canvas.width() / 2.f, kCaptionHeight / 2.f + 2, kCaptionPx,
                 viz::kBlack, viz::Align::center, viz::VAlign::middle);
  viz::draw_image_grid(canvas, s.margin, s.margin + kCaptionHeight, images, columns, t, s);
  viz::write_png(path, canvas);
}

void write_labelled_rows(const std::string& path, const std::vector<Tensor>& rows,
                         const std::vector<std::string>& row_labels, const std::vector<std::string>& titles,
                         const std::string& caption) {
  FC_CHECK(!rows.empty() && rows.size() == row_labels.size(), path << ": " << rows.size() << " rows for "
                                                                    << row_labels.size() << " labels");
  viz::GridStyle s = grid_style(rows[0]);
  const int64_t columns = rows[0].dim(0);
  auto t = fitted_titles(titles, static_cast<float>(rows[0].dim(3) * s.scale + s.gap), s.title_px);
  constexpr float kLabelPx = 12.f;
  float label_w = 0;
  for (const std::string& l : row_labels) label_w = std::max(label_w, viz::text_width(l, kLabelPx));
  const int left = static_cast<int>(label_w) + 10;
  const viz::Rect first = viz::image_grid_size(rows[0], columns, !t.empty(), s);
  const viz::Rect other = viz::image_grid_size(rows[0], columns, false, s);
  const int h = first.h + static_cast<int>(rows.size() - 1) * (other.h + s.gap);
  const int width = std::max(left + first.w, static_cast<int>(viz::text_width(caption, kCaptionPx)) + 4);
  viz::Canvas canvas(width + 2 * s.margin, h + 2 * s.margin + kCaptionHeight);
  viz::draw_text(canvas, caption, canvas.width() / 2.f, kCaptionHeight / 2.f + 2, kCaptionPx, viz::kBlack,
                 viz::Align::center, viz::VAlign::middle);
  int y = s.margin + kCaptionHeight;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::vector<std::string> none;
    viz::Rect drawn = viz::draw_image_grid(canvas, s.margin + left, y, rows[r], columns, r == 0 ? t : none, s);
    const int image_h = static_cast<int>(rows[r].dim(2)) * s.scale;
    viz::draw_text(canvas, row_labels[r], static_cast<float>(s.margin + left - 6), y + drawn.h - image_h / 2.f,
                   kLabelPx, viz::kBlack, viz::Align::right, viz::VAlign::middle);
    y += drawn.h + s.gap;
  }
  viz::write_png(path, canvas);
}

void write_trajectory_gif(const std::string& path, const std::vector<Tensor>& states,
                          const std::vector<float>& times, int64_t columns,
                          const std::vector<std::string>& titles, const std::string& caption,
                          int fps) {
  const Tensor& last = states.back();
  viz::GridStyle s = grid_style(last);
  auto t = fitted_titles(titles, static_cast<float>(last.dim(3) * s.scale + s.gap), s.title_px);
  viz::Rect size = viz::image_grid_size(last, columns, !t.empty(), s);
  const int gap = 24;
  const int w = 2 * size.w + gap + 2 * s.margin, h = size.h + 2 * s.margin + 2 * kCaptionHeight;
  viz::GifWriter gif(path, w, h, std::max(1, 100 / std::max(1, fps)));
  // The left half (the final samples) is the same in every frame: draw it once.
  viz::Canvas base(w, h);
  viz::draw_text(base, caption, w / 2.f, kCaptionHeight / 2.f + 2, kCaptionPx, viz::kBlack,
                 viz::Align::center, viz::VAlign::middle);
  viz::draw_text(base, "final samples (t = 1)", s.margin + size.w / 2.f, 1.5f * kCaptionHeight + 2,
                 13.f, viz::kBlack, viz::Align::center, viz::VAlign::middle);
  viz::draw_image_grid(base, s.margin, s.margin + 2 * kCaptionHeight, last, columns, t, s);
  for (size_t i = 0; i < states.size(); ++i) {
    viz::Canvas frame = base;
    char label[48];
    std::snprintf(label, sizeof label, "t = %.2f", static_cast<double>(times[i]));
    viz::draw_text(frame, label, s.margin + size.w + gap + size.w / 2.f, 1.5f * kCaptionHeight + 2, 13.f,
                   viz::kBlack, viz::Align::center, viz::VAlign::middle);
    viz::draw_image_grid(frame, s.margin + size.w + gap, s.margin + 2 * kCaptionHeight, states[i],
                         columns, t, s);
    gif.add_frame(frame);
  }
  gif.close();
}

void plot_guidance_sweep(const std::string& path, const std::vector<double>& w, const std::vector<double>& accuracy,
                         const std::vector<double>& frechet, double frechet_floor, const std::string& title) {
  FC_CHECK(!w.empty() && accuracy.size() == w.size() && frechet.size() == w.size(),
           path << ": " << w.size() << " guidance values for " << accuracy.size() << " and " << frechet.size()
                << " numbers");
  // Left to right in w, whatever order the values came in.
  std::vector<size_t> order(w.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w[a] < w[b]; });
  std::vector<double> xs, panel[2];
  for (size_t i : order) {
    xs.push_back(w[i]);
    panel[0].push_back(accuracy[i]);
    panel[1].push_back(frechet[i]);
  }
  // One value still gets an x range (the axes refuse an empty one).
  const double pad = xs.back() > xs.front() ? 0.05 * (xs.back() - xs.front()) : 0.5;
  const viz::Range xr{xs.front() - pad, xs.back() + pad};
  const int width = 1100, height = 480, top = 44;
  viz::Canvas c(width, height);
  viz::draw_text(c, title, width / 2.f, 8.f, 20.f, viz::RGB{30, 30, 30}, viz::Align::center, viz::VAlign::top);
  const viz::Rect area{10, top, width - 20, height - top - 10};
  const viz::RGB gray{140, 140, 140};
  for (int k = 0; k < 2; ++k) {
    viz::AxesOptions o;
    o.grid = true;
    o.xlabel = "guidance scale w";
    o.ylabel = k == 0 ? "conditional accuracy (higher is better)" : "Fréchet distance (lower is better)";
    std::vector<double> ys;  // what the range must show (non-finite values break the line instead)
    for (double y : panel[k])
      if (std::isfinite(y)) ys.push_back(y);
    if (k == 1 && std::isfinite(frechet_floor)) ys.push_back(frechet_floor);
    if (ys.empty()) ys.push_back(0);
    viz::Range yr = k == 0 ? viz::Range{0, 1.02} : viz::padded_range(ys, 0.08);
    viz::Axes ax(c, viz::grid_cell(area, 1, 2, 0, k, 20), xr, yr, o);
    if (k == 1) {  // the test set against itself, dashed
      const double dash = (xr.hi - xr.lo) / 60;
      for (double x = xr.lo; x < xr.hi; x += 2 * dash)
        ax.plot(std::vector<double>{x, std::min(x + dash, xr.hi)}, std::vector<double>{frechet_floor, frechet_floor},
                gray, 1.5f);
    }
    ax.plot(xs, panel[k], viz::tab10(k), 2.5f);
    std::vector<float> xy;
    for (size_t i = 0; i < xs.size(); ++i) {
      xy.push_back(static_cast<float>(xs[i]));
      xy.push_back(static_cast<float>(panel[k][i]));
    }
    ax.scatter(xy.data(), xy.size() / 2, viz::tab10(k), 4.f, 1.f);
    if (k == 1) ax.legend({{"generated vs test", viz::tab10(1)}, {"test vs test", gray}});
  }
  viz::write_png(path, c);
}

}  // namespace fc::app
