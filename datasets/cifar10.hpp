#pragma once
// CIFAR-10 in its binary form (https://www.cs.toronto.edu/~kriz/cifar.html):
// data_batch_1.bin .. data_batch_5.bin and test_batch.bin, each a run of 3073-byte
// records (1 label byte, then 32x32 R, G and B planes), and batches.meta.txt with the
// class names one a line.
#include <string>
#include <vector>

#include "datasets/image_dataset.hpp"

namespace fc::data {

constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;

// The standard ten, in label order: airplane, automobile, ..., truck.
const std::vector<std::string>& cifar10_default_class_names();

// Appends the records of one batch file to ds (which must be 3x32x32). Throws naming
// the file when its size is not a positive multiple of 3073 or a label is >= 10.
void append_cifar10_batch(const std::string& path, ImageDataset& ds);

// The non-empty lines of batches.meta.txt; throws naming it unless there are 10.
std::vector<std::string> read_cifar10_class_names(const std::string& path);

// The split's batches from dir or dir/cifar-10-batches-bin (the folder the official
// tarball unpacks to). A missing batch throws, saying where to download the files and
// where to put them.
ImageDataset load_cifar10(const std::string& dir, Split split);

}  // namespace fc::data
