#include "engine/allocator.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/cuda/backend.hpp"
#include "engine/error.hpp"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

namespace fc {
namespace {

constexpr size_t kAlignment = 64;  // a cache line, and enough for AVX-512 loads

// memcheck, in make check's AddressSanitizer build: every block gets poisoned red zones
// before and after the bytes asked for (on top of its size class, so the counts below
// are those of any build), and a block goes into the cache poisoned whole. An access past a
// tensor's end or into a freed tensor, by a CPU loop or by a kernel on the emulated
// device (whose memory is host memory), stops at once with ASan's report, which names
// the function (the kernel) and, through describe_address, the block it fell in. (The
// raw allocations keep their own bounds: the emulator's cudaMalloc, malloc's.)
// (The emulated device's memcheck asks for the same red zones, RawAllocator::red_zone.)
#ifdef __SANITIZE_ADDRESS__
constexpr size_t kRedZone = 64;  // on each side: an off-by-one element, a float4 load; keeps 64-byte alignment
void poison(void* p, size_t n) { __asan_poison_memory_region(p, n); }
void unpoison(void* p, size_t n) { __asan_unpoison_memory_region(p, n); }
#else
constexpr size_t kRedZone = 0;
void poison(void*, size_t) {}
void unpoison(void*, size_t) {}
#endif

void* cpu_alloc(size_t bytes) { return std::aligned_alloc(kAlignment, bytes); }
void cpu_free(void* p) { std::free(p); }

// Rounds a request up so that near-equal sizes share a free list: exact multiples
// of 512 bytes below 1 MiB, of 64 KiB above. Exact reuse keeps peak memory close to
// what the tensors really need.
size_t round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t q = bytes < (1u << 20) ? 512 : (64u << 10);
  return (bytes + q - 1) / q * q;
}

class CachingAllocator {
 public:
  // The red zones are chosen once, with the first raw allocator.
  explicit CachingAllocator(RawAllocator raw) : raw_(raw), red_zone_(std::max(kRedZone, raw.red_zone)) {}
  ~CachingAllocator() { release_cache(); }

  void* allocate(size_t bytes) {
    size_t size = round_size(bytes);  // the size class; the red zones come on top
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    // The smallest cached block that fits, up to twice the size: a model whose
    // tensors come in many sizes (a UNet) would otherwise keep one cache per size and
    // reserve several times what it uses. Reusing a cached block never grows the
    // reserved total; the factor 2 bounds what a small tensor can hold on to.
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= it->first;
      size = it->first;
      if (it->second.empty()) free_.erase(it);
    } else {
      p = raw_.alloc(size + 2 * red_zone_);
      if (!p) {
        // Out of memory: give the cache back and try once more.
        release_cache_locked();
        p = raw_.alloc(size + 2 * red_zone_);
        FC_CHECK(p, "out of memory allocating " << size << " bytes");
      }
      ++stats_.system_allocs;
    }
    poison(p, red_zone_);
    void* block = p;
    p = static_cast<char*>(p) + red_zone_;  // what the tensor gets
    active_[p] = {size, bytes};
    unpoison(p, bytes);
    if (raw_.handed_out) raw_.handed_out(block, size + 2 * red_zone_, p, bytes);
    poison(static_cast<char*>(p) + bytes, size - bytes + red_zone_);
    stats_.active_bytes += size;
    if (stats_.active_bytes > stats_.peak_active_bytes) stats_.peak_active_bytes = stats_.active_bytes;
    size_t reserved = stats_.active_bytes + stats_.cached_bytes;
    if (reserved > stats_.peak_reserved_bytes) stats_.peak_reserved_bytes = reserved;
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto known = active_.find(p);
    size_t size = known != active_.end() ? known->second.size : round_size(bytes);
    if (known != active_.end()) active_.erase(known);
    p = static_cast<char*>(p) - red_zone_;  // the block
    if (raw_.taken_back) raw_.taken_back(p, size + 2 * red_zone_);
    poison(p, size + 2 * red_zone_);
    free_[size].push_back(p);
    stats_.active_bytes -= size;
    stats_.cached_bytes += size;
  }

  // Where p lies: in or just past an active block (how far past the bytes asked for),
  // or in a cached (freed) one; "" when in none of this allocator's blocks.
  std::string describe(const void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    const char* c = static_cast<const char*>(p);
    for (const auto& [data, block] : active_) {
      const size_t size = block.size, asked = block.asked;
      const char* d = static_cast<const char*>(data);
      if (c < d - red_zone_ || c >= d + size + red_zone_) continue;
      const std::ptrdiff_t at = c - d;
      std::ostringstream o;
      o << "byte " << at << " of a live " << asked << "-byte tensor at " << data;
      if (at < 0) o << ": " << -at << " bytes before its start";
      if (at >= 0 && static_cast<size_t>(at) >= asked) o << ": " << static_cast<size_t>(at) - asked << " bytes past its end";
      return o.str();
    }
    for (const auto& [size, blocks] : free_)
      for (void* block : blocks) {
        const char* b = static_cast<const char*>(block);
        if (c >= b && c < b + size + 2 * red_zone_) {
          std::ostringstream o;
          o << "byte " << (c - b - static_cast<std::ptrdiff_t>(red_zone_)) << " of a freed " << size
            << "-byte block at " << static_cast<const void*>(b + red_zone_) << " (use after free)";
          return o.str();
        }
      }
    return "";
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_active_bytes = stats_.active_bytes;
    stats_.peak_reserved_bytes = stats_.active_bytes + stats_.cached_bytes;
  }
  void release_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cache_locked();
  }
  void set_raw(RawAllocator raw) {
    std::lock_guard<std::mutex> lock(mu_);
    release_cache_locked();
    raw_ = raw;
  }

 private:
  void release_cache_locked() {
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) {
        unpoison(p, size + 2 * red_zone_);
        raw_.free(p);
        ++stats_.system_frees;
      }
      stats_.cached_bytes -= size * blocks.size();
    }
    free_.clear();
  }

  std::mutex mu_;
  RawAllocator raw_;
  size_t red_zone_;
  std::map<size_t, std::vector<void*>> free_;       // cached blocks by size, never empty
  struct ActiveBlock {
    size_t size;   // its size class
    size_t asked;  // the bytes its tensor asked for
  };
  std::unordered_map<void*, ActiveBlock> active_;  // every active block, by the pointer handed out
  MemoryStats stats_;
};

CachingAllocator& allocator(Device d) {
  // Leaked on purpose: tensors in static objects may be freed after main returns.
  static CachingAllocator* allocators[kNumDevices] = {
      new CachingAllocator({cpu_alloc, cpu_free}),
      new CachingAllocator(cuda::raw_allocator()),
  };
  return *allocators[static_cast<int>(d)];
}

}  // namespace

void* device_alloc(Device d, size_t bytes) { return allocator(d).allocate(bytes); }
std::string describe_address(Device d, const void* p) { return allocator(d).describe(p); }
void device_free(Device d, void* p, size_t bytes) { allocator(d).deallocate(p, bytes); }
MemoryStats memory_stats(Device d) { return allocator(d).stats(); }
void reset_peak_memory(Device d) { allocator(d).reset_peak(); }
void empty_cache(Device d) { allocator(d).release_cache(); }
void set_raw_allocator(Device d, RawAllocator raw) { allocator(d).set_raw(raw); }

}  // namespace fc
