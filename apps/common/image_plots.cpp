#include "apps/common/image_plots.hpp"

#include <algorithm>
#include <cstdio>

#include "viz/gif.hpp"
#include "viz/image_grid.hpp"
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

}  // namespace fc::app
