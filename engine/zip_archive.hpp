#pragma once
// Reads ZIP archives, for two users: PyTorch's .pth files (nn/pth.hpp), whose members
// torch.save (1.6 and later) stores uncompressed (method 0): data.pkl, the raw storages
// data/0, data/1, ... with the sizes and CRC-32s in the central directory (the local
// headers carry zeros and a data descriptor) and ZIP64 end records; and CelebA's
// img_align_celeba.zip (datasets/celeba.hpp), whose JPEGs may also be deflated (method
// 8, inflated here with zlib). The central directory is authoritative, as it is for
// PyTorch and for unzip. Anything else (a method the archive was not opened for,
// encrypted members, multi-disk archives, entries outside the file or overlapping the
// directory, duplicate names, a bad CRC, a deflated member that claims more bytes than
// deflate can make of its size) throws fc::Error in one line that starts with the path.
// Reads are pread(2) at fixed offsets: several threads may read members at once.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/file_io.hpp"

namespace fc::io {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // where the member's bytes start in the file
  uint64_t size = 0;             // once read (inflated)
  uint64_t compressed_size = 0;  // in the file; size when stored
  int method = 0;                // 0 stored, 8 deflated
  uint32_t crc32 = 0;
};

// Which members an archive may hold: torch.save's only stored ones, so a deflated
// member in a .pth is a damaged or foreign file, not one to inflate.
enum class ZipMethods { StoredOnly, StoredOrDeflated };

class ZipArchive {
 public:
  // Opens the file and reads its central directory (no member data yet).
  explicit ZipArchive(const std::string& path, ZipMethods methods = ZipMethods::StoredOnly);

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent

  // Reads the whole member into buf (entry.size bytes), inflating a deflated one, and
  // checks its CRC-32.
  void read(const ZipEntry& entry, void* buf) const;
  // The same into a string, refusing members larger than `limit` bytes.
  std::string read_text(const ZipEntry& entry, uint64_t limit) const;

 private:
  void inflate(const ZipEntry& entry, void* buf) const;

  std::string path_;
  uint64_t file_size_ = 0;  // before fd_: opening the file sets it
  io::Fd fd_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> index_;  // name -> position in entries_
};

}  // namespace fc::io
