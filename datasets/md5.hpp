#pragma once
// MD5 (RFC 1321), only to check downloads against the checksums torchvision publishes for
// MNIST, Fashion-MNIST and CIFAR-10: an integrity check against truncated or damaged
// files, not a security measure (MD5 is broken for that).
#include <cstddef>
#include <cstdint>
#include <string>

namespace fc::data {

class Md5 {
 public:
  Md5();
  void update(const void* bytes, size_t n);
  std::string hex_digest();  // 32 lowercase hex digits; ends the hash (call once)

 private:
  void block(const uint8_t* p);  // one 64-byte block into state_
  uint32_t state_[4];
  uint64_t length_ = 0;  // bytes hashed so far
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

// The MD5 of a whole file, hex; throws a one-line fc::Error naming it if it cannot be read.
std::string md5_of_file(const std::string& path);

}  // namespace fc::data
