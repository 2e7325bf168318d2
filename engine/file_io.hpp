#pragma once
// File plumbing shared by every reader and writer (safetensors, npy, CSV, JSON): errors
// as one line that starts with the path, descriptors closed on every way out, and
// atomic writes (a temp file beside the target, fsync, rename) so that an interrupted
// run never leaves a half-written checkpoint or sample file behind.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>

namespace fc::io {

// Throws fc::Error "PATH: WHAT", with control characters (from a corrupt header, say)
// replaced so that the message stays one line.
[[noreturn]] void fail(const std::string& path, const std::string& what);

std::string errno_text();

// Closes the descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Opens an existing regular file for reading; its size goes to *size. Fails "cannot
// open: ..." or "not a regular file" naming the path.
int open_for_reading(const std::string& path, uint64_t* size);

// write(2) until done; errors name the target path and the temp file written.
void write_all(int fd, const void* buf, size_t n, const std::string& path, const std::string& tmp);
// pread(2) exactly n bytes at offset `at`, or fail "truncated".
void read_all_at(int fd, void* buf, size_t n, uint64_t at, const std::string& path);

// Writes `path` atomically: `writer` fills PATH.tmp.PID through write_all; then fsync,
// rename over path, fsync the folder. On failure the temp file is removed and an
// existing file at path is left as it was. Before writing it removes the temps that
// killed processes left beside path (remove_stale_temps).
void atomic_write(const std::string& path,
                  const std::function<void(int fd, const std::string& tmp)>& writer);
void atomic_write_text(const std::string& path, const std::string& text);

// Removes DIR/NAME.tmp.PID files whose PID is no live process: what atomic_write leaves
// when its process is killed (SIGKILL, a crash) in the middle of a write, 17 MB a
// UNet checkpoint. Only files named NAME (any name when `name` is empty); a live
// process's temp, another user's included, is left alone. Returns how many it removed;
// an unreadable folder removes none.
int remove_stale_temps(const std::string& dir, const std::string& name = "");

// Makes the folder (and its parents) and checks that a file can be created and written
// in it, before any work: a read-only, full or misnamed output folder is one line
// naming it now, not an error at the first checkpoint after hours of training. Also
// removes the stale temps there.
void make_writable_dir(const std::string& dir);

}  // namespace fc::io

// FC_FILE_FAIL(path, "bad magic " << x): fail() with a streamed message.
#define FC_FILE_FAIL(path, msg)          \
  do {                                   \
    std::ostringstream fc_file_oss_;     \
    fc_file_oss_ << msg;                 \
    ::fc::io::fail((path), fc_file_oss_.str()); \
  } while (0)
