#include "viz/gif.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gif_lib.h>

#include <algorithm>

#include "engine/error.hpp"
#include "viz/quantize.hpp"

namespace fc::viz {

namespace {

// Palette entries 0..254 are colours; 255 is kept for "unchanged since the last frame".
constexpr int kTransparent = 255;

const char* gif_error(int code) {
  const char* s = GifErrorString(code);
  return s ? s : "unknown giflib error";
}

}  // namespace

GifWriter::GifWriter(const std::string& path, int width, int height, int delay_centiseconds) {
  open(path, width, height, delay_centiseconds);
}

GifWriter::~GifWriter() {
  try {
    if (gif_) close();
  } catch (...) {
    abandon();
  }
}

void GifWriter::abandon() {
  if (gif_) {
    int err = 0;
    EGifCloseFile(gif_, &err);
    gif_ = nullptr;
  }
  frames_.clear();
  delays_.clear();
}

void GifWriter::open(const std::string& path, int width, int height, int delay_centiseconds) {
  FC_CHECK(!gif_, path << ": GIF writer is still open on " << path_);
  FC_CHECK(width > 0 && height > 0 && width <= 65535 && height <= 65535,
           path << ": GIF size " << width << "x" << height << " is out of range (1..65535)");
  FC_CHECK(delay_centiseconds >= 0 && delay_centiseconds <= 65535,
           path << ": GIF frame delay " << delay_centiseconds << " cs is out of range (0..65535)");
  int err = 0;
  // giflib's EGifOpenFileName creates files readable by their owner only (0600);
  // open the file ourselves so that it gets the usual 0644 (less the umask).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FC_CHECK(fd >= 0, path << ": cannot create GIF (" << std::strerror(errno) << ")");
  GifFileType* gif = EGifOpenFileHandle(fd, &err);
  if (!gif) ::close(fd);
  FC_CHECK(gif, path << ": cannot create GIF (" << gif_error(err) << ")");
  gif_ = gif;
  path_ = path;
  width_ = width;
  height_ = height;
  delay_ = delay_centiseconds;
  frames_.clear();
  delays_.clear();
}

void GifWriter::add_frame(const Canvas& frame, int delay_centiseconds) {
  FC_CHECK(gif_, "GIF writer: add_frame before open");
  FC_CHECK(frame.width() == width_ && frame.height() == height_,
           path_ << ": frame is " << frame.width() << "x" << frame.height() << ", GIF is " << width_
                 << "x" << height_);
  FC_CHECK(delay_centiseconds <= 65535,
           path_ << ": GIF frame delay " << delay_centiseconds << " cs is out of range (0..65535)");
  frames_.push_back(frame.pixels());
  delays_.push_back(delay_centiseconds < 0 ? delay_ : delay_centiseconds);
}

void GifWriter::close() {
  if (!gif_) return;
  if (frames_.empty()) {
    // A GIF without images is not a valid file; write one blank frame instead.
    frames_.emplace_back(static_cast<size_t>(width_) * height_ * 3, 0);
    delays_.push_back(delay_);
  }
  const size_t npix = static_cast<size_t>(width_) * height_;
  auto fail = [&](const char* what) {
    std::string msg = path_ + ": cannot write GIF (" + what + ": " + gif_error(gif_->Error) + ")";
    abandon();
    throw Error(msg);
  };

  ColorHistogram hist;
  for (const auto& f : frames_) hist.add(f.data(), npix);
  PaletteMap map(hist.build_palette(kTransparent));

  GifColorType colors[256] = {};
  const auto& pal = map.palette();
  for (size_t i = 0; i < pal.size(); ++i) colors[i] = GifColorType{pal[i].r, pal[i].g, pal[i].b};
  ColorMapObject* cmap = GifMakeMapObject(256, colors);
  if (!cmap) fail("out of memory");
  EGifSetGifVersion(gif_, true);
  int rc = EGifPutScreenDesc(gif_, width_, height_, 8, 0, cmap);
  GifFreeMapObject(cmap);
  if (rc != GIF_OK) fail("screen descriptor");

  // NETSCAPE2.0 application extension: loop count 0 = forever.
  static const GifByteType kNetscape[] = "NETSCAPE2.0";
  static const GifByteType kLoop[3] = {1, 0, 0};
  if (EGifPutExtensionLeader(gif_, APPLICATION_EXT_FUNC_CODE) != GIF_OK ||
      EGifPutExtensionBlock(gif_, 11, kNetscape) != GIF_OK ||
      EGifPutExtensionBlock(gif_, 3, kLoop) != GIF_OK || EGifPutExtensionTrailer(gif_) != GIF_OK)
    fail("loop extension");

  std::vector<uint8_t> prev(npix), cur(npix), rect;
  for (size_t k = 0; k < frames_.size(); ++k) {
    const uint8_t* rgb = frames_[k].data();
    for (size_t i = 0; i < npix; ++i) cur[i] = map(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    // Only the bounding box of what changed is stored; inside it, pixels equal to the
    // previous frame are transparent, which LZW compresses to almost nothing.
    int x0 = 0, y0 = 0, x1 = width_, y1 = height_;
    if (k > 0) {
      x0 = width_, y0 = height_, x1 = 0, y1 = 0;
      for (int y = 0; y < height_; ++y) {
        const uint8_t* a = &cur[static_cast<size_t>(y) * width_];
        const uint8_t* b = &prev[static_cast<size_t>(y) * width_];
        int first = 0;
        while (first < width_ && a[first] == b[first]) ++first;
        if (first == width_) continue;
        int last = width_ - 1;
        while (a[last] == b[last]) --last;
        x0 = std::min(x0, first);
        x1 = std::max(x1, last + 1);
        y0 = std::min(y0, y);
        y1 = y + 1;
      }
      if (x1 <= x0) x0 = 0, y0 = 0, x1 = 1, y1 = 1;  // nothing changed: one clear pixel
    }
    int rw = x1 - x0, rh = y1 - y0;
    rect.resize(static_cast<size_t>(rw) * rh);
    for (int y = 0; y < rh; ++y)
      for (int x = 0; x < rw; ++x) {
        size_t i = static_cast<size_t>(y0 + y) * width_ + (x0 + x);
        rect[static_cast<size_t>(y) * rw + x] =
            (k > 0 && cur[i] == prev[i]) ? static_cast<uint8_t>(kTransparent) : cur[i];
      }

    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSE_DO_NOT;  // keep the frame; the next one draws over it
    gcb.UserInputFlag = false;
    gcb.DelayTime = delays_[k];
    gcb.TransparentColor = k > 0 ? kTransparent : NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    size_t len = EGifGCBToExtension(&gcb, ext);
    if (EGifPutExtension(gif_, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(len), ext) != GIF_OK)
      fail("frame delay");
    if (EGifPutImageDesc(gif_, x0, y0, rw, rh, false, nullptr) != GIF_OK) fail("image descriptor");
    for (int y = 0; y < rh; ++y)
      if (EGifPutLine(gif_, &rect[static_cast<size_t>(y) * rw], rw) != GIF_OK) fail("pixels");
    std::swap(prev, cur);
    frames_[k].clear();
    frames_[k].shrink_to_fit();  // free as we go: the frames can be hundreds of MB
  }

  int err = 0;
  GifFileType* gif = gif_;
  gif_ = nullptr;
  frames_.clear();
  delays_.clear();
  if (EGifCloseFile(gif, &err) != GIF_OK)
    FC_THROW(path_ << ": cannot write GIF (closing: " << gif_error(err) << ")");
}

}  // namespace fc::viz
