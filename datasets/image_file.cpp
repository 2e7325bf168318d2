#include "datasets/image_file.hpp"

#include <stb/stb_image.h>  // the implementation is in Debian's libstb.so

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

// stb_image (Debian's libstb, 2022 snapshot) builds a JPEG Huffman table from the 16
// code counts of a DHT segment without checking that they sum to at most 256, and
// writes past its 257-entry arrays when they do (found by fuzz/targets.cpp's image
// target). So the DHT segments of a JPEG are checked here before stb sees it: every
// marker segment, including those between the scans of a progressive JPEG.
void check_jpeg_huffman_tables(const std::string& path, const std::vector<uint8_t>& b) {
  if (b.size() < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF) return;  // not a JPEG
  size_t i = 2;
  while (i + 1 < b.size()) {
    if (b[i] != 0xFF) {  // entropy-coded data of a scan: skip to the next marker
      ++i;
      continue;
    }
    const uint8_t m = b[i + 1];
    // Byte stuffing (FF 00), fill bytes (FF FF), restart markers and TEM carry no length.
    if (m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0xD8) {
      i += m == 0xFF ? 1 : 2;
      continue;
    }
    if (m == 0xD9) return;  // end of image
    if (i + 3 >= b.size()) return;  // truncated: stb refuses it
    const size_t len = static_cast<size_t>(b[i + 2]) << 8 | b[i + 3];  // includes its own 2 bytes
    const size_t end = std::min(b.size(), i + 2 + len);
    if (m == 0xC4) {
      for (size_t t = i + 4; t + 17 <= end;) {  // one table: class/id, 16 counts, the values
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += b[t + k];
        if (codes > 256)
          FC_FILE_FAIL(path, "cannot read image: corrupt JPEG (a Huffman table of " << codes
                                                                            << " codes; at most 256)");
        t += 17 + codes;
      }
    }
    i += 2 + len;
  }
}

}  // namespace

DecodedImage decode_image_file(const std::string& path, int channels) {
  std::vector<uint8_t> bytes;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) FC_FILE_FAIL(path, "cannot open: " << io::errno_text());
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (f.bad()) FC_FILE_FAIL(path, "cannot read: " << io::errno_text());
  }
  FC_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()),
           path << ": image file of " << bytes.size() << " bytes is too large");
  check_jpeg_huffman_tables(path, bytes);
  const int n = static_cast<int>(bytes.size());
  int w = 0, h = 0, file_channels = 0;
  if (!stbi_info_from_memory(bytes.data(), n, &w, &h, &file_channels))
    FC_FILE_FAIL(path, "cannot read image: " << stbi_failure_reason());
  if (static_cast<int64_t>(w) * h > kMaxImagePixels)
    FC_FILE_FAIL(path, "image of " << w << "x" << h << " pixels is larger than the " << kMaxImagePixels
                                   << " (4096x4096) flowcpp reads");
  DecodedImage img;
  img.pixels = {stbi_load_from_memory(bytes.data(), n, &img.width, &img.height, &file_channels, channels),
                stbi_image_free};
  if (!img.pixels) FC_FILE_FAIL(path, "cannot read image: " << stbi_failure_reason());
  return img;
}

}  // namespace fc::data
