#include "datasets/idx.hpp"

#include <zlib.h>

#include <cstdio>
#include <filesystem>

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

// Checks the magic and the length the header implies (header_bytes + items), and
// returns the dimensions read from the header.
std::vector<int64_t> check_idx_header(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip,
                                      uint32_t magic, int ndims, const char* what) {
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndims);
  if (bytes.size() < 4) FC_FILE_FAIL(path, "not an IDX " << what << " file: only " << bytes.size() << " bytes");
  const uint32_t got = big_endian_u32(bytes.data());
  if (got != magic)
    FC_FILE_FAIL(path, "not an IDX " << what << " file: magic number " << hex8(got) << ", want " << hex8(magic));
  if (bytes.size() < header_bytes)
    FC_FILE_FAIL(path, "truncated: " << bytes.size() << " bytes, the IDX " << what << " header needs " << header_bytes);
  std::vector<int64_t> dims;
  uint64_t items = 1;
  for (int i = 0; i < ndims; ++i) {
    dims.push_back(big_endian_u32(bytes.data() + 4 + 4 * i));
    if (__builtin_mul_overflow(items, static_cast<uint64_t>(dims.back()), &items))
      FC_FILE_FAIL(path, "IDX " << what << " header claims an impossible size");
  }
  uint64_t want = 0;
  if (__builtin_add_overflow(header_bytes, items, &want))
    FC_FILE_FAIL(path, "IDX " << what << " header claims an impossible size");
  if (bytes.size() != want)
    FC_FILE_FAIL(path, (bytes.size() < want ? "truncated" : "size mismatch")
                           << ": the IDX header implies " << want << " bytes, the file has " << bytes.size()
                           << (gzip ? " once decompressed" : ""));
  return dims;
}


}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path, bool* was_gzip) {
  uint64_t file_size = 0;
  io::Fd fd(io::open_for_reading(path, &file_size));
  // zlib reads a file without the gzip magic as it is ("transparent" mode).
  gzFile gz = gzdopen(fd.fd, "rb");
  if (gz == nullptr) FC_FILE_FAIL(path, "cannot open: out of memory");
  fd.fd = -1;  // gzclose closes it
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(file_size));
  constexpr unsigned kChunk = 1 << 20;
  for (;;) {
    const size_t at = out.size();
    out.resize(at + kChunk);
    int n = gzread(gz, out.data() + at, kChunk);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(gz, &code);
      if (why.rfind("<fd:", 0) == 0 && why.find(": ") != std::string::npos) why.erase(0, why.find(": ") + 2);
      gzclose(gz);
      FC_FILE_FAIL(path, "cannot read: " << (code == Z_ERRNO ? io::errno_text() : why));
    }
    out.resize(at + static_cast<size_t>(n));
    if (n == 0) break;
  }
  if (was_gzip != nullptr) *was_gzip = gzdirect(gz) == 0;
  gzclose(gz);
  out.shrink_to_fit();
  return out;
}

IdxImages read_idx_images(const std::string& path) {
  bool gzip = false;
  std::vector<uint8_t> bytes = read_maybe_gzip(path, &gzip);
  std::vector<int64_t> dims = check_idx_header(path, bytes, gzip, kImagesMagic, 3, "image");
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
  bool gzip = false;
  const std::vector<uint8_t> bytes = read_maybe_gzip(path, &gzip);
  check_idx_header(path, bytes, gzip, kLabelsMagic, 1, "label");
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
