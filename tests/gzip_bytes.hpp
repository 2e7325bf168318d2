#pragma once
// A byte string deflated in memory, for the tests' and the fuzz targets' fixtures:
// gzip_bytes with a gzip header and trailer, as gzip(1) writes them (.gz IDX files,
// .tar.gz archives); raw_deflate_bytes bare, as a ZIP member's data (method 8).
#include <zlib.h>

#include <stdexcept>
#include <string>

// window_bits as deflateInit2 takes them: 15 + 16 a gzip stream, -15 a raw one.
inline std::string deflate_bytes(const std::string& raw, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, raw.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

inline std::string gzip_bytes(const std::string& raw) { return deflate_bytes(raw, 15 + 16); }
inline std::string raw_deflate_bytes(const std::string& raw) { return deflate_bytes(raw, -15); }
