#include "datasets/gzip_reader.hpp"

#include <algorithm>

#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {

GzipReader::GzipReader(const std::string& path) : path_(path) {
  io::Fd fd(io::open_for_reading(path, &file_size_));
  gz_ = gzdopen(fd.fd, "rb");
  if (gz_ == nullptr) FC_FILE_FAIL(path, "cannot open: out of memory");
  fd.fd = -1;  // gzclose closes it
}

GzipReader::~GzipReader() { gzclose(gz_); }

uint64_t GzipReader::read(uint8_t* out, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    const unsigned want = static_cast<unsigned>(std::min<uint64_t>(n - done, 1 << 20));
    const int got = gzread(gz_, out + done, want);
    if (got < 0) {
      int code = 0;
      std::string why = gzerror(gz_, &code);
      if (why.rfind("<fd:", 0) == 0 && why.find(": ") != std::string::npos) why.erase(0, why.find(": ") + 2);
      FC_FILE_FAIL(path_, "cannot read: " << (code == Z_ERRNO ? io::errno_text() : why));
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

bool GzipReader::gzip() const { return gzdirect(gz_) == 0; }

bool GzipReader::ended_early() const {
  int code = Z_OK;
  gzerror(gz_, &code);
  return code == Z_BUF_ERROR;  // zlib's "unexpected end of file"
}

}  // namespace fc::data
