#include "datasets/tar_archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "datasets/gzip_reader.hpp"
#include "engine/cancel.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kBlock = 512;
constexpr uint64_t kPiece = 1 << 20;           // copied at a time
constexpr uint64_t kMaxHeaderData = 1 << 20;  // a long name or pax header read into memory

// Header fields: offset and length in the 512-byte block (POSIX ustar).
struct Field {
  size_t at, len;
};
constexpr Field kName{0, 100}, kSize{124, 12}, kChecksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kPrefix{345, 155};

std::string text_of(const uint8_t* h, Field f) {
  const char* p = reinterpret_cast<const char*>(h + f.at);
  return std::string(p, strnlen(p, f.len));
}

// An octal number (leading spaces, then digits, then spaces or NULs to the field's end)
// or GNU's base-256 (the first byte's top bit set). false when it is neither.
bool number_of(const uint8_t* h, Field f, uint64_t* out) {
  const uint8_t* p = h + f.at;
  uint64_t v = 0;
  if (p[0] & 0x80) {
    if (p[0] & 0x40) return false;  // negative
    v = p[0] & 0x3f;
    for (size_t i = 1; i < f.len; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | p[i];
    }
    *out = v;
    return true;
  }
  size_t i = 0;
  while (i < f.len && p[i] == ' ') ++i;
  const size_t first_digit = i;
  for (; i < f.len && p[i] >= '0' && p[i] <= '7'; ++i) v = (v << 3) | static_cast<uint64_t>(p[i] - '0');
  if (i == first_digit && i < f.len && p[i] != '\0') return false;
  for (; i < f.len; ++i)
    if (p[i] != ' ' && p[i] != '\0') return false;
  *out = v;
  return true;
}

// The header's checksum holds, read as unsigned bytes (POSIX) or signed ones (old tars).
bool checksum_holds(const uint8_t* h) {
  uint64_t stored = 0;
  if (!number_of(h, kChecksum, &stored)) return false;
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksum.at && i < kChecksum.at + kChecksum.len;
    unsigned_sum += in_field ? ' ' : h[i];
    signed_sum += in_field ? ' ' : static_cast<int8_t>(h[i]);
  }
  return static_cast<int64_t>(stored) == unsigned_sum || static_cast<int64_t>(stored) == signed_sum;
}

// The name relative to the destination: "." and empty parts dropped, a trailing '/'
// too; "" for the folder itself. Absolute names and ".." parts refuse the archive.
std::string inside_name(const std::string& name, const std::string& archive, const std::string& member) {
  if (name.empty()) FC_FILE_FAIL(archive, member << " has no name");
  if (name[0] == '/') FC_FILE_FAIL(archive, member << " has an absolute name; refused (it would unpack outside the folder)");
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part == "..") FC_FILE_FAIL(archive, member << " has a '..' in its name; refused (it would unpack outside the folder)");
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
    start = end + 1;
  }
  return out;
}

class Unpacker {
 public:
  Unpacker(const std::string& archive, const std::string& dest) : archive_(archive), dest_(dest), in_(archive) {}

  TarContents run() {
    std::error_code ec;
    fs::create_directories(dest_, ec);
    if (ec) FC_FILE_FAIL(dest_, "cannot create the folder (" << ec.message() << ")");
    uint8_t h[kBlock];
    for (uint64_t index = 1;; ++index) {
      cancellation_point();
      const uint64_t got = in_.read(h, kBlock);
      if (got == 0)
        FC_FILE_FAIL(archive_, (index == 1 ? "is empty, not a tar archive"
                                           : "ends without its end-of-archive block: cut short?"));
      if (got < kBlock) FC_FILE_FAIL(archive_, "cut short in the header of member " << index);
      if (std::all_of(h, h + kBlock, [](uint8_t b) { return b == 0; })) break;
      member_ = "member " + std::to_string(index);
      if (!checksum_holds(h))
        FC_FILE_FAIL(archive_, member_ << ": bad header checksum; not a tar archive, or a damaged one");
      read_member(h);
    }
    drain();
    if (in_.ended_early()) FC_FILE_FAIL(archive_, "the gzip stream is cut short");
    return contents_;
  }

