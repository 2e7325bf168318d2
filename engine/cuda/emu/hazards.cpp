// memcheck, racecheck and initcheck on the emulated device, in the spirit of
// compute-sanitizer's tools of the same names (docs/cuda.md, "Checks").
//
// How accesses get here. The hazards build compiles the kernels (engine/cuda/*.cu, the
// planted ones of tests/*.cu) with g++ -fsanitize=thread: every load and store of that
// code calls __tsan_readN / __tsan_writeN, atomics call __tsan_atomicN_*. No
// ThreadSanitizer runtime is linked: this file defines those entry points (in the
// FC_EMU_HAZARDS object only) and looks at the accesses made inside a launch; host code
// and a thread's own stack are skipped.
//
// racecheck. Inside a block, two accesses to one 4-byte word by different threads, at
// least one a write, race unless a barrier lies between them: a __syncthreads, or a
// warp barrier (__syncwarp, a shuffle, a vote) when both threads are in one warp.
// Every block barrier starts a new interval and every warp barrier a new interval of
// its warp; each word remembers its last writer and up to two readers with the
// intervals they were in, so what it finds does not depend on the order the emulator
// ran the threads in (a third reader in one interval is forgotten: a writer then races
// with one of the two kept anyway). Between blocks of one launch, device memory only (blocks
// share nothing else): a word written by one block and read or written by another.
// Atomics race with nothing (as in compute-sanitizer).
//
// memcheck. Every byte of device memory has an addressable bit: set by cudaMalloc,
// narrowed to the bytes a tensor asked for while the caching allocator lends it a block,
// cleared when the block goes back into the cache and by cudaFree. A kernel's access to
// a byte that is not addressable (past a tensor's end, into a cached or freed block) is
// a finding, and so are copies and memsets that touch one. (make check's AddressSanitizer
// build does the same with red zones for every access, host code's included.)
//
// initcheck. Every byte of device memory has a written bit: cleared when the caching
// allocator hands a block to a new tensor (stricter than compute-sanitizer, which
// tracks cudaMalloc only: stale bytes of an earlier tensor count as unwritten here),
// set by kernels' stores and atomics, by copies and memsets into device memory and by
// cuBLAS's output; a kernel's load or atomic (and cuBLAS's inputs) of an unwritten byte
// is a finding. Copies out of device memory are not checked (as in compute-sanitizer).
//
// Traffic (for bench/roofline.py): with FC_EMU_TRAFFIC=FILE, every launch's distinct
// bytes of device memory touched (each 4-byte word once a launch: what a GPU must move
// at least, whatever its caches) and the arithmetic its launcher declared (note_flops),
// summed by kernel and written to FILE as JSON lines at exit. Atomics' bytes are not
// counted.
//
// A finding fails the launch like a fault (cudaErrorLaunchFailure, the first finding as
// the error's detail, "and N more"): the backend then throws naming the kernel.
#include "engine/cuda/emu/hazards.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/cuda/emu/launch_record.hpp"

