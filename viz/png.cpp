#include "viz/png.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "engine/error.hpp"

namespace fc::viz {

namespace {

Image read_with_channels(const std::string& path, int channels) {
  int w = 0, h = 0, file_channels = 0;
  // stb_image keeps its failure reason in a global; it is only a hint in our message.
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load(path.c_str(), &w, &h, &file_channels, channels), stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    FC_THROW(path << ": cannot read image (" << (why ? why : "unknown error") << ")");
  }
  FC_CHECK(w > 0 && h > 0, path << ": image has no pixels");
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  size_t n = static_cast<size_t>(w) * h * channels;
  img.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) img.pixels[i] = static_cast<float>(data.get()[i]) / 255.f;
  return img;
}

}  // namespace

void write_png(const std::string& path, const Canvas& canvas) {
  FC_CHECK(canvas.width() > 0 && canvas.height() > 0, path << ": cannot write an empty canvas");
  errno = 0;
  int ok = stbi_write_png(path.c_str(), canvas.width(), canvas.height(), 3, canvas.pixels().data(),
                          canvas.width() * 3);
  if (!ok) {
    int err = errno;
    FC_THROW(path << ": cannot write PNG" << (err ? std::string(" (") + std::strerror(err) + ")" : ""));
  }
}

Image read_png_gray(const std::string& path) { return read_with_channels(path, 1); }

Image read_image(const std::string& path) { return read_with_channels(path, 3); }

}  // namespace fc::viz
