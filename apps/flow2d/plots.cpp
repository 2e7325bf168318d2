#include "apps/flow2d/plots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/cancel.hpp"
#include "engine/error.hpp"
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

viz::Range x_range(const data::PlotSquare& sq) { return viz::Range{sq.x_lo, sq.x_hi}; }
viz::Range y_range(const data::PlotSquare& sq) { return viz::Range{sq.y_lo, sq.y_hi}; }

}  // namespace

void plot_evolution(const std::string& path, const std::vector<Tensor>& states,
                    const std::vector<float>& times, const std::string& title, const data::PlotSquare& square) {
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
    viz::Axes ax(c, r, x_range(square), y_range(square), o);
    std::vector<float> xy = interleaved(states[static_cast<size_t>(i)]);
    ax.hist2d(xy.data(), xy.size() / 2, hist_bins(xy.size() / 2), viz::magma(), true);
  }
  viz::write_png(path, c);
}

namespace {

constexpr int kFieldGrid = 15;

// The spacing of the 15 x 15 grid of arrows over the (square) plot.
float field_spacing(const data::PlotSquare& square) { return (square.x_hi - square.x_lo) / kFieldGrid; }

// The arrow positions, interleaved.
std::vector<float> field_grid(const data::PlotSquare& square) {
  std::vector<float> grid;
  const float spacing = field_spacing(square);
  for (int i = 0; i < kFieldGrid; ++i)
    for (int j = 0; j < kFieldGrid; ++j) {
      grid.push_back(square.x_lo + spacing * (j + 0.5f));
      grid.push_back(square.y_lo + spacing * (i + 0.5f));
    }
  return grid;
}

// Arrows of one field, coloured by speed, with a colour bar. Arrow lengths are scaled
// per frame (the longest fills its grid cell): with one scale for the whole run, the
// slow middle of the flow shows only dots.
void field_panel(viz::Canvas& c, const viz::Rect& r, const std::vector<float>& grid,
                 const std::vector<float>& field, const data::PlotSquare& square, const std::string& title) {
  viz::AxesOptions o;
  o.equal_aspect = true;
  o.title = title;
  o.colorbar = true;
  o.colorbar_label = "|v|";
  viz::Axes ax(c, r, x_range(square), y_range(square), o);
  float vmax = ax.quiver(grid.data(), field.data(), grid.size() / 2, field_spacing(square), viz::viridis());
  ax.colorbar(viz::viridis(), 0, vmax);
}

// The histogram of the samples at one time; with `trails`, the paths of a few points
// so far (trails[k] holds every trajectory's position at frame k, interleaved).
void samples_panel(viz::Canvas& c, const viz::Rect& r, const Tensor& states, const data::PlotSquare& square,
                   const std::string& title, bool colorbar_room,
                   const std::vector<std::vector<float>>* trails = nullptr) {
  viz::AxesOptions s;
  s.equal_aspect = true;
  s.title = title;
  s.background = viz::magma()(0.f);
  s.colorbar = colorbar_room;  // keeps this panel the size of a field panel beside it
  viz::Axes ax(c, r, x_range(square), y_range(square), s);
  std::vector<float> xy = interleaved(states);
  ax.hist2d(xy.data(), xy.size() / 2, std::min(150, hist_bins(xy.size() / 2)), viz::magma(), true);
  if (!trails || trails->empty()) return;
  size_t paths = trails->front().size() / 2;
  const viz::RGB trail{120, 220, 255};
  for (size_t p = 0; p < paths; ++p) {
    std::vector<double> xs, ys;
    for (const auto& frame : *trails) {
      xs.push_back(frame[2 * p]);
      ys.push_back(frame[2 * p + 1]);
    }
    ax.plot(xs, ys, trail, 1.f);
  }
}

}  // namespace

void write_field_gif(const std::string& path, const flow::VelocityFn& v,
                     const std::vector<Tensor>& states, const std::vector<float>& times,
                     const std::string& title, const data::PlotSquare& square) {
  std::vector<float> grid = field_grid(square);
  Tensor gpts = Tensor::from_vector(grid, Shape{kFieldGrid * kFieldGrid, 2});
  const int w = 1000, h = 520, top = 44;
  viz::GifWriter gif(path, w, h, 6);
  for (size_t f = 0; f < times.size(); ++f) {
    cancellation_point();  // a signal stops the frames (apps/cli/interrupt.hpp)
    viz::Canvas c(w, h);
    draw_title(c, title + "   " + time_label(times[f]));
    viz::Rect area{10, top, w - 20, h - top - 10};
    field_panel(c, viz::grid_cell(area, 1, 2, 0, 0, 10), grid, v(gpts, times[f]).to_vector(), square,
                "velocity field v(x, t)");
    samples_panel(c, viz::grid_cell(area, 1, 2, 0, 1, 10), states[f], square, "samples x_t", false);
    gif.add_frame(c);
  }
  gif.close();
}