namespace fc::emu::hazards {
namespace {

#ifdef FC_EMU_HAZARDS
bool g_enabled = true;
#else
bool g_enabled = false;
#endif

// ---- where a launch stands
struct LaunchState {
  uint32_t launch = 0;         // 1, 2, ...: tags the device shadow's block records
  uint64_t block_serial = 0;   // every block of every launch: tags the block's word map
  uint32_t block_linear = 0;   // the block's index in its grid
  uint32_t interval = 0;       // block barriers passed in this block
  std::vector<uint16_t> warp_interval;
  const char* kernel = "";
  std::string first;  // the first finding
  uint64_t more = 0;  // how many came after it
  uint64_t bytes = 0;     // distinct device bytes touched
  double flops = 0, next_flops = 0;  // declared by the launcher (note_flops)
};
LaunchState g_state;
__thread uintptr_t t_stack_lo = 0, t_stack_hi = 0;

// ---- device memory's shadows, one entry per 4-byte word: the addressable bits (high
// nibble) and written bits (low nibble) of its four bytes, and which block of which
// launch touched it (launch << 32 | block << 1 | wrote)
uintptr_t g_dev_lo = 0, g_dev_hi = 0;
uint8_t* g_bytes = nullptr;
uint64_t* g_blocks = nullptr;
constexpr unsigned kAddressable = 4;  // the shift of the addressable nibble

template <class T>
T* reserve_shadow(size_t entries) {
  void* p = mmap(nullptr, entries * sizeof(T), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "CUDA emulator: cannot reserve the shadow of device memory for racecheck/initcheck\n");
    std::abort();
  }
  return static_cast<T*>(p);
}
void ensure_shadows() {
  if (g_bytes || g_dev_hi == g_dev_lo) return;
  g_bytes = reserve_shadow<uint8_t>((g_dev_hi - g_dev_lo) / 4);
  g_blocks = reserve_shadow<uint64_t>((g_dev_hi - g_dev_lo) / 4);
}
bool on_device(uintptr_t a) { return a >= g_dev_lo && a < g_dev_hi; }
size_t word_of(uintptr_t a) { return (a - g_dev_lo) / 4; }
// The bits of the bytes of [a, a + n) that fall in word a / 4.
uint8_t byte_bits(uintptr_t a, size_t n) {
  unsigned first = a % 4, last = std::min<uintptr_t>(4, first + n);
  return static_cast<uint8_t>(((1u << last) - 1) & ~((1u << first) - 1));
}

// ---- the block's words: who touched them in which interval
struct Touch {
  uint32_t interval;
  uint16_t thread, warp_interval;
};
struct Word {
  uint64_t block_serial = 0;
  Touch write{}, reads[2]{};
  bool written = false;
  uint8_t n_reads = 0;
};
std::unordered_map<uintptr_t, Word> g_words;  // key: address / 4

// Two touches race unless a barrier both threads take lies between them.
bool concurrent(const Touch& earlier, unsigned thread) {
  if (earlier.interval != g_state.interval || earlier.thread == thread) return false;
  unsigned warp = thread / 32;
  return earlier.thread / 32 != warp || earlier.warp_interval == g_state.warp_interval[warp];
}

// ---- findings
uint3 thread_coords(unsigned linear) {
  const dim3 d = t_block->dim;
  return {linear % d.x, linear / d.x % d.y, linear / (d.x * d.y)};
}
uint3 block_coords(uint64_t linear) {
  const dim3 g = t_block->grid;
  return {static_cast<unsigned>(linear % g.x), static_cast<unsigned>(linear / g.x % g.y),
          static_cast<unsigned>(linear / (uint64_t{g.x} * g.y))};
}
std::string where(uintptr_t a) {
  const void* p = reinterpret_cast<const void*>(a);
  if (on_device(a)) {
    std::string d = describe_address(Device::CUDA, p);
    return d.empty() ? "device address " + std::to_string(a) + " (in no tensor's block)" : d;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%p", p);
  if (t_block && a >= reinterpret_cast<uintptr_t>(t_block->dynamic_shared) &&
      a < reinterpret_cast<uintptr_t>(t_block->dynamic_shared) + kMaxDynamicShared)
    return "byte " + std::to_string(a - reinterpret_cast<uintptr_t>(t_block->dynamic_shared)) +
           " of dynamic shared memory";
  return std::string("a __shared__ variable at ") + buf;
}
void found(const std::string& what) {
  if (g_state.first.empty()) g_state.first = what;
  else ++g_state.more;
}
const char* verb(bool write) { return write ? "writes" : "reads"; }

void race_in_block(uintptr_t a, unsigned thread, bool write, const Touch& other, bool other_wrote) {
  found("racecheck: kernel " + std::string(g_state.kernel) + ", block " + coords(t_block->idx) + ": thread " +
        coords(thread_coords(thread)) + " " + verb(write) + " what thread " + coords(thread_coords(other.thread)) +
        " " + (other_wrote ? "wrote" : "read") + " with no barrier between them: " + where(a));
}

void check_block_word(uintptr_t a, bool write) {
  const unsigned thread = t_thread->linear;
  Word& w = g_words[a / 4];
  if (w.block_serial != g_state.block_serial) w = Word{g_state.block_serial};
  const Touch now{g_state.interval, static_cast<uint16_t>(thread), g_state.warp_interval[thread / 32]};
  if (w.written && concurrent(w.write, thread)) race_in_block(a, thread, write, w.write, true);
  if (write) {
    for (unsigned r = 0; r < w.n_reads; ++r)
      if (concurrent(w.reads[r], thread)) race_in_block(a, thread, write, w.reads[r], false);
    w.write = now;
    w.written = true;
    return;
  }
  // Keep two readers: any later writer differs from one of them.
  for (unsigned r = 0; r < w.n_reads; ++r)
    if (w.reads[r].thread == thread || w.reads[r].interval != g_state.interval) {
      w.reads[r] = now;
      return;
    }
  if (w.n_reads < 2) w.reads[w.n_reads++] = now;
}

// The shadow bits of [a, a + n) (n <= 4 - a % 4: within one word).
void check_device_word(uintptr_t a, size_t n, bool write, bool atomic) {
  const size_t i = word_of(a);
  const uint8_t bits = byte_bits(a, n);
  uint8_t& sh = g_bytes[i];
  if ((sh >> kAddressable & bits) != bits) {
    found("memcheck: kernel " + std::string(g_state.kernel) + ", block " + coords(t_block->idx) + ", thread " +
          coords(t_thread->idx) + " " + verb(write) + " " + std::to_string(n) + " bytes at " + where(a));
    return;
  }
  if (write) sh |= bits;
  else if ((sh & bits) != bits) {
    found("initcheck: kernel " + std::string(g_state.kernel) + ", block " + coords(t_block->idx) + ", thread " +
          coords(t_thread->idx) + " reads " + std::to_string(n) + " bytes never written: " + where(a));
    sh |= bits;  // one finding a word
  }
  if (atomic) return;
  uint64_t& b = g_blocks[i];
  const uint64_t mine = uint64_t{g_state.launch} << 32 | uint64_t{g_state.block_linear & 0x7fffffffu} << 1;
  if (b >> 32 != g_state.launch) {
    b = mine | write;
    g_state.bytes += 4;
    return;
  }
  const uint32_t other = static_cast<uint32_t>(b) >> 1;
  if (other == (g_state.block_linear & 0x7fffffffu)) {
    b |= write;
    return;
  }
  if (write || (b & 1)) {
    found("racecheck: kernel " + std::string(g_state.kernel) + ": block " + coords(t_block->idx) + " " + verb(write) +
          " what block " + coords(block_coords(other)) + " " + ((b & 1) ? "wrote" : "read") +
          " in the same launch: " + where(a));
    b = mine | write;  // one finding a word and pair
  }
}

// Sets the bits of `nibble` (addressable, written or both: mask 0xF0, 0x0F, 0xFF) of the
// bytes of [p, p + bytes) to `value`'s.
void set_bits(const void* p, size_t bytes, uint8_t mask, uint8_t value) {
  if (!g_enabled || !bytes) return;
  ensure_shadows();
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  for (uintptr_t w = a & ~uintptr_t{3}; w < a + bytes; w += 4) {
    const uintptr_t lo = std::max(w, a);
    const uint8_t b = byte_bits(lo, std::min<uintptr_t>(w + 4, a + bytes) - lo);
    const uint8_t m = static_cast<uint8_t>((b | b << kAddressable) & mask);
    uint8_t& sh = g_bytes[word_of(w)];
    sh = static_cast<uint8_t>((sh & ~m) | (value & m));
  }
}

// ---- traffic, by kernel in first-launch order
struct Traffic {
  uint64_t launches = 0, bytes = 0;
  double flops = 0;
};
struct TrafficLog {
  std::vector<std::string> order;
  std::map<std::string, Traffic> by_kernel;
  ~TrafficLog() {  // at exit
    const char* path = std::getenv("FC_EMU_TRAFFIC");
    if (!path || order.empty()) return;
    FILE* f = std::fopen(path, "w");
    if (!f) {
      std::fprintf(stderr, "CUDA emulator: cannot write the traffic log %s\n", path);
      return;
    }
    for (const std::string& k : order) {
      const Traffic& t = by_kernel[k];
      std::fprintf(f, "{\"kernel\": \"%s\", \"launches\": %llu, \"bytes\": %llu, \"flops\": %.17g}\n", k.c_str(),
                   static_cast<unsigned long long>(t.launches), static_cast<unsigned long long>(t.bytes), t.flops);
    }
    std::fclose(f);
  }
};
TrafficLog g_traffic;
void record_traffic(const char* kernel, uint64_t bytes, double flops) {
  auto [it, fresh] = g_traffic.by_kernel.try_emplace(kernel);
  if (fresh) g_traffic.order.push_back(kernel);
  ++it->second.launches;
  it->second.bytes += bytes;
  it->second.flops += flops;
}

}  // namespace

// One load or store of n bytes at p by device code.
inline void access(const void* p, size_t n, bool write, bool atomic = false) {
  if (!g_enabled || !t_thread || !t_block) return;  // host code, or checks off
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a >= t_stack_lo && a < t_stack_hi) return;  // the thread's own locals
  for (uintptr_t w = a & ~uintptr_t{3}; w < a + n; w += 4) {
    const uintptr_t lo = std::max(w, a);
    const size_t len = std::min<uintptr_t>(w + 4, a + n) - lo;
    if (on_device(w)) check_device_word(lo, len, write, atomic);
    if (!atomic) check_block_word(lo, write);
  }
}

