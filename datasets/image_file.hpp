#pragma once
// Picture files (PNG, JPEG, BMP, GIF, TGA, ... as stb_image reads them) decoded for the
// loaders that take pictures: `image:FILE` densities and `folder:PATH` datasets. stb is
// compiled in with zeroed buffers (datasets/stb_image_zeroed.hpp): the pixels depend on
// the file alone.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fc::data {

// The most pixels a picture may have (4096 x 4096). Checked from the file's header
// before decoding, because stb_image allocates what the header claims: a 20-byte file
// can otherwise ask for gigabytes.
constexpr int64_t kMaxImagePixels = int64_t{1} << 24;
// No picture format packs more pixels than this into a byte of file (deflate's 1032:1 on
// 1-bit PNG rows is about 8256); more is a header lying about a short file, which stb
// would decode from zeros past the end (a 41-byte TGA claiming 58624 x 252 pixels).
constexpr int64_t kMaxPixelsPerFileByte = 16384;
// Tighter for two formats whose lying headers the fuzzers found (decoding millions of
// pixels from zeros, 10 s a file under ASan): a TGA packs at most 128 pixels into a
// run-length packet of two bytes or more (a 490-byte TGA claimed 2328 x 2826 pixels), a
// BMP (stb reads no run-length BMP) at most 8 pixels into a byte (a 262-byte BMP
// claimed 1 x 2883651).
constexpr int64_t kMaxTgaPixelsPerFileByte = 64;
constexpr int64_t kMaxBmpPixelsPerFileByte = 8;

struct DecodedImage {
  int width = 0, height = 0;
  // Interleaved, row-major, `channels` bytes per pixel (as asked of decode_image_file).
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, [](void*) {}};
};

// Decodes path to `channels` (1 to 4) bytes per pixel. Throws a one-line fc::Error
// naming the file when stb_image cannot read it, or it has more than kMaxImagePixels or
// more than kMaxPixelsPerFileByte (a TGA or BMP: the bounds above) per byte of the file.
DecodedImage decode_image_file(const std::string& path, int channels);
// The same for a file's bytes already in memory (`path` names them in errors).
DecodedImage decode_image_bytes(const std::string& path, const std::vector<uint8_t>& bytes, int channels);

}  // namespace fc::data
