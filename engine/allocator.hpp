#pragma once
// A caching allocator per device. Freed blocks are kept in per-size free lists and
// handed out again, so a training step that repeats the shapes of the previous one
// makes no system allocation. It counts active bytes (held by live tensors), their
// peak, cached bytes (freed but kept) and the number of system allocations.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/device.hpp"

namespace fc {

struct MemoryStats {
  size_t active_bytes = 0;       // in live tensors
  size_t peak_active_bytes = 0;  // maximum of active_bytes since the last reset
  size_t cached_bytes = 0;       // freed by tensors, kept for reuse
  size_t peak_reserved_bytes = 0;  // maximum of active + cached (what the process holds)
  uint64_t system_allocs = 0;    // calls to the system allocator
  uint64_t system_frees = 0;
};

// Raw memory of a device: what the caching allocator calls when its cache misses.
struct RawAllocator {
  void* (*alloc)(size_t bytes);
  void (*free)(void* p);
  // For the emulated device's memcheck and initcheck (their shadow memory), may be null:
  // told of every block handed to a tensor, new or from the cache (the whole block, red
  // zones included, and the tensor's bytes in it), and of every block taken back into
  // the cache.
  void (*handed_out)(void* block, size_t block_bytes, void* p, size_t bytes) = nullptr;
  void (*taken_back)(void* block, size_t block_bytes) = nullptr;
  // Bytes of red zone wanted before and after every tensor (at least 64 under
  // AddressSanitizer): an access there is memcheck's finding, not a neighbour's bytes.
  size_t red_zone = 0;
};

void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);
// Where p lies among the blocks of d's allocator: "byte 1028 of a live 1024-byte tensor
// at 0x...: 4 bytes past its end", "... of a freed ... block ... (use after free)", or ""
// (for memcheck's reports: under AddressSanitizer every block has a poisoned red zone
// after the bytes asked for, and a freed block is poisoned whole).
std::string describe_address(Device d, const void* p);

MemoryStats memory_stats(Device d = Device::CPU);
void reset_peak_memory(Device d = Device::CPU);
// Returns every cached block to the system.
void empty_cache(Device d = Device::CPU);

// Installed by a backend that can allocate (the CUDA backend, when built).
void set_raw_allocator(Device d, RawAllocator raw);

}  // namespace fc
