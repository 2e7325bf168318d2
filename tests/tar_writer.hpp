#pragma once
// Writes tar archives byte for byte as POSIX ustar defines them (GNU tar reads what it
// writes: checked in tests/test_tar_archive.cpp), so that the tests and the fuzz seeds
// can make archives of any content, and damaged ones, without a tar program:
//   a 512-byte header per member (name, mode, sizes in octal, checksum, type, "ustar\0"
//   "00"), the data padded to 512 bytes, two zero blocks at the end.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace tar {

// Writes a header's checksum (after a test changed its bytes).
inline void reseal(std::string& h) {
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h.substr(0, 512)) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);  // six digits, NUL, space: as GNU tar writes it
  h[155] = ' ';
}

// One header; `size` is written as given (a test may lie in it). Names over 100 bytes
// go in the ustar prefix when they split at a '/', else they are cut (GNU's 'L' member
// is the way to write one: long_name below).
inline std::string header(const std::string& name, uint64_t size, char type = '0') {
  std::string h(512, '\0');
  std::string tail = name, prefix;
  if (name.size() > 100) {
    const size_t cut = name.rfind('/', 155);
    if (cut != std::string::npos && name.size() - cut - 1 <= 100) {
      prefix = name.substr(0, cut);
      tail = name.substr(cut + 1);
    }
  }
  std::memcpy(&h[0], tail.data(), std::min<size_t>(tail.size(), 100));
  std::snprintf(&h[100], 8, "%07o", type == '5' ? 0755u : 0644u);
  std::snprintf(&h[108], 8, "%07o", 0u);
  std::snprintf(&h[116], 8, "%07o", 0u);
  std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(&h[136], 12, "%011o", 0u);
  h[156] = type;
  std::memcpy(&h[257], "ustar\0" "00", 8);
  std::memcpy(&h[345], prefix.data(), std::min<size_t>(prefix.size(), 155));
  reseal(h);
  return h;
}

inline std::string padding(uint64_t size) { return std::string((512 - size % 512) % 512, '\0'); }

// A member with its data.
inline std::string member(const std::string& name, const std::string& data, char type = '0') {
  return header(name, data.size(), type) + data + padding(data.size());
}

inline std::string folder(const std::string& name) { return header(name, 0, '5'); }

// GNU's long name: an 'L' member holding the name, then the member itself.
inline std::string long_name(const std::string& name, const std::string& data) {
  return member("././@LongLink", name + '\0', 'L') + member(name.substr(0, 100), data);
}

// A pax extended header giving `name` to the member after it.
inline std::string pax_path(const std::string& name, const std::string& data) {
  std::string record = " path=" + name + "\n";
  size_t len = record.size() + 1;
  while (std::to_string(len).size() + record.size() != len) ++len;
  return member("PaxHeaders/x", std::to_string(len) + record, 'x') + member("short-name", data);
}

inline std::string end() { return std::string(1024, '\0'); }

}  // namespace tar
