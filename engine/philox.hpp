#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011):
// a counter-based generator. Random block `counter` under key `seed` is a pure
// function, so any thread (or a GPU) can draw element i without the ones before it,
// and a seed gives the same numbers whatever the thread count or device.
#include <cstdint>

#include "engine/host_device.hpp"

namespace fc {

struct Philox4 {
  uint32_t v[4];
};

FC_HOST_DEVICE inline Philox4 philox4x32_10(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// A uniform float in [0, 1) from the top 24 bits, and one in (0, 1] for logs.
FC_HOST_DEVICE inline float philox_unit(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }
FC_HOST_DEVICE inline float philox_unit_open0(uint32_t x) {
  return ((x >> 8) + 1) * (1.0f / 16777216.0f);
}

}  // namespace fc
