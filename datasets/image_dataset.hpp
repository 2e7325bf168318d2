#pragma once
// Labelled image datasets for class-conditional flow matching, held in memory as bytes:
// MNIST and Fashion-MNIST (IDX files), CIFAR-10 (binary batches), CelebA (its aligned
// JPEGs) and `folder:PATH` (one subfolder of PNG/JPEG files per class). Every loader checks what it reads and throws
// a one-line fc::Error that names the file, or the command that fetches a missing set.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datasets/image_resize.hpp"

namespace fc::data {

// Images as uint8 [N, C, H, W] (C = 1 grey or 3 RGB), labels in [0, num_classes()).
struct ImageDataset {
  std::string name;  // as given to load_image_dataset: "mnist", "folder:PATH", ...
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

enum class Split { Train, Test };
// "train" or "test"; anything else throws naming both.
Split parse_split(const std::string& s);
const char* split_name(Split s);

// "bilinear" or "area"; anything else throws naming both.
ResizeFilter parse_resize_filter(const std::string& s);

struct ImageLoadOptions {
  int channels = 0;               // 1 (grey) or 3 (RGB); 0 keeps the dataset's own (folder: 3)
  int64_t height = 0, width = 0;  // 0 keeps the native size (folder: the first image's; celeba: 64)
  ResizeFilter filter = ResizeFilter::Area;
  // Images read so far of how many, from the loaders that take long (celeba's JPEGs);
  // called on the calling thread, and may throw to stop the load.
  std::function<void(int64_t done, int64_t total)> on_progress;
};

// The accepted names, for help texts: mnist, fashion_mnist, cifar10, celeba, folder:PATH.
std::vector<std::string> image_dataset_names();

// Loads `name` from data_root/mnist, data_root/fashion_mnist, data_root/cifar10,
// data_root/celeba (datasets/celeba.hpp), or PATH for folder:PATH (PATH/train and PATH/test when the split's subfolder exists,
// else PATH itself for both splits), then converts to options' channels and size.
// Unknown names, missing files (naming scripts/get_data.sh or where CIFAR-10 goes)
// and malformed files throw a one-line fc::Error.
ImageDataset load_image_dataset(const std::string& name, Split split, const std::string& data_root = "data",
                                const ImageLoadOptions& options = {});

// Converts every image to `channels` (grey <-> RGB; luma as stb_image computes it) and
// height x width (with `filter`); a no-op where they already match, or are 0.
void conform_images(ImageDataset& ds, int channels, int64_t height, int64_t width, ResizeFilter filter);

// Throws naming ds.name unless the shapes, sizes and labels agree (and N > 0).
void check_image_dataset(const ImageDataset& ds);

}  // namespace fc::data
