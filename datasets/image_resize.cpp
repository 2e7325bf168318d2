#include "datasets/image_resize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.hpp"

namespace fc::data {
namespace {

// Output pixel o of an axis is sum_k weight[k] * input[index[k]] over taps
// [begin[o], begin[o + 1]). Both filters are separable, so one table per axis serves.
struct AxisTaps {
  std::vector<int64_t> begin, index;
  std::vector<float> weight;
};

AxisTaps axis_taps(int64_t in, int64_t out, ResizeFilter filter) {
  AxisTaps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    t.begin.push_back(static_cast<int64_t>(t.index.size()));
    if (filter == ResizeFilter::Bilinear) {
      double s = std::max(0.0, (o + 0.5) * scale - 0.5);
      int64_t i0 = std::min(static_cast<int64_t>(s), in - 1), i1 = std::min(i0 + 1, in - 1);
      double f = s - static_cast<double>(i0);
      t.index.push_back(i0);
      t.weight.push_back(static_cast<float>(1.0 - f));
      t.index.push_back(i1);
      t.weight.push_back(static_cast<float>(f));
    } else {
      const double lo = o * scale, hi = (o + 1) * scale;
      for (int64_t i = static_cast<int64_t>(lo); i < in && i < hi; ++i) {
        double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
        if (overlap <= 0) continue;
        t.index.push_back(i);
        t.weight.push_back(static_cast<float>(overlap / scale));
      }
    }
  }
  t.begin.push_back(static_cast<int64_t>(t.index.size()));
  return t;
}

}  // namespace

void resize_image(const uint8_t* src, int64_t channels, int64_t h, int64_t w, uint8_t* dst, int64_t out_h,
                  int64_t out_w, ResizeFilter filter) {
  FC_CHECK(h > 0 && w > 0 && out_h > 0 && out_w > 0,
           "resize_image: bad size " << h << "x" << w << " -> " << out_h << "x" << out_w);
  if (h == out_h && w == out_w) {
    std::memcpy(dst, src, static_cast<size_t>(channels * h * w));
    return;
  }
  const AxisTaps tx = axis_taps(w, out_w, filter), ty = axis_taps(h, out_h, filter);
  std::vector<float> rows(static_cast<size_t>(h * out_w));  // one channel, resized along x
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* plane = src + c * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < out_w; ++x) {
        float v = 0.f;
        for (int64_t k = tx.begin[x]; k < tx.begin[x + 1]; ++k) v += tx.weight[k] * plane[y * w + tx.index[k]];
        rows[y * out_w + x] = v;
      }
    uint8_t* out = dst + c * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y)
      for (int64_t x = 0; x < out_w; ++x) {
        float v = 0.f;
        for (int64_t k = ty.begin[y]; k < ty.begin[y + 1]; ++k) v += ty.weight[k] * rows[ty.index[k] * out_w + x];
        out[y * out_w + x] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
  }
}

void convert_channels(const uint8_t* src, int in_channels, int64_t hw, uint8_t* dst, int out_channels) {
  FC_CHECK((in_channels == 1 || in_channels == 3) && (out_channels == 1 || out_channels == 3),
           "convert_channels: channels must be 1 or 3, got " << in_channels << " -> " << out_channels);
  if (in_channels == out_channels) {
    std::memcpy(dst, src, static_cast<size_t>(in_channels * hw));
  } else if (in_channels == 1) {
    for (int c = 0; c < 3; ++c) std::memcpy(dst + c * hw, src, static_cast<size_t>(hw));
  } else {
    for (int64_t i = 0; i < hw; ++i)
      dst[i] = static_cast<uint8_t>((src[i] * 77 + src[hw + i] * 150 + src[2 * hw + i] * 29) >> 8);
  }
}

}  // namespace fc::data
