#include "datasets/image_dataset.hpp"

#include <filesystem>

#include "datasets/celeba.hpp"
#include "datasets/cifar10.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_folder.hpp"
#include "engine/error.hpp"

namespace fc::data {
namespace {

const char kFolderPrefix[] = "folder:";

const std::vector<std::string>& mnist_class_names() {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return names;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Split parse_split(const std::string& s) {
  if (s == "train") return Split::Train;
  if (s == "test") return Split::Test;
  FC_THROW("unknown split '" << s << "'; valid: train, test");
}

const char* split_name(Split s) { return s == Split::Train ? "train" : "test"; }

ResizeFilter parse_resize_filter(const std::string& s) {
  if (s == "bilinear") return ResizeFilter::Bilinear;
  if (s == "area") return ResizeFilter::Area;
  FC_THROW("unknown resize filter '" << s << "'; valid: bilinear, area");
}

std::vector<std::string> image_dataset_names() { return {"mnist", "fashion_mnist", "cifar10", "celeba", "folder:PATH"}; }

ImageDataset load_image_dataset(const std::string& name, Split split, const std::string& data_root,
                                const ImageLoadOptions& options) {
  FC_CHECK(options.channels == 0 || options.channels == 1 || options.channels == 3,
           name << ": channels must be 1 or 3 (or 0 for the dataset's own), not " << options.channels);
  FC_CHECK(options.height >= 0 && options.width >= 0,
           name << ": bad image size " << options.height << "x" << options.width);
  ImageDataset ds;
  if (name == "mnist") {
    ds = load_idx_dataset(data_root + "/mnist", split, mnist_class_names(),
                          "run scripts/get_data.sh mnist to fetch MNIST");
  } else if (name == "fashion_mnist") {
    ds = load_idx_dataset(data_root + "/fashion_mnist", split, fashion_mnist_class_names(),
                          "run scripts/get_data.sh fashion_mnist to fetch Fashion-MNIST");
  } else if (name == "cifar10") {
    ds = load_cifar10(data_root + "/cifar10", split);
  } else if (name == "celeba") {
    ds = load_celeba(data_root + "/celeba", split, options);
  } else if (name.rfind(kFolderPrefix, 0) == 0) {
    std::string path = name.substr(sizeof(kFolderPrefix) - 1);
    FC_CHECK(!path.empty(), "folder: needs a path, as in folder:PATH (one subfolder of images per class)");
    const std::string split_dir = path + "/" + split_name(split);
    std::error_code ec;
    ds = load_image_folder(std::filesystem::is_directory(split_dir, ec) ? split_dir : path, options);
  } else {
    FC_THROW("unknown image dataset '" << name << "'; valid: " << join(image_dataset_names()));
  }
  ds.name = name;
  conform_images(ds, options.channels, options.height, options.width, options.filter);
  check_image_dataset(ds);
  return ds;
}

void conform_images(ImageDataset& ds, int channels, int64_t height, int64_t width, ResizeFilter filter) {
  const int64_t c = channels ? channels : ds.channels, h = height ? height : ds.height, w = width ? width : ds.width;
  if (c == ds.channels && h == ds.height && w == ds.width) return;
  std::vector<uint8_t> out(static_cast<size_t>(ds.size() * c * h * w));
  std::vector<uint8_t> converted(static_cast<size_t>(c * ds.height * ds.width));
  for (int64_t i = 0; i < ds.size(); ++i) {
    convert_channels(ds.image(i), static_cast<int>(ds.channels), ds.height * ds.width, converted.data(),
                     static_cast<int>(c));
    resize_image(converted.data(), c, ds.height, ds.width, out.data() + i * c * h * w, h, w, filter);
  }
  ds.pixels = std::move(out);
  ds.channels = c;
  ds.height = h;
  ds.width = w;
}

void check_image_dataset(const ImageDataset& ds) {
  FC_CHECK(ds.size() > 0, ds.name << ": the dataset has no images");
  FC_CHECK(ds.channels == 1 || ds.channels == 3, ds.name << ": " << ds.channels << " channels (want 1 or 3)");
  FC_CHECK(ds.height > 0 && ds.width > 0, ds.name << ": bad image size " << ds.height << "x" << ds.width);
  FC_CHECK(static_cast<int64_t>(ds.pixels.size()) == ds.size() * ds.image_bytes(),
           ds.name << ": " << ds.pixels.size() << " pixel bytes for " << ds.size() << " images of " << ds.channels
                   << "x" << ds.height << "x" << ds.width);
  for (int64_t i = 0; i < ds.size(); ++i)
    FC_CHECK(ds.labels[i] >= 0 && ds.labels[i] < ds.num_classes(),
             ds.name << ": label " << ds.labels[i] << " of image " << i << " is out of range (" << ds.num_classes()
                     << " classes)");
}

}  // namespace fc::data
