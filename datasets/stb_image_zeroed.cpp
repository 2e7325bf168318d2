#include "datasets/stb_image_zeroed.hpp"

#include <cstdlib>
#include <cstring>

namespace {

// stb grows two buffers (PNG's zlib output and its IDAT data) with the old size known;
// the new part is zeroed as well.
void* realloc_zeroed(void* p, size_t old_size, size_t new_size) {
  void* q = std::realloc(p, new_size);
  if (q && new_size > old_size) std::memset(static_cast<char*>(q) + old_size, 0, new_size - old_size);
  return q;
}

}  // namespace

// The implementation is private to this file (STB_IMAGE_STATIC), so it never meets the
// stbi_* symbols of libstb.so, which the rest of the program may still use.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC_SIZED(p, old_size, new_size) realloc_zeroed(p, old_size, new_size)
#define STBI_FREE(p) std::free(p)
#include <stb/stb_image.h>  // a system header: its warnings stay quiet

namespace fc::data::stb {

bool info_from_memory(const uint8_t* bytes, int size, int* width, int* height, int* channels) {
  return stbi_info_from_memory(bytes, size, width, height, channels) != 0;
}

unsigned char* load_from_memory(const uint8_t* bytes, int size, int* width, int* height, int* file_channels,
                                int channels) {
  return stbi_load_from_memory(bytes, size, width, height, file_channels, channels);
}

void image_free(void* pixels) { stbi_image_free(pixels); }

const char* failure_reason() { return stbi_failure_reason(); }

const char* format_of(const uint8_t* bytes, int size) {
  struct Format {
    const char* name;
    int (*test)(stbi__context*);
  };
  // The order of stbi__load_main.
  static const Format kFormats[] = {{"png", stbi__png_test}, {"bmp", stbi__bmp_test}, {"gif", stbi__gif_test},
                                     {"psd", stbi__psd_test}, {"pic", stbi__pic_test}, {"jpeg", stbi__jpeg_test},
                                     {"pnm", stbi__pnm_test}, {"hdr", stbi__hdr_test}, {"tga", stbi__tga_test}};
  for (const Format& f : kFormats) {
    stbi__context s;
    stbi__start_mem(&s, bytes, size);
    if (f.test(&s)) return f.name;
  }
  return "";
}

}  // namespace fc::data::stb