std::string coords(const uint3& i) {
  return "(" + std::to_string(i.x) + ", " + std::to_string(i.y) + ", " + std::to_string(i.z) + ")";
}

bool enabled() { return g_enabled; }
void set_enabled(bool on) { g_enabled = on; }
bool built() {
#ifdef FC_EMU_HAZARDS
  return true;
#else
  return false;
#endif
}

void set_device_range(const void* base, size_t bytes) {
  g_dev_lo = reinterpret_cast<uintptr_t>(base);
  g_dev_hi = g_dev_lo + bytes;
}

void launch_begin(const char* kernel) {
  if (!g_enabled) return;
  ensure_shadows();
  ++g_state.launch;
  g_state.kernel = kernel;
  g_state.first.clear();
  g_state.more = 0;
  g_state.bytes = 0;
  g_state.flops = g_state.next_flops;
  g_state.next_flops = 0;
}
void block_begin(uint64_t linear_block) {
  ++g_state.block_serial;
  g_state.block_linear = static_cast<uint32_t>(linear_block);
  g_state.interval = 0;
  const unsigned warps = (t_block->dim.x * t_block->dim.y * t_block->dim.z + 31) / 32;
  g_state.warp_interval.assign(warps, 0);
}
void block_barrier_passed() { ++g_state.interval; }
void warp_barrier_passed(unsigned warp) { ++g_state.warp_interval[warp]; }
void set_thread_stack(const void* lo, const void* hi) {
  t_stack_lo = reinterpret_cast<uintptr_t>(lo);
  t_stack_hi = reinterpret_cast<uintptr_t>(hi);
}
std::string launch_end() {
  if (g_words.size() > (1u << 20)) g_words.clear();  // stale entries of earlier blocks
  if (g_enabled) record_traffic(g_state.kernel, g_state.bytes, g_state.flops);
  if (g_state.first.empty()) return "";
  return g_state.first + (g_state.more ? " (and " + std::to_string(g_state.more) + " more)" : "");
}

