#include "datasets/cifar10.hpp"

#include <filesystem>
#include <fstream>

#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {

const std::vector<std::string>& cifar10_default_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

void append_cifar10_batch(const std::string& path, ImageDataset& ds) {
  uint64_t size = 0;
  io::Fd fd(io::open_for_reading(path, &size));
  if (size == 0 || size % kCifarRecordBytes != 0)
    FC_FILE_FAIL(path, "not a CIFAR-10 batch: " << size << " bytes is not a positive multiple of the "
                                                << kCifarRecordBytes << "-byte record"
                                                << (size % kCifarRecordBytes ? " (truncated?)" : ""));
  std::vector<uint8_t> bytes(size);
  io::read_all_at(fd.fd, bytes.data(), size, 0, path);
  const int64_t records = static_cast<int64_t>(size) / kCifarRecordBytes, image = kCifarRecordBytes - 1;
  ds.pixels.reserve(ds.pixels.size() + static_cast<size_t>(records * image));
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes.data() + r * kCifarRecordBytes;
    if (rec[0] >= 10) FC_FILE_FAIL(path, "label " << int{rec[0]} << " of record " << r << " is out of range (want < 10)");
    ds.labels.push_back(rec[0]);
    ds.pixels.insert(ds.pixels.end(), rec + 1, rec + kCifarRecordBytes);
  }
}

std::vector<std::string> read_cifar10_class_names(const std::string& path) {
  std::ifstream f(path);
  if (!f) FC_FILE_FAIL(path, "cannot open: " << io::errno_text());
  std::vector<std::string> names;
  for (std::string line; std::getline(f, line);) {
    const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos) names.push_back(line.substr(b, e - b + 1));
  }
  if (names.size() != 10) FC_FILE_FAIL(path, "want 10 class names, one a line; found " << names.size());
  return names;
}

ImageDataset load_cifar10(const std::string& dir, Split split) {
  std::vector<std::string> files;
  if (split == Split::Train) {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  std::string where;
  std::error_code ec;  // an unreadable path counts as absent
  for (const std::string& d : {dir, dir + "/cifar-10-batches-bin"})
    if (where.empty() && std::filesystem::exists(d + "/" + files[0], ec)) where = d;
  if (where.empty())
    FC_FILE_FAIL(dir, "no CIFAR-10 " << files[0] << " here or in " << dir << "/cifar-10-batches-bin"
                                     << "; cfm_image downloads it when " << dir
                                     << " is missing; by hand: download cifar-10-binary.tar.gz from "
                                        "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it: mkdir -p "
                                     << dir << " && tar xzf cifar-10-binary.tar.gz -C " << dir);
  ImageDataset ds;
  ds.channels = 3;
  ds.height = ds.width = 32;
  for (const std::string& f : files) append_cifar10_batch(where + "/" + f, ds);
  const std::string meta = where + "/batches.meta.txt";
  ds.class_names = std::filesystem::exists(meta, ec) ? read_cifar10_class_names(meta) : cifar10_default_class_names();
  return ds;
}

}  // namespace fc::data
