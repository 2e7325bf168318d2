#pragma once
// Helpers the test files share: a scratch folder and whole-file reads and writes.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

// A fresh directory under /tmp, removed with everything in it at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/flowcpp_test_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Restores an environment variable when the test ends, pass or fail; set() changes it.
struct EnvGuard {
  std::string name, old;
  bool had;
  explicit EnvGuard(const char* n) : name(n) {
    const char* v = std::getenv(n);
    had = v != nullptr;
    if (had) old = v;
  }
  EnvGuard(const char* n, const std::string& value) : EnvGuard(n) { set(value); }
  void set(const std::string& value) const { ::setenv(name.c_str(), value.c_str(), 1); }
  ~EnvGuard() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

// Both throw (and so fail the test) when the file cannot be read or written.
// sum (a - b)^2 / sum a^2 over two host vectors (sum (a - b)^2 when a is all zeros):
// how the tests compare one device's numbers with another's.
inline double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(a[i]) * a[i];
  }
  return den > 0 ? num / den : num;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f.good()) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.good()) throw std::runtime_error("cannot write " + path);
}

// True in the sanitizer build (make check, FC_SANITIZE), where a whole UNet on the
// emulated device (fibers under AddressSanitizer at -O1) takes many minutes; the test
// then says it skips, and make test, which CI runs too, runs it. Call it inside a
// TEST_CASE (it reports through Catch's WARN).
#define FC_SKIP_IN_SANITIZER_BUILD(what)                                                          \
  do {                                                                                           \
    if (fc_sanitizer_build()) {                                                                  \
      WARN("skipped in the sanitizer build (make check): " << what                               \
                                                             << " takes minutes there; make test runs it"); \
      return;                                                                                    \
    }                                                                                            \
  } while (0)
inline bool fc_sanitizer_build() {
#ifdef FC_SANITIZE
  return true;
#else
  return false;
#endif
}