void note_flops(double flops) { g_state.next_flops += flops; }
void record_library_call(const char* name, uint64_t bytes, double flops) {
  if (g_enabled) record_traffic(name, bytes, flops);
}

void device_allocated(const void* p, size_t bytes) { set_bits(p, bytes, 0xFF, 0xF0); }
void device_released(const void* p, size_t bytes) {
  if (!g_bytes) return;
  set_bits(p, bytes, 0xFF, 0);
  // Whole pages of shadow back to the system (they read as zeros: not addressable,
  // unwritten, untouched).
  const size_t first = (word_of(reinterpret_cast<uintptr_t>(p)) + 4095) / 4096 * 4096;
  const size_t last = word_of(reinterpret_cast<uintptr_t>(p) + bytes) / 4096 * 4096;
  if (last > first) {
    madvise(g_bytes + first, last - first, MADV_DONTNEED);
    madvise(g_blocks + first, (last - first) * sizeof(uint64_t), MADV_DONTNEED);
  }
}
void tensor_handed_out(void* block, size_t block_bytes, void* p, size_t bytes) {
  set_bits(block, block_bytes, 0xFF, 0);
  set_bits(p, bytes, 0xFF, 0xF0);
}
void tensor_taken_back(void* block, size_t block_bytes) { set_bits(block, block_bytes, 0xFF, 0); }

