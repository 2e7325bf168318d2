#pragma once
// Mini-batches of an ImageDataset for training: a fresh shuffle every epoch, the last
// partial batch dropped, an optional random left-right flip per sample, pixels scaled
// to [-1, 1]. Batch (epoch, index) is a pure function of the seed, so a resumed run
// reproduces any epoch's order without replaying the ones before it.
#include <cstdint>
#include <vector>

#include "datasets/image_dataset.hpp"
#include "engine/tensor.hpp"

namespace fc::data {

// x: [n, C, H, W] float32 on the CPU, pixel p -> p / 127.5 - 1; y: [n] labels as floats.
// Image indices[i] goes to row i, mirrored left-right where flip && flip[i].
void gather_images(const ImageDataset& ds, const int64_t* indices, const uint8_t* flip, int64_t n, Tensor& x,
                   Tensor& y);

class ImageBatches {
 public:
  // The dataset must outlive this object. Throws unless 0 < batch <= ds.size().
  ImageBatches(const ImageDataset& ds, int64_t batch, uint64_t seed, bool hflip);

  int64_t batch_size() const { return batch_; }
  int64_t batches_per_epoch() const { return ds_.size() / batch_; }

  // Batch `index` (0 <= index < batches_per_epoch()) of epoch `epoch` (>= 0): the
  // images at positions [index * B, (index + 1) * B) of the epoch's order.
  void batch(int64_t epoch, int64_t index, Tensor& x, Tensor& y);
  // Rows [begin, end) of that batch alone (one rank's share under data parallelism).
  void batch_rows(int64_t epoch, int64_t index, int64_t begin, int64_t end, Tensor& x, Tensor& y);

  // Epoch e's order (a permutation of the dataset's indices) and, per position, whether
  // that sample is flipped (all 0 without hflip).
  const std::vector<int64_t>& order(int64_t epoch);
  const std::vector<uint8_t>& flips(int64_t epoch);

 private:
  void prepare(int64_t epoch);

  const ImageDataset& ds_;
  int64_t batch_;
  uint64_t key_;  // the Philox key of the data stream, derived from the seed
  bool hflip_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> order_;
  std::vector<uint8_t> flips_;
};

}  // namespace fc::data
