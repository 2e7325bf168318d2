#include "datasets/stb_image_zeroed.hpp"

#include <cstdlib>
#include <cstring>
#include <initializer_list>

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

bool is_tga(const uint8_t* bytes, int size) {
  auto passes = [&](int (*test)(stbi__context*)) {
    stbi__context s;
    stbi__start_mem(&s, bytes, size);
    return test(&s) != 0;
  };
  // The order of stbi__load_main.
  for (auto* other : {stbi__png_test, stbi__bmp_test, stbi__gif_test, stbi__psd_test, stbi__pic_test, stbi__jpeg_test,
                      stbi__pnm_test, stbi__hdr_test})
    if (passes(other)) return false;
  return passes(stbi__tga_test);
}

}  // namespace fc::data::stb
