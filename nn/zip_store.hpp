#pragma once
// Reads ZIP archives whose members are stored uncompressed (method 0), the container of
// PyTorch's .pth files: torch.save (1.6 and later) writes data.pkl, the raw storages
// data/0, data/1, ... and a few small records into one such archive, with the sizes
// and CRC-32s in the central directory (the local headers carry zeros and a data
// descriptor) and ZIP64 end records. The central directory is authoritative here, as
// it is for PyTorch. Anything else (compressed or encrypted members, multi-disk
// archives, entries outside the file or overlapping the directory, duplicate names, a
// bad CRC) throws fc::Error in one line that starts with the path.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/file_io.hpp"

namespace fc::nn {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // where the member's bytes start in the file
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

class StoredZip {
 public:
  // Opens the file and reads its central directory (no member data yet).
  explicit StoredZip(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent

  // Reads the whole member into buf (entry.size bytes) and checks its CRC-32.
  void read(const ZipEntry& entry, void* buf) const;
  // The same into a string, refusing members larger than `limit` bytes.
  std::string read_text(const ZipEntry& entry, uint64_t limit) const;

 private:
  std::string path_;
  uint64_t file_size_ = 0;  // before fd_: opening the file sets it
  io::Fd fd_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> index_;  // name -> position in entries_
};

}  // namespace fc::nn
