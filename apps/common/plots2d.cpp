#include "apps/common/plots2d.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/ops.hpp"
#include "viz/canvas.hpp"
#include "viz/colormap.hpp"
#include "viz/gif.hpp"
#include "viz/plot.hpp"
#include "viz/png.hpp"
#include "viz/text.hpp"

namespace fc::app {

namespace {

const viz::RGB kInk{30, 30, 30};

std::string time_label(float t) {
  char b[32];
  std::snprintf(b, sizeof b, "t = %.2f", t);
  return b;
}

void draw_title(viz::Canvas& c, const std::string& title, float px = 22.f) {
  viz::draw_text(c, title, c.width() / 2.f, 8.f, px, kInk, viz::Align::center, viz::VAlign::top);
}

// Points of a [N, 2] tensor as the interleaved floats viz wants.
std::vector<float> interleaved(const Tensor& t) { return t.to_vector(); }

// Histogram bins for n points: fine enough to show structure, coarse enough that a
// small sample does not dissolve into single-point noise.
int hist_bins(size_t n) {
  return std::clamp(static_cast<int>(std::sqrt(static_cast<double>(n)) / 3), 60, 200);
}

}  // namespace

void plot_loss_curve(const std::string& path, const std::vector<float>& losses,
                     const std::string& title) {
  FC_CHECK(!losses.empty(), "plot_loss_curve: no losses");
  size_t n = losses.size();
  std::vector<double> xs(n), raw(n), smooth(n);
  // A centred moving average over ~1% of the run shows the trend under the noise.
  size_t w = std::max<size_t>(1, n / 100);
  std::vector<double> prefix(n + 1, 0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + losses[i];
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < n; ++i) {
    xs[i] = static_cast<double>(i + 1);
    raw[i] = losses[i];
    size_t a = i >= w ? i - w : 0, b = std::min(n, i + w + 1);
    smooth[i] = (prefix[b] - prefix[a]) / static_cast<double>(b - a);
    if (losses[i] > 0) {
      lo = std::min(lo, double(losses[i]));
      hi = std::max(hi, double(losses[i]));
    }
  }
  if (!(hi > lo)) hi = lo * 10 + 1e-12;
  viz::Canvas c(960, 540);
  viz::AxesOptions o;
  o.title = title;
  o.xlabel = "iteration";
  o.ylabel = "MSE loss";
  o.log_y = true;
  o.grid = true;
  // A one-iteration run still gets an x range (the axes refuse an empty one).
  viz::Axes ax(c, c.bounds().inset(10), viz::Range{1, double(std::max<size_t>(n, 2))},
               viz::Range{lo / 1.1, hi * 1.1}, o);
  viz::RGB faint{170, 196, 224}, bold = viz::tab10(0);
  ax.plot(xs, raw, faint, 1.f);
  ax.plot(xs, smooth, bold, 2.5f);
  ax.legend({{"per iteration", faint}, {"moving average", bold}});
  viz::write_png(path, c);
}

void plot_evolution(const std::string& path, const std::vector<Tensor>& states,
                    const std::vector<float>& times, const std::string& title, float range) {
  int panels = static_cast<int>(states.size());
  int cols = panels > 5 ? (panels + 1) / 2 : panels, rows = (panels + cols - 1) / cols;
  const int cell = 300, top = 48;
  viz::Canvas c(cols * cell + 20, rows * (cell + 10) + top + 10);
  draw_title(c, title);
  viz::Rect area{10, top, cols * cell, rows * (cell + 10)};
  for (int i = 0; i < panels; ++i) {
    viz::Rect r = viz::grid_cell(area, rows, cols, i / cols, i % cols, 6);
    viz::AxesOptions o;
    o.title = time_label(times[static_cast<size_t>(i)]);
    o.ticks = false;
    o.equal_aspect = true;
    o.background = viz::magma()(0.f);
    viz::Axes ax(c, r, viz::Range{-range, range}, viz::Range{-range, range}, o);
    std::vector<float> xy = interleaved(states[static_cast<size_t>(i)]);
    ax.hist2d(xy.data(), xy.size() / 2, hist_bins(xy.size() / 2), viz::magma(), true);
  }
  viz::write_png(path, c);
}

void write_field_gif(const std::string& path, const flow::VelocityFn& v,
                     const std::vector<Tensor>& states, const std::vector<float>& times,
                     const std::string& title, float range) {
  constexpr int kGrid = 15;
  std::vector<float> grid;
  float spacing = 2 * range / kGrid;
  for (int i = 0; i < kGrid; ++i)
    for (int j = 0; j < kGrid; ++j) {
      grid.push_back(-range + spacing * (j + 0.5f));
      grid.push_back(-range + spacing * (i + 0.5f));
    }
  Tensor gpts = Tensor::from_vector(grid, Shape{kGrid * kGrid, 2});
  // Arrow lengths are scaled per frame (the longest fills its grid cell): with one
  // scale for the whole run, the slow middle of the flow shows only dots.
  std::vector<std::vector<float>> fields;
  for (float t : times) fields.push_back(v(gpts, t).to_vector());
  const int w = 1000, h = 520, top = 44;
  viz::GifWriter gif(path, w, h, 6);
  for (size_t f = 0; f < times.size(); ++f) {
    viz::Canvas c(w, h);
    draw_title(c, title + "   " + time_label(times[f]));
    viz::Rect area{10, top, w - 20, h - top - 10};
    viz::AxesOptions o;
    o.equal_aspect = true;
    o.title = "velocity field v(x, t)";
    o.colorbar = true;
    o.colorbar_label = "|v|";
    viz::Axes left(c, viz::grid_cell(area, 1, 2, 0, 0, 10), viz::Range{-range, range},
                   viz::Range{-range, range}, o);
    float vmax = left.quiver(grid.data(), fields[f].data(), grid.size() / 2, spacing, viz::viridis());
    left.colorbar(viz::viridis(), 0, vmax);
    viz::AxesOptions s;
    s.equal_aspect = true;
    s.title = "samples x_t";
    s.background = viz::magma()(0.f);
    viz::Axes right(c, viz::grid_cell(area, 1, 2, 0, 1, 10), viz::Range{-range, range},
                    viz::Range{-range, range}, s);
    std::vector<float> xy = interleaved(states[f]);
    right.hist2d(xy.data(), xy.size() / 2, std::min(150, hist_bins(xy.size() / 2)), viz::magma(), true);
    gif.add_frame(c);
  }
  gif.close();
}

void plot_likelihood(const std::string& path, const std::vector<float>& hutchinson,
                     const std::vector<float>& exact, int n, float range, const std::string& title,
                     int probes) {
  // One colour scale for both maps: up to the highest log-density, down 12 nats (the
  // empty regions would otherwise take the whole scale).
  float hi = -INFINITY;
  for (float v : exact)
    if (std::isfinite(v)) hi = std::max(hi, v);
  for (float v : hutchinson)
    if (std::isfinite(v)) hi = std::max(hi, v);
  if (!std::isfinite(hi)) hi = 0;
  float lo = hi - 12.f;
  const int w = 1100, h = 560, top = 44;
  viz::Canvas c(w, h);
  draw_title(c, title);
  viz::Rect area{10, top, w - 20, h - top - 10};
  char hut[64];
  std::snprintf(hut, sizeof hut, "Hutchinson (%d probes)", probes);
  const std::vector<float>* maps[2] = {&hutchinson, &exact};
  const char* names[2] = {hut, "exact divergence"};
  for (int k = 0; k < 2; ++k) {
    viz::AxesOptions o;
    o.equal_aspect = true;
    o.title = names[k];
    o.colorbar = true;  // a bar beside each map keeps both panels the same size
    o.colorbar_label = "log p(x)";
    viz::Axes ax(c, viz::grid_cell(area, 1, 2, 0, k, 10), viz::Range{-range, range},
                 viz::Range{-range, range}, o);
    ax.field(*maps[k], n, n, viz::viridis(), lo, hi, viz::Sampling::bilinear);
    ax.colorbar(viz::viridis(), lo, hi);
  }
  viz::write_png(path, c);
}

}  // namespace fc::app
