#pragma once
// IDX files (http://yann.lecun.com/exdb/mnist/), the format of MNIST and Fashion-MNIST:
// a big-endian header (magic 0x00000803 for uint8 images [N, rows, cols], 0x00000801
// for uint8 labels [N]) and then the bytes. Raw or gzip-compressed.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image_dataset.hpp"

namespace fc::data {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // [count, rows, cols]
};

// Both read the file raw or gzip (told by its content, not its name), check the magic
// number and that the (decompressed) length is exactly what the header implies, and
// read no more than that: a gzip file whose header claims more than it can inflate to
// is refused before anything is allocated. Labels must be < num_classes. Errors are
// one line naming the file and what is wrong.
IdxImages read_idx_images(const std::string& path);
std::vector<int32_t> read_idx_labels(const std::string& path, int num_classes = 10);

// dir/name or dir/name.gz, the raw one when both exist; "" when neither does.
std::string find_idx_file(const std::string& dir, const std::string& name);

// The split's image and label files from `dir` (train-images-idx3-ubyte and
// train-labels-idx1-ubyte, or t10k-*; each raw or .gz), checked against each other, as
// a one-channel dataset. A missing file throws "...: no FILE[.gz] in DIR; " + missing_hint.
ImageDataset load_idx_dataset(const std::string& dir, Split split, const std::vector<std::string>& class_names,
                              const std::string& missing_hint);

}  // namespace fc::data
