#pragma once
// Image batches as pictures: a grid of [N, C, H, W] images in [-1, 1] (C = 1 gray or
// 3 RGB), optionally with a title above each column (the class names), and two grids
// side by side with captions (the trajectory GIF's frames).
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "viz/canvas.hpp"

namespace fc::viz {

struct GridStyle {
  int scale = 2;       // each image pixel becomes scale x scale canvas pixels
  int gap = 2;         // pixels between images
  int margin = 8;      // around the grid
  RGB background{255, 255, 255};
  float title_px = 13.f;
};

// Images in row-major order, `columns` per row; titles (one per column, may be empty)
// go above the columns. Values are clamped to [-1, 1] and mapped to 0..255.
Canvas image_grid(const Tensor& images, int64_t columns, const std::vector<std::string>& titles = {},
                  const GridStyle& style = {});

// Draws the same grid onto an existing canvas with its top-left at (x, y); returns the
// size the grid takes (what image_grid's canvas would be, without the margin).
Rect draw_image_grid(Canvas& canvas, int x, int y, const Tensor& images, int64_t columns,
                     const std::vector<std::string>& titles, const GridStyle& style);

// The size of that grid, to lay out a canvas before drawing.
Rect image_grid_size(const Tensor& images, int64_t columns, bool titles, const GridStyle& style);

}  // namespace fc::viz
