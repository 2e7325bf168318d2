#include "apps/train/losses.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.hpp"
#include "engine/file_io.hpp"
#include "viz/canvas.hpp"
#include "viz/colormap.hpp"
#include "viz/plot.hpp"
#include "viz/png.hpp"

namespace fc::app {

void write_losses_csv(const std::string& path, const std::vector<float>& losses) {
  std::ostringstream os;
  os << "iteration,loss\n";
  for (size_t i = 0; i < losses.size(); ++i) os << i + 1 << ',' << losses[i] << '\n';
  io::atomic_write_text(path, os.str());
}

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

}  // namespace fc::app
