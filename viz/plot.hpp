#pragma once
// A small plotting layer on a Canvas. An Axes owns a panel rectangle: it lays out
// margins for the title, tick labels and axis labels, draws all of them at once, and
// then maps data to pixels for the plots drawn into it. Data are clipped to the frame.
//
//   viz::Canvas c(800, 500);
//   viz::AxesOptions o; o.title = "loss"; o.xlabel = "step"; o.log_y = true;
//   viz::Axes ax(c, c.bounds(), {0, 1000}, viz::padded_range(loss, 0.05, true), o);
//   ax.plot(steps, loss, viz::tab10(0));
#include <string>
#include <utility>
#include <vector>

#include "viz/canvas.hpp"
#include "viz/colormap.hpp"
#include "viz/histogram.hpp"
#include "viz/ticks.hpp"

namespace fc::viz {

struct AxesOptions {
  std::string title, xlabel, ylabel;
  bool log_y = false;
  bool log_x = false;
  std::vector<double> xtick_values;  // explicit x ticks (e.g. 1 2 4 8 20 on a log axis)
  bool grid = false;          // light lines at the ticks, under the data
  bool ticks = true;          // false: no ticks or tick labels (image panels)
  bool equal_aspect = false;  // same pixels per unit on both axes (2-D densities, fields)
  bool colorbar = false;      // keep room on the right for colorbar()
  std::string colorbar_label;
  float font_px = 14.f;   // tick labels, axis labels
  float title_px = 17.f;
  RGB background = kWhite;  // inside the frame
  RGB text = RGB{30, 30, 30};
};

// The scale of a colour bar: linear, or log(1 + v) for counts (0, 1, 10, 100, ...).
enum class ColorScale { linear, log1p };

class Axes {
 public:
  // Draws the panel: background, grid, frame, ticks, labels, title.
  Axes(Canvas& canvas, const Rect& panel, Range x, Range y, AxesOptions options = {});

  const Rect& inner() const { return inner_; }  // the data area, inside the frame
  Range x_range() const { return x_; }
  Range y_range() const { return y_; }
  float px(double x) const;  // data -> pixel column (continuous)
  float py(double y) const;  // data -> pixel row; NaN for y <= 0 on a log axis
  Point to_pixel(double x, double y) const { return Point{px(x), py(y)}; }

  // Line through (xs[i], ys[i]); non-finite values break it.
  void plot(const std::vector<double>& xs, const std::vector<double>& ys, RGB color,
            float width = 2.f);
  void plot(const std::vector<float>& xs, const std::vector<float>& ys, RGB color,
            float width = 2.f);
  // Dots at n points, xy interleaved.
  void scatter(const float* xy, size_t n, RGB color, float radius = 1.5f, float alpha = 0.7f);
  // A boxed legend in the top-right corner: a line sample and a name per entry.
  void legend(const std::vector<std::pair<std::string, RGB>>& entries);

  // Heatmap of a rows x cols grid covering the axes' ranges; row 0 is the smallest y.
  void field(const std::vector<float>& values, int rows, int cols, const Colormap& cmap,
             float vmin, float vmax, Sampling sampling = Sampling::bilinear);
  // 2-D histogram of n points over the axes' ranges in bins x bins cells, shaded by
  // count (log(1 + count) when log_scale) on the colormap's zero colour. Returns it, so
  // that colorbar(cm, 0, h.max_count, ColorScale::log1p) can label it.
  Histogram2D hist2d(const float* xy, size_t n, int bins, const Colormap& cmap,
                     bool log_scale = true);
  // Arrows (u, v) at points (x, y), both interleaved, coloured by length through cmap.
  // The longest arrow (or vmax, when > 0) is 0.9 * spacing long, spacing being the grid
  // step in data units. Returns the magnitude that maps to the top of the colormap.
  float quiver(const float* xy, const float* uv, size_t n, double spacing, const Colormap& cmap,
               float vmax = 0.f);
  // Colour bar right of the frame, in the room kept by AxesOptions::colorbar.
  void colorbar(const Colormap& cmap, double vmin, double vmax,
                ColorScale scale = ColorScale::linear);

 private:
  void draw_decorations();
  std::string ytick_label(double v) const;
  Canvas& canvas_;
  Rect panel_, inner_;
  Range x_, y_;
  AxesOptions opt_;
  std::vector<double> xticks_, yticks_;
  double xstep_ = 1, ystep_ = 1;
};

// A vertical colour bar in `bar` (vmax at the top) with ticks and labels to its right
// and an optional label (turned 90 degrees) beyond them.
void colorbar(Canvas& canvas, const Rect& bar, const Colormap& cmap, double vmin, double vmax,
              const std::string& label = "", float font_px = 14.f,
              ColorScale scale = ColorScale::linear, RGB text = RGB{30, 30, 30});
// Width that colorbar() needs right of the bar for labels of about `chars` characters.
int colorbar_label_room(float font_px, bool has_label, int chars = 5);

// Cell (row, col) of a rows x cols grid of panels in `area`, `gap` pixels apart.
Rect grid_cell(const Rect& area, int rows, int cols, int row, int col, int gap = 0);

}  // namespace fc::viz
