#include "engine/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

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

int remove_stale_temps(const std::string& dir, const std::string& name) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d.get())) {
    // NAME.tmp.DIGITS, NAME this file's when given.
    const std::string file = e->d_name;
    const size_t at = name.empty() ? file.rfind(".tmp.") : name.size();
    if (at == std::string::npos || at == 0 || file.size() <= at + 5 || file.compare(at, 5, ".tmp.") != 0 ||
        file.compare(0, at, name.empty() ? file.substr(0, at) : name) != 0)
      continue;
    const std::string digits = file.substr(at + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const long pid = std::stol(digits);
    // kill(pid, 0) fails with ESRCH only when no process has that id (EPERM: alive).
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::unlink((dir + "/" + file).c_str()) == 0) ++removed;
  }
  return removed;
}

void make_writable_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) FC_FILE_FAIL(dir, "cannot make the output folder: " << ec.message());
  const std::string probe = dir + "/.write_test.tmp." + std::to_string(::getpid());
  {
    Fd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.fd < 0) FC_FILE_FAIL(dir, "cannot write in the output folder: " << errno_text());
    try {
      write_all(fd.fd, "ok\n", 3, dir, probe);
    } catch (...) {
      ::unlink(probe.c_str());
      throw;
    }
  }
  if (::unlink(probe.c_str()) != 0) FC_FILE_FAIL(dir, "cannot remove " << probe << ": " << errno_text());
  remove_stale_temps(dir);
}

void atomic_write(const std::string& path,
                  const std::function<void(int fd, const std::string& tmp)>& writer) {
  const size_t slash = path.find_last_of('/');
  remove_stale_temps(dir_of(path), slash == std::string::npos ? path : path.substr(slash + 1));
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
