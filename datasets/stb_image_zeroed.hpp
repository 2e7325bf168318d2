#pragma once
// stb_image's decoders, compiled into flowcpp (not Debian's libstb.so) so that every
// buffer they allocate starts zeroed. stb fills its output only where the file has
// data: a JPEG whose scans leave a component, or the blocks after a missing restart
// marker, undecoded hands back whatever the heap held before (pixels that depend on the
// files read earlier; found by fuzz/targets.cpp's folder target), and a BMP whose pixels
// index past its palette reads a palette array on the stack it never filled. Zeroed
// buffers, and this file compiled with zeroed locals (-ftrivial-auto-var-init=zero, in
// the Makefile and fuzz/fuzz.mk), make every decode a function of the file alone. Used
// by datasets/image_file.cpp only.
#include <cstdint>

namespace fc::data::stb {

// As stbi_info_from_memory, stbi_load_from_memory, stbi_image_free and
// stbi_failure_reason (the last is per thread).
bool info_from_memory(const uint8_t* bytes, int size, int* width, int* height, int* channels);
unsigned char* load_from_memory(const uint8_t* bytes, int size, int* width, int* height, int* file_channels,
                                int channels);
void image_free(void* pixels);
const char* failure_reason();
// The format stb reads these bytes as, by its own tests in its own order ("png", "bmp",
// "gif", "psd", "pic", "jpeg", "pnm", "hdr", "tga"; TGA, which has no signature, last),
// or "" when none takes them.
const char* format_of(const uint8_t* bytes, int size);

}  // namespace fc::data::stb
