#pragma once
// One seeded generator. It is a (seed, offset) pair over Philox: each draw of n
// numbers uses blocks [offset, offset + ceil(n/4)) and advances offset, so the state
// is two integers that a checkpoint can store, and the numbers do not depend on the
// thread count or the device.
#include <cstdint>

#include "engine/tensor.hpp"

namespace fc {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  Tensor uniform(const Shape& shape, float lo = 0.f, float hi = 1.f, Device d = Device::CPU);
  Tensor normal(const Shape& shape, float mean = 0.f, float std = 1.f, Device d = Device::CPU);
  // Integers in [lo, hi), stored as float.
  Tensor randint(const Shape& shape, int64_t lo, int64_t hi, Device d = Device::CPU);
  // +1 or -1 with equal probability (Hutchinson probes).
  Tensor rademacher(const Shape& shape, Device d = Device::CPU);

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }

 private:
  uint64_t take(int64_t n);  // reserves the blocks for n numbers, returns the first
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace fc