void device_written(const void* p, size_t bytes) { set_bits(p, bytes, 0x0F, 0x0F); }
void device_copied(void* dst, const void* src, size_t bytes) {
  if (!g_enabled || !bytes) return;
  ensure_shadows();
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  for (size_t k = 0; k < bytes; k += 4) {
    if (d % 4 == 0 && s % 4 == 0 && k + 4 <= bytes) {  // a whole word's written bits
      uint8_t& to = g_bytes[word_of(d + k)];
      to = static_cast<uint8_t>((to & 0xF0) | (g_bytes[word_of(s + k)] & 0x0F));
      continue;
    }
    for (size_t j = k; j < std::min(bytes, k + 4); ++j) {  // byte by byte (unaligned copies)
      const bool was = g_bytes[word_of(s + j)] & byte_bits(s + j, 1);
      set_bits(reinterpret_cast<void*>(d + j), 1, 0x0F, was ? 0x0F : 0);
    }
  }
}
std::string check_range(const char* who, const char* action, const void* p, size_t bytes, bool need_written) {
  if (!g_enabled || !bytes) return "";
  ensure_shadows();
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  for (uintptr_t w = a & ~uintptr_t{3}; w < a + bytes; w += 4) {
    const uintptr_t lo = std::max(w, a);
    const uint8_t bits = byte_bits(lo, std::min<uintptr_t>(w + 4, a + bytes) - lo);
    const uint8_t sh = g_bytes[word_of(w)];
    if ((sh >> kAddressable & bits) != bits)
      return std::string("memcheck: ") + who + " " + action + " " + std::to_string(bytes) + " bytes at " + where(lo);
    if (need_written && (sh & bits) != bits)
      return std::string("initcheck: ") + who + " reads bytes never written: " + where(lo);
  }
  return "";
}

}  // namespace fc::emu::hazards

bool fc::emu::hazard_checks_built() { return hazards::built(); }

#ifdef FC_EMU_HAZARDS
// ---- the entry points GCC's -fsanitize=thread instrumentation calls
using fc::emu::hazards::access;
namespace {
// An atomic read-modify-write: checked as a read, then a write.
void read_modify_write(const volatile void* a, size_t n) {
  access(const_cast<void*>(a), n, false, true);
  access(const_cast<void*>(a), n, true, true);
}
}  // namespace
extern "C" {
void __tsan_init() {}
#define FC_TSAN_SIZE(n)                                                                     \
  void __tsan_read##n(void* p) { access(p, n, false); }                                     \
  void __tsan_write##n(void* p) { access(p, n, true); }                                     \
  void __tsan_unaligned_read##n(void* p) { access(p, n, false); }                           \
  void __tsan_unaligned_write##n(void* p) { access(p, n, true); }
FC_TSAN_SIZE(1)
FC_TSAN_SIZE(2)
FC_TSAN_SIZE(4)
FC_TSAN_SIZE(8)
FC_TSAN_SIZE(16)
#undef FC_TSAN_SIZE
void __tsan_read_range(void* p, unsigned long n) { access(p, n, false); }
void __tsan_write_range(void* p, unsigned long n) { access(p, n, true); }
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}

// Atomics: done for real (they stay atomic whatever runs the blocks), checked for
// initcheck, never a race.
#define FC_TSAN_ATOMIC(bits, T)                                                                      \
  T __tsan_atomic##bits##_load(const volatile T* a, int) {                                           \
    access(const_cast<T*>(a), sizeof(T), false, true);                                               \
    return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                     \
  }                                                                                                  \
  void __tsan_atomic##bits##_store(volatile T* a, T v, int) {                                        \
    access(const_cast<T*>(a), sizeof(T), true, true);                                                \
    __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                        \
  }                                                                                                  \
  T __tsan_atomic##bits##_exchange(volatile T* a, T v, int) {                                        \
    read_modify_write(a, sizeof(T));                                                                 \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                              \
  }                                                                                                  \
  T __tsan_atomic##bits##_fetch_add(volatile T* a, T v, int) {                                       \
    read_modify_write(a, sizeof(T));                                                                 \
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                               \
  }                                                                                                  \
  T __tsan_atomic##bits##_fetch_sub(volatile T* a, T v, int) {                                       \
    read_modify_write(a, sizeof(T));                                                                 \
    return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                               \
  }                                                                                                  \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) {            \
    read_modify_write(a, sizeof(T));                                                                 \
    return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);          \
  }                                                                                                  \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* c, T v, int mo, int fmo) {      \
    return __tsan_atomic##bits##_compare_exchange_strong(a, c, v, mo, fmo);                          \
  }                                                                                                  \
  T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T c, T v, int mo, int fmo) {          \
    __tsan_atomic##bits##_compare_exchange_strong(a, &c, v, mo, fmo);                                \
    return c;                                                                                        \
  }
FC_TSAN_ATOMIC(8, char)
FC_TSAN_ATOMIC(16, short)
FC_TSAN_ATOMIC(32, int)
FC_TSAN_ATOMIC(64, long)
#undef FC_TSAN_ATOMIC
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) {}
}
#endif