void write_comparison_gif(const std::string& path, const std::vector<FlowPanel>& flows,
                          const std::vector<float>& times, const std::string& title, const data::PlotSquare& square,
                          int trails) {
  FC_CHECK(!flows.empty(), "write_comparison_gif: no flows");
  std::vector<float> grid = field_grid(square);
  Tensor gpts = Tensor::from_vector(grid, Shape{kFieldGrid * kFieldGrid, 2});
  const int cols = static_cast<int>(flows.size());
  const int w = 20 + cols * 470, h = 44 + 2 * 430 + 10, top = 44;
  viz::GifWriter gif(path, w, h, 6);
  // The first `trails` points of every flow start at the same x0 (the caller's
  // contract), so their paths compare one to one.
  std::vector<std::vector<std::vector<float>>> paths(flows.size());
  for (size_t f = 0; f < times.size(); ++f) {
    cancellation_point();  // a signal stops the frames (apps/cli/interrupt.hpp)
    viz::Canvas c(w, h);
    draw_title(c, title + "   " + time_label(times[f]));
    viz::Rect area{10, top, w - 20, h - top - 10};
    for (int k = 0; k < cols; ++k) {
      const FlowPanel& fp = flows[static_cast<size_t>(k)];
      const Tensor& st = fp.states[f];
      int64_t n = std::min<int64_t>(trails, st.dim(0));
      auto& pk = paths[static_cast<size_t>(k)];
      if (n > 0) pk.push_back(slice(st, 0, 0, n).to_vector());
      samples_panel(c, viz::grid_cell(area, 2, cols, 0, k, 10), st, square, fp.name + ": samples x_t", true,
                    &pk);
      field_panel(c, viz::grid_cell(area, 2, cols, 1, k, 10), grid, fp.velocity(gpts, times[f]).to_vector(),
                  square, fp.name + ": velocity field");
    }
    gif.add_frame(c);
  }
  gif.close();
}

void plot_few_step_quality(const std::string& path, const std::vector<QualityCurve>& curves,
                           const std::string& title, double noise) {
  FC_CHECK(!curves.empty(), "plot_few_step_quality: no curves");
  FC_CHECK(noise > 0, "plot_few_step_quality: the noise level must be positive, got " << noise);
  bool squares = !curves.front().in_square.empty();
  double lo = noise, hi = noise, xmax = 1;
  for (const QualityCurve& q : curves)
    for (size_t i = 0; i < q.steps.size(); ++i) {
      hi = std::max(hi, q.energy_distance[i]);
      xmax = std::max(xmax, q.steps[i]);
    }
  if (!(hi > lo)) hi = lo * 10;
  const int w = squares ? 1200 : 700, h = 500, top = 44;
  viz::Canvas c(w, h);
  draw_title(c, title);
  viz::Rect area{10, top, w - 20, h - top - 10};
  std::vector<double> ticks;
  for (const QualityCurve& q : curves)
    for (double s : q.steps)
      if (std::find(ticks.begin(), ticks.end(), s) == ticks.end()) ticks.push_back(s);
  std::sort(ticks.begin(), ticks.end());
  std::vector<std::pair<std::string, viz::RGB>> legend;
  for (size_t k = 0; k < curves.size(); ++k) {
    char b[96];
    std::snprintf(b, sizeof b, "%s (S = %.3g)", curves[k].name.c_str(), curves[k].straightness);
    legend.push_back({b, viz::tab10(static_cast<int>(k))});
  }
  const viz::RGB gray{140, 140, 140};
  legend.push_back({"noise: data vs data", gray});
  for (int panel = 0; panel < (squares ? 2 : 1); ++panel) {
    viz::AxesOptions o;
    o.log_x = true;
    o.xtick_values = ticks;
    o.grid = true;
    o.xlabel = "Euler steps";
    o.ylabel = panel == 0 ? "energy distance to data (lower is better)" : "fraction inside the squares";
    o.log_y = panel == 0;
    viz::Range yr = panel == 0 ? viz::Range{lo / 1.5, hi * 1.5} : viz::Range{0.4, 1.0};
    viz::Axes ax(c, viz::grid_cell(area, 1, squares ? 2 : 1, 0, panel, 20), viz::Range{0.85, xmax * 1.15}, yr, o);
    if (panel == 0) {  // the noise level as a dashed line
      for (double x = 0.85; x < xmax * 1.15; x *= 1.12)
        ax.plot(std::vector<double>{x, x * 1.06}, std::vector<double>{noise, noise}, gray, 1.5f);
    }
    for (size_t k = 0; k < curves.size(); ++k) {
      const QualityCurve& q = curves[k];
      std::vector<double> ys = panel == 0 ? q.energy_distance : q.in_square;
      if (panel == 0)
        for (double& y : ys) y = std::max(y, noise);
      ax.plot(q.steps, ys, viz::tab10(static_cast<int>(k)), 2.5f);
      std::vector<float> xy;
      for (size_t i = 0; i < q.steps.size(); ++i) {
        xy.push_back(static_cast<float>(q.steps[i]));
        xy.push_back(static_cast<float>(ys[i]));
      }
      ax.scatter(xy.data(), xy.size() / 2, viz::tab10(static_cast<int>(k)), 4.f, 1.f);
    }
    if (panel == 0) ax.legend(legend);  // the colours are the same in both panels
  }
  viz::write_png(path, c);
}

void plot_likelihood(const std::string& path, const std::vector<float>& hutchinson,
                     const std::vector<float>& exact, int n, const data::PlotSquare& square, const std::string& title,
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
    viz::Axes ax(c, viz::grid_cell(area, 1, 2, 0, k, 10), x_range(square), y_range(square), o);
    ax.field(*maps[k], n, n, viz::viridis(), lo, hi, viz::Sampling::bilinear);
    ax.colorbar(viz::viridis(), lo, hi);
  }
  viz::write_png(path, c);
}

}  // namespace fc::app
