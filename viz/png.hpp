#pragma once
// PNG output (stb_image_write) and image input (stb_image: PNG, JPEG, BMP, ...).
#include <string>
#include <vector>

#include "viz/canvas.hpp"

namespace fc::viz {

// Throws fc::Error naming the path when the file cannot be written.
void write_png(const std::string& path, const Canvas& canvas);

// Pixels as floats in [0, 1], row-major, `channels` values per pixel.
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<float> pixels;
};

// One channel (luma when the file is in colour). Throws naming the file when it is
// missing, truncated or not an image.
Image read_png_gray(const std::string& path);
// Three channels, RGB (grey files are expanded).
Image read_image(const std::string& path);

}  // namespace fc::viz
