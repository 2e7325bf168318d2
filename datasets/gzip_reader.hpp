#pragma once
// A file read in pieces, decompressed on the way when it is gzip: the IDX files of MNIST
// (.gz or not) and the CIFAR-10 tarball (datasets/tar_archive) are read through it.
// zlib reads a file without the gzip magic as it is ("transparent" mode), so a caller
// takes a compressed and a plain file alike.
#include <cstdint>
#include <string>

#include <zlib.h>

namespace fc::data {

class GzipReader {
 public:
  explicit GzipReader(const std::string& path);  // fails "PATH: cannot open: ..."
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Reads up to n bytes (fewer only at the end of the data) to out; returns how many.
  // A damaged gzip stream fails naming the path.
  uint64_t read(uint8_t* out, uint64_t n);
  // Whether the file is gzip (known after the first read).
  bool gzip() const;
  // After the data's end: whether a gzip stream stopped before its end (a cut
  // download), which zlib reports as a quiet end of data.
  bool ended_early() const;
  uint64_t file_size() const { return file_size_; }

 private:
  std::string path_;
  uint64_t file_size_ = 0;
  gzFile gz_ = nullptr;
};

}  // namespace fc::data
