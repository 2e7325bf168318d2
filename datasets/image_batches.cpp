#include "datasets/image_batches.hpp"

#include <algorithm>
#include <numeric>

#include "engine/error.hpp"
#include "engine/random.hpp"

namespace fc::data {
namespace {

// splitmix64's finaliser: the data stream gets a key of its own, so its numbers do not
// repeat the ones a Generator(seed) elsewhere in the program draws.
uint64_t data_stream_key(uint64_t seed) {
  uint64_t z = seed ^ 0x696d616765626174ull;  // "imagebat"
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void gather_images(const ImageDataset& ds, const int64_t* indices, const uint8_t* flip, int64_t n, Tensor& x,
                   Tensor& y) {
  const int64_t c = ds.channels, h = ds.height, w = ds.width, image = ds.image_bytes();
  float scale[256];  // division, not a reciprocal, so that 0 and 255 land exactly on -1 and 1
  for (int p = 0; p < 256; ++p) scale[p] = static_cast<float>(p) / 127.5f - 1.f;
  x = Tensor::empty(Shape{n, c, h, w});
  y = Tensor::empty(Shape{n});
  float* xd = x.cpu_data();
  float* yd = y.cpu_data();
  for (int64_t i = 0; i < n; ++i) {
    FC_CHECK(indices[i] >= 0 && indices[i] < ds.size(),
             ds.name << ": image index " << indices[i] << " out of range (" << ds.size() << " images)");
    const uint8_t* src = ds.image(indices[i]);
    float* dst = xd + i * image;
    const bool mirror = flip != nullptr && flip[i] != 0;
    for (int64_t row = 0; row < c * h; ++row)
      for (int64_t col = 0; col < w; ++col) dst[row * w + col] = scale[src[row * w + (mirror ? w - 1 - col : col)]];
    yd[i] = static_cast<float>(ds.labels[indices[i]]);
  }
}

ImageBatches::ImageBatches(const ImageDataset& ds, int64_t batch, uint64_t seed, bool hflip)
    : ds_(ds), batch_(batch), key_(data_stream_key(seed)), hflip_(hflip) {
  FC_CHECK(batch > 0, "batch size must be positive, not " << batch);
  FC_CHECK(batch <= ds.size(),
           ds.name << ": batch size " << batch << " is larger than the dataset (" << ds.size() << " images)");
}

void ImageBatches::prepare(int64_t epoch) {
  FC_CHECK(epoch >= 0, "epoch must be >= 0, not " << epoch);
  if (epoch == cached_epoch_) return;
  const int64_t n = ds_.size();
  // Epoch e draws from Philox blocks [e * 2^32, ...): n numbers for the shuffle, then n
  // for the flips, a fixed stream per (seed, epoch).
  Generator gen;
  gen.set_state(key_, static_cast<uint64_t>(epoch) << 32);
  const Tensor u = gen.uniform(Shape{n});
  const float* ud = u.cpu_data();
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  // Fisher-Yates; j = floor(u * (i + 1)) from a 24-bit uniform is unbiased enough for
  // any dataset that fits in memory.
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = std::min(i, static_cast<int64_t>(static_cast<double>(ud[i]) * static_cast<double>(i + 1)));
    std::swap(order_[i], order_[j]);
  }
  flips_.assign(static_cast<size_t>(n), 0);
  if (hflip_) {
    const Tensor f = gen.uniform(Shape{n});
    const float* fd = f.cpu_data();
    for (int64_t i = 0; i < n; ++i) flips_[i] = fd[i] < 0.5f;
  }
  cached_epoch_ = epoch;
}

const std::vector<int64_t>& ImageBatches::order(int64_t epoch) {
  prepare(epoch);
  return order_;
}

const std::vector<uint8_t>& ImageBatches::flips(int64_t epoch) {
  prepare(epoch);
  return flips_;
}

void ImageBatches::batch(int64_t epoch, int64_t index, Tensor& x, Tensor& y) {
  batch_rows(epoch, index, 0, batch_, x, y);
}

void ImageBatches::batch_rows(int64_t epoch, int64_t index, int64_t begin, int64_t end, Tensor& x, Tensor& y) {
  FC_CHECK(index >= 0 && index < batches_per_epoch(),
           "batch index " << index << " out of range (" << batches_per_epoch() << " batches per epoch)");
  FC_CHECK(0 <= begin && begin < end && end <= batch_,
           "rows [" << begin << ", " << end << ") are not inside a batch of " << batch_);
  prepare(epoch);
  const size_t at = static_cast<size_t>(index * batch_ + begin);
  gather_images(ds_, order_.data() + at, flips_.data() + at, end - begin, x, y);
}

}  // namespace fc::data
