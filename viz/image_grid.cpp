#include "viz/image_grid.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"
#include "viz/text.hpp"

namespace fc::viz {

namespace {

uint8_t to_byte(float v) {
  v = std::min(1.f, std::max(-1.f, v));
  return static_cast<uint8_t>(std::lround((v + 1.f) * 127.5f));
}

int title_height(bool titles, const GridStyle& s) {
  return titles ? static_cast<int>(std::ceil(font_metrics(s.title_px).line_height)) + 2 : 0;
}

void check_images(const Tensor& images, int64_t columns) {
  FC_CHECK(images.ndim() == 4 && (images.dim(1) == 1 || images.dim(1) == 3),
           "image grid: expected images [N, 1 or 3, H, W], got " << images.shape());
  FC_CHECK(columns >= 1, "image grid: columns must be positive, got " << columns);
}

}  // namespace

Rect image_grid_size(const Tensor& images, int64_t columns, bool titles, const GridStyle& s) {
  check_images(images, columns);
  const int64_t n = images.dim(0), rows = (n + columns - 1) / columns;
  const int cw = static_cast<int>(images.dim(3)) * s.scale, ch = static_cast<int>(images.dim(2)) * s.scale;
  int w = static_cast<int>(columns) * cw + static_cast<int>(columns - 1) * s.gap;
  int h = static_cast<int>(rows) * ch + static_cast<int>(rows > 0 ? rows - 1 : 0) * s.gap;
  return Rect{0, 0, w, h + title_height(titles, s)};
}

Rect draw_image_grid(Canvas& canvas, int x, int y, const Tensor& images, int64_t columns,
                     const std::vector<std::string>& titles, const GridStyle& s) {
  Rect size = image_grid_size(images, columns, !titles.empty(), s);
  const int64_t n = images.dim(0), c = images.dim(1), h = images.dim(2), w = images.dim(3);
  const int cw = static_cast<int>(w) * s.scale, chh = static_cast<int>(h) * s.scale;
  const int top = y + title_height(!titles.empty(), s);
  for (size_t col = 0; col < titles.size() && static_cast<int64_t>(col) < columns; ++col)
    draw_text(canvas, titles[col], x + static_cast<float>(col) * (cw + s.gap) + cw / 2.f,
              static_cast<float>(top - 3), s.title_px, kBlack, Align::center, VAlign::bottom);
  std::vector<float> v = images.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    int ox = x + static_cast<int>(i % columns) * (cw + s.gap);
    int oy = top + static_cast<int>(i / columns) * (chh + s.gap);
    const float* img = v.data() + i * c * h * w;
    for (int64_t py = 0; py < h; ++py)
      for (int64_t px = 0; px < w; ++px) {
        RGB col;
        if (c == 1) {
          uint8_t g = to_byte(img[py * w + px]);
          col = RGB{g, g, g};
        } else {
          col = RGB{to_byte(img[py * w + px]), to_byte(img[(h + py) * w + px]),
                    to_byte(img[(2 * h + py) * w + px])};
        }
        canvas.fill_rect(Rect{ox + static_cast<int>(px) * s.scale, oy + static_cast<int>(py) * s.scale,
                              s.scale, s.scale},
                         col);
      }
  }
  return Rect{x, y, size.w, size.h};
}

Canvas image_grid(const Tensor& images, int64_t columns, const std::vector<std::string>& titles,
                  const GridStyle& s) {
  Rect size = image_grid_size(images, columns, !titles.empty(), s);
  Canvas canvas(size.w + 2 * s.margin, size.h + 2 * s.margin, s.background);
  draw_image_grid(canvas, s.margin, s.margin, images, columns, titles, s);
  return canvas;
}

}  // namespace fc::viz
