#pragma once
// Resizing and channel conversion of uint8 images in planar (CHW) layout.
#include <cstdint>

namespace fc::data {

// Bilinear samples at pixel centres (PyTorch's align_corners=False, no antialiasing),
// good for enlarging. Area averages the input pixels each output pixel covers,
// weighted by overlap (OpenCV's INTER_AREA), good for shrinking.
enum class ResizeFilter { Bilinear, Area };

// src: [channels, h, w] -> dst: [channels, out_h, out_w], rounded to nearest.
void resize_image(const uint8_t* src, int64_t channels, int64_t h, int64_t w, uint8_t* dst, int64_t out_h,
                  int64_t out_w, ResizeFilter filter);

// src: [in_channels, hw] -> dst: [out_channels, hw] with channels 1 or 3: grey is
// copied to R, G and B; RGB becomes luma (77 R + 150 G + 29 B) >> 8, as stb_image does.
void convert_channels(const uint8_t* src, int in_channels, int64_t hw, uint8_t* dst, int out_channels);

}  // namespace fc::data