 private:
  void read_member(const uint8_t* h) {
    uint64_t size = 0;
    if (!number_of(h, kSize, &size)) FC_FILE_FAIL(archive_, member_ << ": the size field is not a number");
    if (pax_size_ >= 0) size = static_cast<uint64_t>(pax_size_);
    std::string name = long_name_;
    if (name.empty()) {
      name = text_of(h, kName);
      // POSIX ustar ("ustar\0") only: old GNU archives ("ustar  ") keep times where the prefix would be.
      if (std::memcmp(h + kMagic.at, "ustar\0", 6) == 0 && h[kPrefix.at] != 0) name = text_of(h, kPrefix) + "/" + name;
    }
    const char type = static_cast<char>(h[kType.at]);
    if (type == 'L' || type == 'x') {
      const std::string data = read_small(size);
      if (type == 'L') long_name_ = std::string(data.c_str());  // NUL-terminated
      if (type == 'x') read_pax(data);
      return;  // they describe the next member
    }
    long_name_.clear();
    pax_size_ = -1;
    member_ += " ('" + name + "')";
    const bool folder = type == '5' || ((type == '0' || type == '\0') && !name.empty() && name.back() == '/');
    const bool file = !folder && (type == '0' || type == '\0' || type == '7');
    if (!folder && !file) {  // 'g' (pax globals), links, devices, FIFOs, GNU's own types
      if (type != 'g') ++contents_.skipped;
      skip(padded(size));
      return;
    }
    const std::string rel = inside_name(name, archive_, member_);
    const std::string path = rel.empty() ? dest_ : dest_ + "/" + rel;
    std::error_code ec;
    fs::create_directories(folder ? fs::path(path) : fs::path(path).parent_path(), ec);
    if (ec) FC_FILE_FAIL(archive_, member_ << ": cannot create the folder for " << path << " (" << ec.message() << ")");
    if (folder) {
      ++contents_.folders;
      skip(padded(size));
      return;
    }
    if (rel.empty()) FC_FILE_FAIL(archive_, member_ << " is a file without a name");
    copy_to(path, size);
    skip(padded(size) - size);
    auto same = [&](const TarFile& f) { return f.name == rel; };
    contents_.files.erase(std::remove_if(contents_.files.begin(), contents_.files.end(), same), contents_.files.end());
    contents_.files.push_back({rel, size});
  }

  static uint64_t padded(uint64_t size) { return size + (kBlock - size % kBlock) % kBlock; }

  // Reads n bytes or fails "cut short"; nullptr `out` discards them.
  void read_exactly(uint8_t* out, uint64_t n) {
    if (in_.read(out, n) < n) FC_FILE_FAIL(archive_, member_ << " is cut short: the archive ends inside it");
  }

  void skip(uint64_t n) {
    std::vector<uint8_t> buf(std::min(n, kPiece));
    for (uint64_t left = n; left > 0;) {
      const uint64_t k = std::min(left, kPiece);
      read_exactly(buf.data(), k);
      left -= k;
      cancellation_point();
    }
  }

  std::string read_small(uint64_t size) {
    if (size > kMaxHeaderData) FC_FILE_FAIL(archive_, member_ << ": a long name or pax header of " << size << " bytes");
    std::string data(size, '\0');
    read_exactly(reinterpret_cast<uint8_t*>(data.data()), size);
    skip(padded(size) - size);
    return data;
  }

  // pax records "LEN key=value\n": the path and size of the next member.
  void read_pax(const std::string& data) {
    for (size_t at = 0; at < data.size();) {
      size_t len = 0, i = at;
      for (; i < data.size() && data[i] >= '0' && data[i] <= '9' && len <= data.size(); ++i) len = 10 * len + (data[i] - '0');
      const size_t eq = data.find('=', i);
      if (i == at || i >= data.size() || data[i] != ' ' || len <= i - at + 1 || len > data.size() - at ||
          data[at + len - 1] != '\n' || eq == std::string::npos || eq >= at + len)
        FC_FILE_FAIL(archive_, member_ << ": a damaged pax header");
      const std::string key = data.substr(i + 1, eq - i - 1), value = data.substr(eq + 1, at + len - 1 - (eq + 1));
      if (key == "path") long_name_ = value;
      if (key == "size") {
        if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos)
          FC_FILE_FAIL(archive_, member_ << ": the pax size '" << value << "' is not a number");
        pax_size_ = std::stoll(value);
      }
      at += len;
    }
  }

  void copy_to(const std::string& path, uint64_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) FC_FILE_FAIL(archive_, member_ << ": cannot create " << path << ": " << io::errno_text());
    io::Fd guard(fd);
    try {
      std::vector<uint8_t> buf(std::min(size, kPiece));
      for (uint64_t left = size; left > 0;) {
        const uint64_t k = std::min(left, kPiece);
        read_exactly(buf.data(), k);
        io::write_all(fd, buf.data(), k, path, path);
        left -= k;
        cancellation_point();
      }
    } catch (...) {
      std::error_code ec;
      fs::remove(path, ec);
      throw;
    }
  }

  // The rest after the end block (the second zero block, the padding to a 10 KiB
  // record), read so that a gzip stream cut short is seen.
  void drain() {
    uint8_t buf[kBlock];
    while (in_.read(buf, kBlock) > 0) cancellation_point();
  }

  std::string archive_, dest_;
  GzipReader in_;
  TarContents contents_;
  std::string member_, long_name_;
  int64_t pax_size_ = -1;
};

}  // namespace

TarContents extract_tar(const std::string& archive, const std::string& dest_dir) {
  return Unpacker(archive, dest_dir).run();
}

}  // namespace fc::data
