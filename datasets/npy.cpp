#include "datasets/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "engine/error.hpp"
#include "engine/file_io.hpp"

// Data bytes go to and from disk as they lie in memory, and '<' means little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy I/O assumes a little-endian host");

namespace fc::data {
namespace {

using io::errno_text;
using io::Fd;
using io::read_all_at;
using io::write_all;

const char kMagic[] = "\x93NUMPY";  // 6 bytes, then major and minor version
constexpr size_t kMagicLen = 6;
// numpy refuses headers above 10 kB by default; allow more, but not a hostile length.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;


// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This reads exactly that grammar: string keys; string, True/False or int-tuple values.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<int64_t> shape;
  };

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    skip_space();
    while (peek() != '}') {
      std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (have_descr) bad("duplicate key 'descr'");
        h.descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) bad("duplicate key 'fortran_order'");
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) bad("duplicate key 'shape'");
        h.shape = int_tuple();
        have_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      item_separator('}', "expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) bad("text after the closing '}'");
    if (!have_descr || !have_order || !have_shape)
      bad(std::string("missing key '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) {
    FC_FILE_FAIL(path_, "npy: garbage header (" << what << " at offset " << i_ << ")");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  // After an item of a dict or tuple: a ',' (a trailing one is allowed) or the closer.
  void item_separator(char close, const char* error) {
    skip_space();
    if (peek() == ',') {
      ++i_;
      skip_space();
    } else if (peek() != close) {
      bad(error);
    }
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    skip_space();
    while (peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("expected a non-negative integer in shape");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (INT64_MAX - 9) / 10) bad("shape dimension too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2 long suffix
      dims.push_back(v);
      item_separator(')', "expected ',' or ')' in shape");
    }
    ++i_;
    return dims;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace

void save_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) FC_FILE_FAIL(path, "save_npy: undefined tensor");
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < t.ndim(); ++i) dict << (i ? ", " : "") << t.dim(i);
  if (t.ndim() == 1) dict << ',';  // Python's one-element tuple
  dict << "), }";
  std::string header = dict.str();
  // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  size_t total = kMagicLen + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string head(kMagic, kMagicLen);
  head.push_back('\x01');
  head.push_back('\x00');
  head.push_back(static_cast<char>(header.size() & 0xff));
  head.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  head += header;

  std::vector<float> host;
  const float* data = nullptr;
  if (t.is_cpu()) {
    data = t.cpu_data();
  } else {
    host = t.to_vector();
    data = host.data();
  }

  io::atomic_write(path, [&](int fd, const std::string& tmp) {
    write_all(fd, head.data(), head.size(), path, tmp);
    write_all(fd, data, static_cast<size_t>(t.numel()) * sizeof(float), path, tmp);
  });
}

Tensor load_npy(const std::string& path) {
  uint64_t file_size = 0;
  Fd fd(io::open_for_reading(path, &file_size));

  unsigned char pre[kMagicLen + 2];
  if (file_size < sizeof(pre)) FC_FILE_FAIL(path, "not an npy file (only " << file_size << " bytes)");
  read_all_at(fd.fd, pre, sizeof(pre), 0, path);
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) FC_FILE_FAIL(path, "not an npy file (bad magic)");
  const int major = pre[kMagicLen], minor = pre[kMagicLen + 1];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    FC_FILE_FAIL(path, "npy: unsupported format version " << major << "." << minor << " (want 1.0, 2.0 or 3.0)");

  // Version 1 stores the header length in 2 bytes, later versions in 4 (little-endian).
  const uint64_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {0, 0, 0, 0};
  if (file_size < sizeof(pre) + len_bytes) FC_FILE_FAIL(path, "npy: truncated: file ends inside the header length");
  read_all_at(fd.fd, len_buf, len_bytes, sizeof(pre), path);
  uint64_t header_len = 0;
  for (uint64_t i = 0; i < len_bytes; ++i) header_len |= static_cast<uint64_t>(len_buf[i]) << (8 * i);
  const uint64_t data_begin = sizeof(pre) + len_bytes + header_len;
  if (header_len > kMaxHeaderBytes) FC_FILE_FAIL(path, "npy: header length " << header_len << " is implausible");
  if (data_begin > file_size)
    FC_FILE_FAIL(path, "npy: truncated: header of " << header_len << " bytes runs past the end of the file");
  std::string header(header_len, '\0');
  read_all_at(fd.fd, &header[0], header_len, sizeof(pre) + len_bytes, path);

  HeaderParser::Header h = HeaderParser(path, header).parse();
  size_t item = 0;
  if (h.descr == "<f4") {
    item = 4;
  } else if (h.descr == "<f8") {
    item = 8;
  } else {
    FC_FILE_FAIL(path, "npy: unsupported dtype '" << h.descr << "' (want '<f4' or '<f8')");
  }
  if (h.fortran_order) FC_FILE_FAIL(path, "npy: fortran_order True is not supported (save with C order)");
  if (static_cast<int>(h.shape.size()) > kMaxDims)
    FC_FILE_FAIL(path, "npy: " << h.shape.size() << " dimensions; at most " << kMaxDims << " are supported");

  uint64_t numel = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel))
      FC_FILE_FAIL(path, "npy: shape is too large");
  uint64_t want = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(item), &want)) FC_FILE_FAIL(path, "npy: shape is too large");
  const uint64_t have = file_size - data_begin;
  if (have != want) {
    std::ostringstream shape;
    shape << '(';
    for (size_t i = 0; i < h.shape.size(); ++i) shape << (i ? ", " : "") << h.shape[i];
    shape << ')';
    FC_FILE_FAIL(path, "npy: " << (have < want ? "truncated: " : "size mismatch: ") << "shape " << shape.str()
                           << " of " << h.descr << " needs " << want << " data bytes, the file has " << have);
  }

  Tensor t = Tensor::empty(Shape(h.shape));
  if (numel == 0) return t;
  if (item == 4) {
    read_all_at(fd.fd, t.cpu_data(), want, data_begin, path);
  } else {
    // Convert in chunks so a large f8 file never needs a second full-size buffer.
    constexpr uint64_t kChunk = 1 << 16;
    std::vector<double> buf(static_cast<size_t>(std::min<uint64_t>(kChunk, numel)));
    float* out = t.cpu_data();
    for (uint64_t done = 0; done < numel;) {
      uint64_t n = std::min<uint64_t>(kChunk, numel - done);
      read_all_at(fd.fd, buf.data(), n * 8, data_begin + done * 8, path);
      for (uint64_t i = 0; i < n; ++i) out[done + i] = static_cast<float>(buf[i]);
      done += n;
    }
  }
  return t;
}

}  // namespace fc::data
