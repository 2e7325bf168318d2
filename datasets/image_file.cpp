#include "datasets/image_file.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include "datasets/stb_image_zeroed.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

// stb takes a file for a JPEG when it starts with FF (fill bytes may precede SOI).
bool may_be_jpeg(const std::vector<uint8_t>& b) { return !b.empty() && b[0] == 0xFF; }

// stb_image (Debian's libstb, 2022 snapshot) builds a JPEG Huffman table from the 16
// code counts of a DHT segment without checking that they sum to at most 256, and
// writes past its 257-entry arrays when they do (found by fuzz/targets.cpp's image
// target). So a file that stb may read as a JPEG is refused when a DHT read at any
// FF C4 in it would do that: every place stb could take for a DHT marker, without
// following its parser.
void check_jpeg_huffman_tables(const std::string& path, const std::vector<uint8_t>& b) {
  if (!may_be_jpeg(b)) return;
  auto at = [&](size_t k) -> size_t { return k < b.size() ? b[k] : 0; };  // stb reads 0 past the end
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] != 0xFF || b[i + 1] != 0xC4) continue;
    // As stb reads a DHT: tables (class << 4 | id, 16 counts, the values) while the
    // segment's length is not used up, a bad class or id ending it.
    int64_t left = static_cast<int64_t>(at(i + 2) << 8 | at(i + 3)) - 2;
    for (size_t t = i + 4; left > 0 && t < b.size();) {
      if ((at(t) >> 4) > 1 || (at(t) & 15) > 3) break;
      size_t codes = 0;
      for (size_t k = 1; k <= 16; ++k) codes += at(t + k);
      if (codes > 256)
        FC_FILE_FAIL(path, "cannot read image: corrupt JPEG (a Huffman table of " << codes << " codes; at most 256)");
      t += 17 + codes;
      left -= static_cast<int64_t>(17 + codes);
    }
  }
}

// A JPEG without a start-of-scan marker (FF DA) has no image data, yet stb_image
// decodes it, from its buffers as allocated (see stb_image_zeroed.hpp). A file cut
// before its first scan is refused instead.
void check_jpeg_has_scan(const std::string& path, const std::vector<uint8_t>& b) {
  static const uint8_t kSos[2] = {0xFF, 0xDA};
  if (may_be_jpeg(b) && std::search(b.begin(), b.end(), kSos, kSos + 2) == b.end())
    FC_FILE_FAIL(path, "cannot read image: corrupt JPEG (no scan: the file ends before its image data)");
}

// stb_image grows its buffer to a PNG IDAT chunk's claimed length before reading it,
// so an 84-byte file claiming a 1.5 GB chunk asks for 1.5 GB (found by the image
// target). Chunks are read in sequence, as stb does, and one longer than the rest of
// the file is refused.
void check_png_chunks(const std::string& path, const std::vector<uint8_t>& b) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() < 8 || !std::equal(kSignature, kSignature + 8, b.begin())) return;  // not a PNG
  for (size_t i = 8; i + 8 <= b.size();) {
    const uint64_t len = uint64_t{b[i]} << 24 | uint64_t{b[i + 1]} << 16 | uint64_t{b[i + 2]} << 8 | b[i + 3];
    if (len > b.size() - i - 8)
      FC_FILE_FAIL(path, "cannot read image: corrupt PNG (a chunk of " << len << " bytes in a file of " << b.size()
                                                                       << ")");
    if (std::equal(b.begin() + i + 4, b.begin() + i + 8, "IEND")) return;
    i += 12 + len;  // length, type, data, CRC
  }
}

}  // namespace

DecodedImage decode_image_bytes(const std::string& path, const std::vector<uint8_t>& bytes, int channels) {
  FC_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()),
           path << ": image file of " << bytes.size() << " bytes is too large");
  check_jpeg_huffman_tables(path, bytes);
  check_jpeg_has_scan(path, bytes);
  check_png_chunks(path, bytes);
  const int n = static_cast<int>(bytes.size());
  int w = 0, h = 0, file_channels = 0;
  if (!stb::info_from_memory(bytes.data(), n, &w, &h, &file_channels))
    FC_FILE_FAIL(path, "cannot read image: " << stb::failure_reason());
  // stb's info gives a top-down BMP's height as the header has it, negative (its load
  // makes it positive): the bounds below take the sizes' magnitudes (a 143-byte BMP
  // claiming 8388613 x -1 pixels got past them, found by the folder target).
  w = static_cast<int>(std::min<int64_t>(std::abs(int64_t{w}), std::numeric_limits<int>::max()));
  h = static_cast<int>(std::min<int64_t>(std::abs(int64_t{h}), std::numeric_limits<int>::max()));
  if (static_cast<int64_t>(w) * h > kMaxImagePixels)
    FC_FILE_FAIL(path, "image of " << w << "x" << h << " pixels is larger than the " << kMaxImagePixels
                                   << " (4096x4096) flowcpp reads");
  if (static_cast<int64_t>(w) * h > kMaxPixelsPerFileByte * n)
    FC_FILE_FAIL(path, "image header claims " << w << "x" << h << " pixels, more than a file of " << n
                                              << " bytes can hold");
  const std::string format = stb::format_of(bytes.data(), n);
  const int64_t per_byte =
      format == "tga" ? kMaxTgaPixelsPerFileByte : format == "bmp" ? kMaxBmpPixelsPerFileByte : kMaxPixelsPerFileByte;
  if (static_cast<int64_t>(w) * h > per_byte * n)
    FC_FILE_FAIL(path, "image header claims " << w << "x" << h << " pixels, more than a " << format << " file of " << n
                                              << " bytes can hold");
  DecodedImage img;
  img.pixels = {stb::load_from_memory(bytes.data(), n, &img.width, &img.height, &file_channels, channels),
                stb::image_free};
  if (!img.pixels) FC_FILE_FAIL(path, "cannot read image: " << stb::failure_reason());
  return img;
}

DecodedImage decode_image_file(const std::string& path, int channels) {
  std::vector<uint8_t> bytes;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) FC_FILE_FAIL(path, "cannot open: " << io::errno_text());
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (f.bad()) FC_FILE_FAIL(path, "cannot read: " << io::errno_text());
  }
  return decode_image_bytes(path, bytes, channels);
}

}  // namespace fc::data
