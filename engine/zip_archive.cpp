#include "engine/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>

namespace fc::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50,
                   kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr uint64_t kEndSize = 22, kLocator64Size = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;
// More members than a state_dict of a million tensors has: a corrupt count, not an archive.
// CelebA's zip has 202,599 members.
constexpr uint64_t kMaxEntries = uint64_t{1} << 21;
// Deflate makes at most 258 bytes of a 2-bit code: about 1032 bytes of output for a byte
// of input. A member claiming more is a lying directory (a zip bomb's, say), refused
// before anyone allocates what it claims.
constexpr uint64_t kMaxInflateRatio = 1032, kInflateSlack = 1024;
// Compressed bytes are read and inflated a piece at a time.
constexpr uint64_t kInflatePiece = uint64_t{1} << 20;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// The ZIP64 extended-information extra field (id 1) replaces, in this order, the
// sizes and the local header offset that the central record set to 0xFFFFFFFF.
void apply_zip64_extra(const std::string& path, const std::string& name, const unsigned char* extra, size_t n,
                       uint64_t* usize, uint64_t* csize, uint64_t* offset) {
  size_t at = 0;
  while (at + 4 <= n) {
    uint64_t id = le(extra + at, 2), len = le(extra + at + 2, 2);
    if (at + 4 + len > n) FC_FILE_FAIL(path, "member '" << name << "': extra field runs past its record");
    if (id == 1) {
      size_t f = at + 4;
      for (uint64_t* v : {usize, csize, offset}) {
        if (*v != 0xFFFFFFFFu) continue;
        if (f + 8 > at + 4 + len) FC_FILE_FAIL(path, "member '" << name << "': ZIP64 extra field too short");
        *v = le(extra + f, 8);
        f += 8;
      }
      return;
    }
    at += 4 + len;
  }
  if (*usize == 0xFFFFFFFFu || *csize == 0xFFFFFFFFu || *offset == 0xFFFFFFFFu)
    FC_FILE_FAIL(path, "member '" << name << "' needs a ZIP64 extra field and has none");
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path, ZipMethods methods)
    : path_(path), fd_(open_for_reading(path, &file_size_)) {
  if (file_size_ < kEndSize) FC_FILE_FAIL(path, "not a ZIP archive: " << file_size_ << " bytes");
  // The end record is the last 22 bytes plus a comment of up to 65535 bytes.
  const uint64_t tail_size = std::min<uint64_t>(file_size_, kEndSize + 65535);
  std::string tail(tail_size, '\0');
  read_all_at(fd_.fd, tail.data(), tail_size, file_size_ - tail_size, path);
  const auto* t = reinterpret_cast<const unsigned char*>(tail.data());
  uint64_t end_at = UINT64_MAX;  // in tail
  for (uint64_t i = tail_size - kEndSize + 1; i-- > 0;)
    if (le(t + i, 4) == kEndSig && i + kEndSize + le(t + i + 20, 2) == tail_size) {
      end_at = i;
      break;
    }
  if (end_at == UINT64_MAX) FC_FILE_FAIL(path, "not a ZIP archive (no end of central directory record)");
  const unsigned char* e = t + end_at;
  uint64_t disk = le(e + 4, 2), cd_disk = le(e + 6, 2), count_here = le(e + 8, 2), count = le(e + 10, 2);
  uint64_t cd_size = le(e + 12, 4), cd_offset = le(e + 16, 4);
  const uint64_t end_pos = file_size_ - tail_size + end_at;
  // A ZIP64 locator just before the end record points at the ZIP64 end record, whose
  // counts and offsets are the real ones (torch writes both records always).
  if (end_pos >= kLocator64Size) {
    unsigned char loc[kLocator64Size];
    read_all_at(fd_.fd, loc, kLocator64Size, end_pos - kLocator64Size, path);
    if (le(loc, 4) == kLocator64Sig) {
      const uint64_t at = le(loc + 8, 8);
      if (le(loc + 4, 4) != 0 || le(loc + 16, 4) > 1) FC_FILE_FAIL(path, "multi-disk ZIP archives are not read");
      if (at > end_pos - kLocator64Size || end_pos - kLocator64Size - at < kEnd64Size)
        FC_FILE_FAIL(path, "ZIP64 end record at " << at << " lies outside the file");
      unsigned char r[kEnd64Size];
      read_all_at(fd_.fd, r, kEnd64Size, at, path);
      if (le(r, 4) != kEnd64Sig) FC_FILE_FAIL(path, "no ZIP64 end record where its locator points (" << at << ")");
      disk = le(r + 16, 4);
      cd_disk = le(r + 20, 4);
      count_here = le(r + 24, 8);
      count = le(r + 32, 8);
      cd_size = le(r + 40, 8);
      cd_offset = le(r + 48, 8);
    }
  }
  if (disk != 0 || cd_disk != 0 || count_here != count) FC_FILE_FAIL(path, "multi-disk ZIP archives are not read");
  if (count > kMaxEntries) FC_FILE_FAIL(path, "central directory claims " << count << " members (limit " << kMaxEntries << ")");
  if (cd_offset > end_pos || cd_size > end_pos - cd_offset)
    FC_FILE_FAIL(path, "truncated: the central directory [" << cd_offset << ", +" << cd_size << ") lies outside the file");

  std::string cd(cd_size, '\0');
  read_all_at(fd_.fd, cd.data(), cd_size, cd_offset, path);
  const auto* c = reinterpret_cast<const unsigned char*>(cd.data());
  uint64_t at = 0;
  for (uint64_t k = 0; k < count; ++k) {
    if (cd_size - at < kCentralSize || le(c + at, 4) != kCentralSig)
      FC_FILE_FAIL(path, "central directory record " << k << " of " << count << " is damaged");
    const unsigned char* r = c + at;
    const uint64_t flags = le(r + 8, 2), method = le(r + 10, 2), name_len = le(r + 28, 2),
                   extra_len = le(r + 30, 2), comment_len = le(r + 32, 2);
    uint64_t csize = le(r + 20, 4), usize = le(r + 24, 4), local = le(r + 42, 4);
    if (cd_size - at - kCentralSize < name_len + extra_len + comment_len)
      FC_FILE_FAIL(path, "central directory record " << k << " runs past the directory");
    ZipEntry z;
    z.name.assign(cd.data() + at + kCentralSize, name_len);
    z.crc32 = static_cast<uint32_t>(le(r + 16, 4));
    apply_zip64_extra(path, z.name, r + kCentralSize + name_len, extra_len, &usize, &csize, &local);
    if (flags & 1) FC_FILE_FAIL(path, "member '" << z.name << "' is encrypted");
    if (methods == ZipMethods::StoredOnly && (method != 0 || csize != usize))
      FC_FILE_FAIL(path, "member '" << z.name << "' is compressed (method " << method
                                    << "); torch.save stores its members uncompressed");
    if (method != 0 && method != 8)
      FC_FILE_FAIL(path, "member '" << z.name << "' uses compression method " << method
                                    << "; only stored (0) and deflated (8) members are read");
    if (method == 0 && csize != usize)
      FC_FILE_FAIL(path, "member '" << z.name << "' is stored with two sizes (" << csize << " and " << usize << ")");
    if (method == 8 && usize > csize * kMaxInflateRatio + kInflateSlack)
      FC_FILE_FAIL(path, "member '" << z.name << "' claims " << usize << " bytes from " << csize
                                    << " deflated ones, more than deflate can make");
    z.method = static_cast<int>(method);
    if (!index_.emplace(z.name, entries_.size()).second) FC_FILE_FAIL(path, "member '" << z.name << "' appears twice");
    // The local header: its name and extra field (torch pads it to align the data)
    // come before the data; its sizes may be zeros (a data descriptor follows).
    unsigned char h[kLocalSize];
    if (local > cd_offset || cd_offset - local < kLocalSize)
      FC_FILE_FAIL(path, "member '" << z.name << "': local header at " << local << " lies outside the file's data");
    read_all_at(fd_.fd, h, kLocalSize, local, path);
    if (le(h, 4) != kLocalSig) FC_FILE_FAIL(path, "member '" << z.name << "': no local header at " << local);
    if (le(h + 26, 2) != name_len) FC_FILE_FAIL(path, "member '" << z.name << "': local header names another member");
    z.data_offset = local + kLocalSize + le(h + 26, 2) + le(h + 28, 2);
    z.size = usize;
    z.compressed_size = csize;
    if (z.data_offset > cd_offset || csize > cd_offset - z.data_offset)
      FC_FILE_FAIL(path, "truncated: member '" << z.name << "' (" << csize << " bytes at " << z.data_offset
                                               << ") runs into the central directory or past the file");
    entries_.push_back(std::move(z));
    at += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void ZipArchive::inflate(const ZipEntry& entry, void* buf) const {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) FC_FILE_FAIL(path_, "zlib cannot start inflating '" << entry.name << "'");
  std::string piece;
  Bytef none = 0;  // zlib wants an output pointer even for an empty member
  Bytef* out = entry.size > 0 ? static_cast<Bytef*>(buf) : &none;
  uint64_t read = 0, made = 0;
  int rc = Z_OK;
  // zlib counts in uInt: the output is handed over a piece at a time too.
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (read == entry.compressed_size) break;
      piece.resize(std::min(kInflatePiece, entry.compressed_size - read));
      read_all_at(fd_.fd, piece.data(), piece.size(), entry.data_offset + read, path_);
      read += piece.size();
      z.next_in = reinterpret_cast<Bytef*>(piece.data());
      z.avail_in = static_cast<uInt>(piece.size());
    }
    const uint64_t room = std::min<uint64_t>(entry.size - made, kInflatePiece);
    z.next_out = out + made;
    z.avail_out = static_cast<uInt>(room);
    rc = ::inflate(&z, Z_NO_FLUSH);
    made += room - z.avail_out;
    if (rc == Z_BUF_ERROR && made == entry.size) break;  // more output than the directory says
    if (rc != Z_OK && rc != Z_STREAM_END) break;
  }
  const bool whole = rc == Z_STREAM_END && made == entry.size;
  inflateEnd(&z);
  if (!whole)
    FC_FILE_FAIL(path_, "member '" << entry.name << "' is damaged: its deflate stream "
                                   << (rc == Z_STREAM_END || made == entry.size ? "does not make the "
                                                                                : "breaks off before ")
                                   << entry.size << " bytes the directory says");
}

void ZipArchive::read(const ZipEntry& entry, void* buf) const {
  if (entry.method == 8)
    inflate(entry, buf);
  else if (entry.size > 0)
    read_all_at(fd_.fd, buf, entry.size, entry.data_offset, path_);
  // zlib's crc32 takes a uInt length: in pieces.
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(buf);
  for (uint64_t done = 0; done < entry.size;) {
    const uInt n = static_cast<uInt>(std::min<uint64_t>(entry.size - done, 1u << 30));
    crc = crc32(crc, p + done, n);
    done += n;
  }
  if (static_cast<uint32_t>(crc) != entry.crc32)
    FC_FILE_FAIL(path_, "member '" << entry.name << "' is damaged (CRC-32 " << std::hex << crc << ", the directory says "
                                   << entry.crc32 << ")");
}

std::string ZipArchive::read_text(const ZipEntry& entry, uint64_t limit) const {
  if (entry.size > limit)
    FC_FILE_FAIL(path_, "member '" << entry.name << "' has " << entry.size << " bytes (limit " << limit << ")");
  std::string s(entry.size, '\0');
  read(entry, s.data());
  return s;
}

}  // namespace fc::io
