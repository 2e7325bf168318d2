#include "engine/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.hpp"

namespace fc::io {

void fail(const std::string& path, const std::string& what) {
  std::string msg = path + ": " + what;
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw Error(msg);
}

std::string errno_text() { return std::strerror(errno); }

Fd::~Fd() {
  if (fd >= 0) ::close(fd);
}

int open_for_reading(const std::string& path, uint64_t* size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) FC_FILE_FAIL(path, "cannot open: " << errno_text());
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) FC_FILE_FAIL(path, "cannot stat: " << errno_text());
  if (!S_ISREG(st.st_mode)) FC_FILE_FAIL(path, "not a regular file");
  *size = static_cast<uint64_t>(st.st_size);
  int out = fd.fd;
  fd.fd = -1;
  return out;
}

void write_all(int fd, const void* buf, size_t n, const std::string& path, const std::string& tmp) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) FC_FILE_FAIL(path, "cannot write " << tmp << ": " << (w < 0 ? errno_text() : "no progress"));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void read_all_at(int fd, void* buf, size_t n, uint64_t at, const std::string& path) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) FC_FILE_FAIL(path, "cannot read: " << errno_text());
    if (r == 0) FC_FILE_FAIL(path, "truncated: file ended while reading at byte " << at);
    p += r;
    at += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
}

namespace {
std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

void atomic_write(const std::string& path,
                  const std::function<void(int fd, const std::string& tmp)>& writer) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.fd < 0) FC_FILE_FAIL(path, "cannot create " << tmp << ": " << errno_text());
  try {
    writer(fd.fd, tmp);
    if (::fsync(fd.fd) != 0) FC_FILE_FAIL(path, "cannot fsync " << tmp << ": " << errno_text());
    int closed = ::close(fd.fd);
    fd.fd = -1;
    if (closed != 0) FC_FILE_FAIL(path, "cannot close " << tmp << ": " << errno_text());
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      FC_FILE_FAIL(path, "cannot rename " << tmp << " over it: " << errno_text());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable; a failure here cannot undo a completed write.
  int dir = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

void atomic_write_text(const std::string& path, const std::string& text) {
  atomic_write(path, [&](int fd, const std::string& tmp) { write_all(fd, text.data(), text.size(), path, tmp); });
}

}  // namespace fc::io
