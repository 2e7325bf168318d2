#pragma once
// Animated GIF writer (giflib). One global palette serves every frame, so frames are
// kept in memory (3 bytes per pixel each) until close() builds the palette from all of
// them and encodes. Each frame after the first stores only the rectangle that changed,
// with unchanged pixels transparent, which keeps plot animations small.
#include <cstdint>
#include <string>
#include <vector>

#include "viz/canvas.hpp"

struct GifFileType;

namespace fc::viz {

class GifWriter {
 public:
  GifWriter() = default;
  // Same as open().
  GifWriter(const std::string& path, int width, int height, int delay_centiseconds);
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;
  // Finishes the file if close() was not called; errors there are lost, so call close().
  ~GifWriter();

  // Creates the file now (so a bad path fails early); the animation loops forever.
  void open(const std::string& path, int width, int height, int delay_centiseconds);
  // The frame must be width x height; delay_centiseconds < 0 uses the default delay.
  void add_frame(const Canvas& frame, int delay_centiseconds = -1);
  // Builds the palette, writes every frame and closes the file. Throws naming the path.
  void close();

  bool is_open() const { return gif_ != nullptr; }
  int frame_count() const { return static_cast<int>(delays_.size()); }

 private:
  void abandon();  // closes the giflib handle without writing the rest

  GifFileType* gif_ = nullptr;
  std::string path_;
  int width_ = 0, height_ = 0, delay_ = 0;
  std::vector<std::vector<uint8_t>> frames_;  // RGB
  std::vector<int> delays_;
};

}  // namespace fc::viz
