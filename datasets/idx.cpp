#include "datasets/idx.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "datasets/gzip_reader.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;

std::string hex8(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Deflate's longest match is 258 bytes for a 2-bit code at best, so a gzip stream
// inflates to at most about 1032 times its size: a header that needs more is a lie,
// refused before the buffer is allocated.
constexpr uint64_t kMaxGzipRatio = 1032;

// Reads an IDX file whose header is `magic` and `ndims` big-endian sizes: checks the
// magic, then that the (decompressed) length is exactly the header's plus the items it
// implies, reading no more than that. Returns the whole content; the sizes go to *dims.
std::vector<uint8_t> read_idx(const std::string& path, uint32_t magic, int ndims, const char* what,
                              std::vector<int64_t>* dims) {
  GzipReader in(path);
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndims);
  std::vector<uint8_t> bytes(header_bytes);
  const uint64_t head = in.read(bytes.data(), header_bytes);
  const bool gzip = in.gzip();
  const char* decompressed = gzip ? " once decompressed" : "";
  if (head < 4) FC_FILE_FAIL(path, "not an IDX " << what << " file: only " << head << " bytes");
  const uint32_t got = big_endian_u32(bytes.data());
  if (got != magic)
    FC_FILE_FAIL(path, "not an IDX " << what << " file: magic number " << hex8(got) << ", want " << hex8(magic));
  if (head < header_bytes)
    FC_FILE_FAIL(path, "truncated: " << head << " bytes, the IDX " << what << " header needs " << header_bytes);
  uint64_t items = 1;
  for (int i = 0; i < ndims; ++i) {
    dims->push_back(big_endian_u32(bytes.data() + 4 + 4 * i));
    if (__builtin_mul_overflow(items, static_cast<uint64_t>(dims->back()), &items))
      FC_FILE_FAIL(path, "IDX " << what << " header claims an impossible size");
  }
  uint64_t want = 0;
  if (__builtin_add_overflow(header_bytes, items, &want))
    FC_FILE_FAIL(path, "IDX " << what << " header claims an impossible size");
  const uint64_t most = gzip ? kMaxGzipRatio * in.file_size() + header_bytes : in.file_size();
  if (want > most && gzip)
    FC_FILE_FAIL(path, "the IDX header implies " << want << " bytes, more than a gzip file of " << in.file_size()
                                                << " bytes can hold");
  if (want != in.file_size() && !gzip)
    FC_FILE_FAIL(path, (in.file_size() < want ? "truncated" : "size mismatch")
                           << ": the IDX header implies " << want << " bytes, the file has " << in.file_size());
  bytes.resize(want);
  const uint64_t have = header_bytes + in.read(bytes.data() + header_bytes, want - header_bytes);
  if (have < want)
    FC_FILE_FAIL(path, "truncated: the IDX header implies " << want << " bytes, the file has " << have << decompressed);
  uint8_t extra = 0;
  if (in.read(&extra, 1) != 0)
    FC_FILE_FAIL(path, "size mismatch: the IDX header implies " << want << " bytes, the file has more" << decompressed);
  return bytes;
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes = read_idx(path, kImagesMagic, 3, "image", &dims);
  if (dims[1] == 0 || dims[2] == 0) FC_FILE_FAIL(path, "IDX images of size " << dims[1] << "x" << dims[2]);
  IdxImages im;
  im.count = dims[0];
  im.rows = dims[1];
  im.cols = dims[2];
  bytes.erase(bytes.begin(), bytes.begin() + 16);
  im.pixels = std::move(bytes);
  return im;
}

std::vector<int32_t> read_idx_labels(const std::string& path, int num_classes) {
  std::vector<int64_t> dims;
  const std::vector<uint8_t> bytes = read_idx(path, kLabelsMagic, 1, "label", &dims);
  std::vector<int32_t> labels(bytes.begin() + 8, bytes.end());
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      FC_FILE_FAIL(path, "label " << labels[i] << " of item " << i << " is out of range (want < " << num_classes
                                  << ")");
  return labels;
}

std::string find_idx_file(const std::string& dir, const std::string& name) {
  std::error_code ec;  // an unreadable path counts as absent
  for (const std::string& path : {dir + "/" + name, dir + "/" + name + ".gz"})
    if (std::filesystem::exists(path, ec)) return path;
  return "";
}

ImageDataset load_idx_dataset(const std::string& dir, Split split, const std::vector<std::string>& class_names,
                              const std::string& missing_hint) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  std::string files[2];
  const std::string names[2] = {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
  for (int i = 0; i < 2; ++i) {
    files[i] = find_idx_file(dir, names[i]);
    if (files[i].empty()) FC_FILE_FAIL(dir, "no " << names[i] << "[.gz] here; " << missing_hint);
  }
  IdxImages im = read_idx_images(files[0]);
  std::vector<int32_t> labels = read_idx_labels(files[1], static_cast<int>(class_names.size()));
  if (static_cast<int64_t>(labels.size()) != im.count)
    FC_FILE_FAIL(files[0], "has " << im.count << " images but " << files[1] << " has " << labels.size() << " labels");
  ImageDataset ds;
  ds.channels = 1;
  ds.height = im.rows;
  ds.width = im.cols;
  ds.pixels = std::move(im.pixels);
  ds.labels = std::move(labels);
  ds.class_names = class_names;
  return ds;
}

}  // namespace fc::data
