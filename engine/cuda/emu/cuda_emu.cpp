// The emulated CUDA device's runtime: device memory, the block scheduler (threads as
// fibers), the runtime API and cuBLAS's sgemm. See cuda_emu.hpp for what it models.
#include "engine/cuda/emu/cuda_emu.hpp"

#include <cblas.h>
#include <sys/mman.h>
#include <setjmp.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/cuda/emu/device_queue.hpp"
#include "engine/cuda/emu/hazards.hpp"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct CUstream_st {};
// An event: how many items of which stream it follows (asynchronous streams); 0: passed.
struct CUevent_st {
  const void* lane = nullptr;
  uint64_t count = 0;
};
struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace fc::emu {

__thread ThreadState* t_thread = nullptr;
__thread BlockState* t_block = nullptr;

namespace {

// ---- errors: the sticky "last error" of the runtime, and what caused it (set by the
// device thread too, with asynchronous streams)
std::mutex g_error_mu;
cudaError_t g_last_error = cudaSuccess;
std::string g_last_detail;

cudaError_t fail(cudaError_t e, const std::string& detail) {
  std::lock_guard<std::mutex> lock(g_error_mu);
  g_last_error = e;
  g_last_detail = detail;
  return e;
}
cudaError_t last_error(bool clear) {
  std::lock_guard<std::mutex> lock(g_error_mu);
  const cudaError_t e = g_last_error;
  if (clear) g_last_error = cudaSuccess;
  return e;
}

// ---- where device work runs: at once, or queued on its stream (asynchronous streams,
// device_queue.hpp); the null stream's and the synchronous calls' on the device thread,
// the host waiting. Returns what `work` returned, or cudaSuccess once queued.
cudaError_t submit(cudaStream_t stream, std::function<cudaError_t()> work) {
  DeviceQueue* q = DeviceQueue::active();
  if (!q) return work();
  if (hazards::enabled()) {
    std::fprintf(stderr, "CUDA emulator: FC_EMU_ASYNC and the checks' build do not go together "
                         "(their shadows follow host order): use build/run_tests\n");
    std::abort();
  }
  if (stream) {
    q->enqueue(stream, [w = std::move(work)] { w(); });
    return cudaSuccess;
  }
  cudaError_t result = cudaSuccess;
  q->run_now([&] { result = work(); });
  return result;
}
// Waits for every queued item (the calls that synchronize the device on a GPU).
void drain() {
  if (DeviceQueue* q = DeviceQueue::active()) q->wait_all();
}

// ---- device memory: one reserved range, PROT_NONE while no launch or copy runs
class Arena {
 public:
  static Arena& get() {
    static Arena* a = new Arena;  // leaked: tensors may be freed after main returns
    return *a;
  }

  void* alloc(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t size = round_up(bytes ? bytes : 1, kAlign);
    size_t off = top_;
    auto it = std::find_if(free_.begin(), free_.end(), [&](const auto& f) { return f.second >= size; });
    if (it != free_.end()) {
      off = it->first;
      size_t left = it->second - size;
      free_.erase(it);
      if (left) free_[off + size] = left;
    } else {
      if (top_ + size > kReserve) return nullptr;
      top_ += size;
    }
    live_[off] = size;
    hazards::device_allocated(base_ + off, bytes);
    // Fresh device memory holds NaN bytes, so that a kernel reading what nobody wrote
    // gives NaN rather than a plausible zero.
    size_t lo = page_floor(off), hi = page_ceil(off + size);
    mprotect(base_ + lo, hi - lo, PROT_READ | PROT_WRITE);
    std::memset(base_ + off, 0xFF, size);
    if (depth_ == 0) mprotect(base_ + lo, hi - lo, PROT_NONE);
    else open_hi_ = std::max(open_hi_, hi);
    return base_ + off;
  }

  bool free(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(offset(p));
    if (it == live_.end()) return false;
    size_t off = it->first, size = it->second;
    live_.erase(it);
    hazards::device_released(base_ + off, size);
    size_t lo = page_ceil(off), hi = page_floor(off + size);
    if (hi > lo) madvise(base_ + lo, hi - lo, MADV_DONTNEED);  // give the pages back
    // Merge with free neighbours, then drop a free block at the top.
    auto next = free_.find(off + size);
    if (next != free_.end()) {
      size += next->second;
      free_.erase(next);
    }
    auto prev = free_.lower_bound(off);
    if (prev != free_.begin() && std::prev(prev)->first + std::prev(prev)->second == off) {
      --prev;
      off = prev->first;
      size += prev->second;
      free_.erase(prev);
    }
    if (off + size == top_) top_ = off;
    else free_[off] = size;
    return true;
  }

  bool contains(const void* p) const {
    const char* c = static_cast<const char*>(p);
    return c >= base_ && c < base_ + kReserve;
  }
  bool live(const void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.count(offset(p)) != 0;
  }

  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    if (depth_++ == 0) {
      open_hi_ = page_ceil(top_);
      if (open_hi_) mprotect(base_, open_hi_, PROT_READ | PROT_WRITE);
    }
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--depth_ == 0) {
      size_t hi = std::max(open_hi_, page_ceil(top_));
      if (hi) mprotect(base_, hi, PROT_NONE);
    }
  }

 private:
  static constexpr size_t kReserve = size_t{32} << 30;  // address space, not memory
  static constexpr size_t kAlign = 256;                 // as cudaMalloc's
  static size_t round_up(size_t v, size_t q) { return (v + q - 1) / q * q; }
  static size_t page() {
    static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return p;
  }
  static size_t page_floor(size_t v) { return v / page() * page(); }
  static size_t page_ceil(size_t v) { return round_up(v, page()); }

  Arena() {
    void* p = mmap(nullptr, kReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "CUDA emulator: cannot reserve %zu bytes of address space\n", kReserve);
      std::abort();
    }
    base_ = static_cast<char*>(p);
    hazards::set_device_range(base_, kReserve);
  }
  size_t offset(const void* p) const { return static_cast<size_t>(static_cast<const char*>(p) - base_); }

  std::mutex mu_;
  char* base_ = nullptr;
  size_t top_ = 0;                    // the end of the highest block ever handed out
  std::map<size_t, size_t> live_;     // offset -> size of every allocated block
  std::map<size_t, size_t> free_;     // offset -> size of the holes below top_
  int depth_ = 0;                     // nesting of open()
  size_t open_hi_ = 0;                // what the last open() made accessible
};

thread_local const char* t_kernel_name = "";  // the launch running on this thread (for reports)

// ---- the scheduler: the threads of a block as fibers
#ifdef __SANITIZE_ADDRESS__
constexpr size_t kStackBytes = 256 << 10;  // ASan's redzones make frames larger
void start_switch(void** save, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(save, bottom, size);
}
void finish_switch(void* save, const void** bottom, size_t* size) {
  __sanitizer_finish_switch_fiber(save, bottom, size);
}
#else
constexpr size_t kStackBytes = 64 << 10;
// (used only on the ucontext path, which this build does not take)
[[maybe_unused]] void start_switch(void**, const void*, size_t) {}
[[maybe_unused]] void finish_switch(void*, const void**, size_t*) {}
// A fiber is entered once with makecontext/swapcontext and switched after that with
// _setjmp/_longjmp, which do not save the signal mask: glibc's swapcontext makes a
// sigprocmask system call at every switch, and switches are most of what an emulated
// launch does (measured: 70% of a UNet training step on the emulator). Under ASan the
// ucontext path stays, for its fiber annotations.
#define FC_EMU_FAST_SWITCH 1
#endif

enum class State { Ready, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
  ucontext_t ctx;
  // Where the thread waits (the barrier's place in the source) and, at a warp barrier,
  // the lanes it names: synccheck's evidence.
  const char* file = "";
  int line = 0;
  unsigned mask = 0;
#ifdef FC_EMU_FAST_SWITCH
  jmp_buf env;           // where the fiber waits (at a barrier, or done, for the next block)
  bool started = false;  // entered once; after that resumed with _longjmp
#endif
  ThreadState st;
  State state = State::Done;
  char* stack = nullptr;
  void* fake_stack = nullptr;  // ASan's, while switched out
};

struct Scheduler {
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<std::array<uint64_t, 32>> warp_slots;
  ucontext_t main_ctx;
#ifdef FC_EMU_FAST_SWITCH
  jmp_buf main_env;
#endif
  void* main_fake = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  unsigned threads = 0;
  bool direct = false;  // threads run to completion on the caller's stack
  std::string sync_error;  // synccheck's first finding in the running block
};

Scheduler& sched() {
  static Scheduler* s = new Scheduler;  // fiber stacks are kept for the next launch
  return *s;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "CUDA emulator: %s\n", what);
  std::abort();
}

// ---- schedules: the order in which the threads of a barrier interval, and the blocks
// of a grid, run (engine/cuda/emu/launch_record.hpp). A correct kernel gives the same
// result in any order, up to the float reassociation it allows; a race does not.
struct ScheduleState {
  Schedule kind = Schedule::forward;
  uint64_t seed = 0, draws = 0;  // random: every order drawn is a new permutation
};
ScheduleState& schedule_state() {
  static ScheduleState* st = [] {
    auto* s = new ScheduleState;
    const char* env = std::getenv("FC_EMU_SCHEDULE");  // forward, reverse or random:SEED
    if (env && std::string(env) == "reverse") s->kind = Schedule::reverse;
    if (env && std::string(env).rfind("random:", 0) == 0) {
      s->kind = Schedule::random;
      s->seed = std::strtoull(env + 7, nullptr, 10);
    }
    return s;
  }();
  return *st;
}

// The order to run n things in under the schedule: 0..n-1, n-1..0, or a permutation
// (i -> (a i + b) mod n, a coprime to n: no table, whatever n is).
struct Order {
  uint64_t n, a = 1, b = 0;
  bool reverse = false;
  uint64_t at(uint64_t i) const {
    return reverse ? n - 1 - i : static_cast<uint64_t>((static_cast<unsigned __int128>(a) * i + b) % n);
  }
};
Order schedule_order(uint64_t n) {
  ScheduleState& st = schedule_state();
  Order o{n};
  if (st.kind == Schedule::reverse) o.reverse = true;
  if (st.kind == Schedule::random && n > 1) {
    uint64_t x = st.seed * 0x9E3779B97F4A7C15ull + ++st.draws * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    o.b = x % n;
    o.a = (x >> 17) % n | 1;
    while (std::gcd(o.a, n) != 1) o.a += 2;
  }
  return o;
}

// The running thread's fiber, marked as waiting at a barrier of kind `why`.
Fiber& waiting_fiber(Scheduler& s, State why) {
  if (s.direct)
    die("a kernel reached a barrier in a block after its first block reached none; the "
        "emulator runs such blocks without fibers (make every block reach the same barriers)");
  Fiber& f = *s.current;
  f.state = why;
  return f;
}

#ifdef FC_EMU_FAST_SWITCH
// A fiber's whole life: one thread of a block, then the same thread of the next block
// this fiber is given, and so on; between blocks it waits in its `env`.
void fiber_main() {
  Scheduler& s = sched();
  for (;;) {
    (*s.body)();
    Fiber& f = *s.current;
    f.state = State::Done;
    if (_setjmp(f.env) == 0) _longjmp(s.main_env, 1);
  }
}

void switch_to(Scheduler& s, Fiber& f) {
  s.current = &f;
  t_thread = &f.st;
  hazards::set_thread_stack(f.stack, f.stack + kStackBytes);
  if (_setjmp(s.main_env) == 0) {
    if (f.started) _longjmp(f.env, 1);
    f.started = true;
    swapcontext(&s.main_ctx, &f.ctx);  // first entry; it comes back by _longjmp
  }
  s.current = nullptr;
}

void yield(State why) {
  Scheduler& s = sched();
  Fiber& f = waiting_fiber(s, why);
  if (_setjmp(f.env) == 0) _longjmp(s.main_env, 1);
}
#else
void fiber_main() {
  Scheduler& s = sched();
  finish_switch(nullptr, &s.main_bottom, &s.main_size);
  (*s.body)();
  s.current->state = State::Done;
  start_switch(nullptr, s.main_bottom, s.main_size);  // this fiber's frames are gone
  setcontext(&s.main_ctx);
  die("setcontext returned");
}

void switch_to(Scheduler& s, Fiber& f) {
  s.current = &f;
  t_thread = &f.st;
  hazards::set_thread_stack(f.stack, f.stack + kStackBytes);
  start_switch(&s.main_fake, f.stack, kStackBytes);
  swapcontext(&s.main_ctx, &f.ctx);
  finish_switch(s.main_fake, nullptr, nullptr);
  s.current = nullptr;
}

void yield(State why) {
  Scheduler& s = sched();
  Fiber& f = waiting_fiber(s, why);
  start_switch(&f.fake_stack, s.main_bottom, s.main_size);
  swapcontext(&f.ctx, &s.main_ctx);
  finish_switch(f.fake_stack, &s.main_bottom, &s.main_size);
}
#endif

void prepare_fiber(Fiber& f) {
  if (!f.stack) {
    void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("cannot allocate a fiber stack");
    f.stack = static_cast<char*>(p);
  }
#ifdef __SANITIZE_ADDRESS__
  __asan_unpoison_memory_region(f.stack, kStackBytes);  // frames of an abandoned fiber
#endif
#ifdef FC_EMU_FAST_SWITCH
  // A fiber that finished its last block waits for the next one; one abandoned at a
  // barrier (a failed launch) starts again from the top of a fresh context.
  if (f.started && f.state == State::Done) {
    f.state = State::Ready;
    return;
  }
  f.started = false;
#endif
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = kStackBytes;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, fiber_main, 0);
  f.state = State::Ready;
  f.fake_stack = nullptr;
}

// ---- synccheck: the threads a barrier releases must all wait at that barrier
using hazards::coords;
std::string hex32(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
std::string site(const Fiber& f) { return std::string(f.file) + ":" + std::to_string(f.line); }
bool same_site(const Fiber& a, const Fiber& b) { return a.line == b.line && std::strcmp(a.file, b.file) == 0; }
bool sync_failure(const std::string& what) {
  fail(cudaErrorLaunchFailure, "synccheck: kernel " + std::string(t_kernel_name) + ", block " +
                                   coords(t_block->idx) + ": " + what);
  return false;
}

// Every live thread waits at __syncthreads: the same one?
bool release_block(Scheduler& s) {
  const Fiber* first = nullptr;
  for (unsigned t = 0; t < s.threads; ++t) {
    Fiber& f = *s.fibers[t];
    if (f.state != State::AtBlockBarrier) continue;
    if (first && !same_site(*first, f))
      return sync_failure("threads " + coords(first->st.idx) + " and " + coords(f.st.idx) +
                          " wait at different __syncthreads (" + site(*first) + " and " + site(f) +
                          "): a barrier in divergent code");
    if (!first) first = &f;
    f.state = State::Ready;
  }
  return true;
}

// Every live lane of warp [lo, hi) waits at a warp barrier: one barrier, one mask, and
// no lane it names gone. (Lanes past the block's last thread do not exist: a full mask
// in a partial warp names only the lanes there are.)
bool release_warp(Scheduler& s, unsigned lo, unsigned hi) {
  const Fiber* first = nullptr;
  for (unsigned t = lo; t < hi; ++t) {
    const Fiber& f = *s.fibers[t];
    if (f.state != State::AtWarpBarrier) continue;
    if (first && (!same_site(*first, f) || first->mask != f.mask))
      return sync_failure("lanes " + std::to_string(first->st.linear - lo) + " and " +
                          std::to_string(f.st.linear - lo) + " of warp " + std::to_string(lo / 32) +
                          " meet at different warp barriers or masks (" + site(*first) + " and " + site(f) + ")");
    if (!first) first = &f;
  }
  for (unsigned t = lo; t < hi; ++t)
    if ((first->mask >> (t - lo) & 1) && s.fibers[t]->state == State::Done)
      return sync_failure("the warp barrier at " + site(*first) + " names lane " + std::to_string(t - lo) +
                          " (thread " + coords(s.fibers[t]->st.idx) + "), which has exited");
  for (unsigned t = lo; t < hi; ++t)
    if (s.fibers[t]->state == State::AtWarpBarrier) s.fibers[t]->state = State::Ready;
  return true;
}

// Runs one block with fibers. Returns false (and records why) on a barrier that some
// threads never reach; *yielded tells whether any thread waited at a barrier.
bool run_block_fibers(Scheduler& s, const dim3& dim, bool* yielded) {
  unsigned n = s.threads;
  while (s.fibers.size() < n) s.fibers.push_back(std::make_unique<Fiber>());
  s.warp_slots.resize((n + 31) / 32);
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = *s.fibers[t];
    prepare_fiber(f);
    f.st.linear = t;
    f.st.idx = {t % dim.x, (t / dim.x) % dim.y, t / (dim.x * dim.y)};
  }
  *yielded = false;
  s.sync_error.clear();
  for (;;) {
    const Order order = schedule_order(n);  // a new order every barrier interval
    for (unsigned i = 0; i < n; ++i) {
      const unsigned t = static_cast<unsigned>(order.at(i));
      if (s.fibers[t]->state == State::Ready) switch_to(s, *s.fibers[t]);
    }
    if (!s.sync_error.empty()) {
      fail(cudaErrorLaunchFailure, s.sync_error);
      return false;
    }
    // Every thread is done or waits. Release the warps whose live lanes all wait at a
    // warp barrier; else the block, if every live thread waits at __syncthreads
    // (threads that have exited count as arrived, as on sm_70 and later).
    bool released = false;
    unsigned live = 0, at_block = 0;
    for (unsigned w = 0; w * 32 < n; ++w) {
      unsigned lo = w * 32, hi = std::min(n, lo + 32), wlive = 0, wwait = 0;
      for (unsigned t = lo; t < hi; ++t) {
        State st = s.fibers[t]->state;
        wlive += st != State::Done;
        wwait += st == State::AtWarpBarrier;
        at_block += st == State::AtBlockBarrier;
      }
      live += wlive;
      if (wwait && wwait == wlive) {
        if (!release_warp(s, lo, hi)) return false;
        hazards::warp_barrier_passed(w);
        released = true;
      }
    }
    if (live == 0) return true;
    if (!released && at_block == live) {
      if (!release_block(s)) return false;
      hazards::block_barrier_passed();
      released = true;
    }
    if (!released) {
      fail(cudaErrorLaunchFailure,
           "deadlock: " + std::to_string(live) + " live threads of a block wait at barriers (" +
               std::to_string(at_block) +
               " at __syncthreads) that the others never reach (a barrier in divergent code)");
      return false;
    }
    *yielded = true;
  }
}

std::mutex g_attr_mu;
std::unordered_map<const void*, size_t> g_max_dynamic_shared;

size_t dynamic_shared_limit(const void* kernel) {
  std::lock_guard<std::mutex> lock(g_attr_mu);
  auto it = g_max_dynamic_shared.find(kernel);
  return it == g_max_dynamic_shared.end() ? kDefaultDynamicShared : it->second;
}

std::string dims(const dim3& d) { return coords(uint3{d.x, d.y, d.z}); }

}  // namespace

void set_max_dynamic_shared(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(g_attr_mu);
  g_max_dynamic_shared[kernel] = static_cast<size_t>(bytes);
}

const char* last_error_detail() {
  static thread_local std::string copy;
  std::lock_guard<std::mutex> lock(g_error_mu);
  copy = g_last_detail;
  return copy.c_str();
}

namespace {
std::mutex g_launch_mu;
bool g_recording = false;
std::vector<LaunchShape> g_launch_shapes;

#ifdef __SANITIZE_ADDRESS__
// memcheck's report (make check): ASan has printed the bad access and its stack (the
// kernel is a frame of it); this adds the launch's kernel, block and thread, and where
// the address lies among the caching allocator's blocks (engine/allocator.hpp).
void memcheck_report(const char*) {
  const void* addr = __asan_get_report_address();
  std::string where = describe_address(Device::CUDA, addr);
  if (where.empty()) where = describe_address(Device::CPU, addr);
  if (t_block && t_thread)
    std::fprintf(stderr, "memcheck: kernel %s, block (%u, %u, %u), thread (%u, %u, %u): %p is %s\n", t_kernel_name,
                 t_block->idx.x, t_block->idx.y, t_block->idx.z, t_thread->idx.x, t_thread->idx.y, t_thread->idx.z,
                 addr, where.empty() ? "in no tensor's block" : where.c_str());
  else
    std::fprintf(stderr, "memcheck: host code: %p is %s\n", addr, where.empty() ? "in no tensor's block" : where.c_str());
}
const bool g_memcheck_installed = [] {
  __asan_set_error_report_callback(memcheck_report);
  return true;
}();
#endif
}  // namespace

void set_schedule(Schedule kind, uint64_t seed) {
  ScheduleState& st = schedule_state();
  st.kind = kind;
  st.seed = seed;
  st.draws = 0;
}
Schedule schedule() { return schedule_state().kind; }

void set_async(bool on, uint64_t seed) { DeviceQueue::set(on, seed); }
bool async_streams() { return DeviceQueue::active() != nullptr; }
void hold_device(bool on) {
  if (DeviceQueue* q = DeviceQueue::active()) q->hold(on);
}

void record_launches(bool on) {
  std::lock_guard<std::mutex> lock(g_launch_mu);
  g_recording = on;
}

std::vector<LaunchShape> recorded_launches() {
  std::lock_guard<std::mutex> lock(g_launch_mu);
  return g_launch_shapes;
}

void note_launch(const char* kernel, dim3 block, size_t dynamic_shared) {
  t_kernel_name = kernel;
  std::lock_guard<std::mutex> lock(g_launch_mu);
  if (!g_recording) return;
  const unsigned threads = block.x * block.y * block.z;
  for (const LaunchShape& l : g_launch_shapes)
    if (l.threads == threads && l.dynamic_shared == dynamic_shared && l.kernel == kernel) return;
  g_launch_shapes.push_back({kernel, threads, dynamic_shared});
}

namespace {
// Runs every block of a launch that run_grid has checked (on the device thread, with
// asynchronous streams).
void execute_grid(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_shared,
                  const std::function<void()>& body) {
  t_kernel_name = kernel_name;
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  Scheduler& s = sched();
  if (s.body) die("a kernel launched another kernel (dynamic parallelism is not emulated)");
  DeviceAccess access;
  std::unique_ptr<unsigned char[]> shared(new unsigned char[dynamic_shared + 16]);
  BlockState bs;
  bs.dim = block;
  bs.grid = grid;
  bs.dynamic_shared = shared.get();
  BlockState* saved_block = t_block;
  ThreadState* saved_thread = t_thread;
  t_block = &bs;
  s.body = &body;
  s.threads = static_cast<unsigned>(threads);
  s.direct = false;
  ThreadState direct_state;
  bool first = true;
  const uint64_t blocks = uint64_t{grid.x} * grid.y * grid.z;
  const Order block_order = schedule_order(blocks);
  hazards::launch_begin(kernel_name);
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint64_t b = block_order.at(i);
    bs.idx = {static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
              static_cast<unsigned>(b / (uint64_t{grid.x} * grid.y))};
    std::memset(shared.get(), 0xFF, dynamic_shared + 16);
    hazards::block_begin(b);
    if (s.direct) {
      // The first block reached no barrier: run the others' threads one after the
      // other, without fibers (much faster; yield() refuses a barrier here). They run
      // on this stack, below this frame.
      t_thread = &direct_state;
      char* frame = static_cast<char*>(__builtin_frame_address(0));
      hazards::set_thread_stack(frame - (64 << 20), frame);
      const Order order = schedule_order(s.threads);
      for (unsigned k = 0; k < s.threads; ++k) {
        const unsigned t = static_cast<unsigned>(order.at(k));
        direct_state.linear = t;
        direct_state.idx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
        body();
      }
      continue;
    }
    bool yielded = false;
    if (!run_block_fibers(s, block, &yielded)) break;  // abandon the grid; the error is recorded
    if (first && !yielded) s.direct = true;
    first = false;
  }
  const std::string finding = hazards::launch_end();
  if (!finding.empty() && last_error(false) == cudaSuccess) fail(cudaErrorLaunchFailure, finding);
  s.body = nullptr;
  s.direct = false;
  t_block = saved_block;
  t_thread = saved_thread;
}
}  // namespace

void run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t stream,
              std::function<void()> body) {
  uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (!block.x || !block.y || !block.z || block.x > kMaxThreadsPerBlock ||
      block.y > kMaxThreadsPerBlock || block.z > kMaxBlockDimZ || threads > kMaxThreadsPerBlock) {
    fail(cudaErrorInvalidConfiguration, "block " + dims(block) + " has " + std::to_string(threads) +
                                            " threads; the limit is 1024 a block, (1024, 1024, 64) a dimension");
    return;
  }
  if (!grid.x || !grid.y || !grid.z || grid.x > kMaxGridDimX || grid.y > kMaxGridDimYZ ||
      grid.z > kMaxGridDimYZ) {
    fail(cudaErrorInvalidConfiguration,
         "grid " + dims(grid) + " is outside the limits (1..2^31-1, 1..65535, 1..65535)");
    return;
  }
  size_t limit = dynamic_shared_limit(kernel);
  if (dynamic_shared > limit) {
    fail(cudaErrorInvalidValue, std::to_string(dynamic_shared) + " bytes of dynamic shared memory; the limit is " +
                                    std::to_string(limit) +
                                    (limit == kDefaultDynamicShared ? " unless raised by cudaFuncSetAttribute" : ""));
    return;
  }
  const char* name = t_kernel_name;  // note_launch's, on the host's thread
  submit(stream, [=, body = std::move(body)] {
    execute_grid(name, grid, block, dynamic_shared, body);
    return cudaSuccess;
  });
}

void block_barrier(const char* file, int line) {
  Scheduler& s = sched();
  if (s.current) {
    s.current->file = file;
    s.current->line = line;
  }
  yield(State::AtBlockBarrier);
}
void warp_barrier(unsigned mask, const char* file, int line) {
  Scheduler& s = sched();
  const unsigned lane = lane_id();
  if (!(mask >> lane & 1) && s.sync_error.empty())
    s.sync_error = "synccheck: kernel " + std::string(t_kernel_name) + ", block " + coords(t_block->idx) +
                   ", thread " + coords(t_thread->idx) + ": the warp barrier at " + file + ":" +
                   std::to_string(line) + " has mask " + hex32(mask) + ", which leaves out the calling lane " +
                   std::to_string(lane);
  if (s.current) {
    s.current->file = file;
    s.current->line = line;
    s.current->mask = mask;
  }
  yield(State::AtWarpBarrier);
}
uint64_t* warp_slots() { return sched().warp_slots[t_thread->linear / 32].data(); }
unsigned lane_id() { return t_thread->linear % 32; }
unsigned warp_lanes() { return std::min(32u, sched().threads - t_thread->linear / 32 * 32); }

DeviceAccess::DeviceAccess() { Arena::get().open(); }
DeviceAccess::~DeviceAccess() { Arena::get().close(); }
bool is_device_pointer(const void* p) { return Arena::get().contains(p); }

}  // namespace fc::emu

// ---- the runtime API
using fc::emu::Arena;
using fc::emu::fail;

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidValue, "no device " + std::to_string(device));
  std::snprintf(prop->name, sizeof prop->name, "emulated CUDA device (engine/cuda/emu, on the CPU)");
  prop->totalGlobalMem = 0;  // as much as the host has
  prop->major = 9;           // the limits it checks are sm_90's
  prop->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidValue, "no device " + std::to_string(device));
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = Arena::get().alloc(bytes);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes");
}
// (cudaFree and cudaFreeHost wait for the device, as on a GPU.)
cudaError_t cudaFree(void* p) {
  fc::emu::drain();
  if (!p || Arena::get().free(p)) return cudaSuccess;
  return fail(cudaErrorInvalidValue, "cudaFree of a pointer cudaMalloc did not return");
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaMallocHost");
}
cudaError_t cudaFreeHost(void* p) {
  fc::emu::drain();
  std::free(p);
  return cudaSuccess;
}

namespace {
// The copy itself (when its stream gets to it): memcheck, the bytes, the shadows.
cudaError_t copy_now(void* dst, const void* src, size_t bytes, bool dd, bool sd) {
  std::string finding = sd ? fc::emu::hazards::check_range("cudaMemcpy", "reads", src, bytes, false) : "";
  if (finding.empty() && dd) finding = fc::emu::hazards::check_range("cudaMemcpy", "writes", dst, bytes, false);
  if (!finding.empty()) return fail(cudaErrorInvalidValue, finding);
  fc::emu::DeviceAccess access;
  std::memmove(dst, src, bytes);
  if (dd && sd) fc::emu::hazards::device_copied(dst, src, bytes);
  else if (dd) fc::emu::hazards::device_written(dst, bytes);
  return cudaSuccess;
}
cudaError_t set_now(void* p, int value, size_t bytes) {
  const std::string finding = fc::emu::hazards::check_range("cudaMemset", "writes", p, bytes, false);
  if (!finding.empty()) return fail(cudaErrorInvalidValue, finding);
  fc::emu::DeviceAccess access;
  std::memset(p, value, bytes);
  fc::emu::hazards::device_written(p, bytes);
  return cudaSuccess;
}
}  // namespace

// The null stream's copies and memsets, like the synchronous calls, are done when they
// return; a stream's are queued behind its earlier work (asynchronous streams).
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  bool dd = fc::emu::is_device_pointer(dst), sd = fc::emu::is_device_pointer(src);
  bool ok = kind == cudaMemcpyDefault || (kind == cudaMemcpyHostToDevice && dd && !sd) ||
            (kind == cudaMemcpyDeviceToHost && !dd && sd) ||
            (kind == cudaMemcpyDeviceToDevice && dd && sd) ||
            (kind == cudaMemcpyHostToHost && !dd && !sd);
  if (!ok) return fail(cudaErrorInvalidValue, "cudaMemcpy: the pointers do not match the copy's kind");
  return fc::emu::submit(stream, [=] { return copy_now(dst, src, bytes, dd, sd); });
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!fc::emu::is_device_pointer(p)) return fail(cudaErrorInvalidValue, "cudaMemset of host memory");
  return fc::emu::submit(stream, [=] { return set_now(p, value, bytes); });
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) { return cudaMemsetAsync(p, value, bytes, nullptr); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (fc::emu::DeviceQueue* q = fc::emu::DeviceQueue::active()) {
    q->wait_lane(s);
    q->forget(s);
  }
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (fc::emu::DeviceQueue* q = fc::emu::DeviceQueue::active()) q->wait_lane(s);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  fc::emu::drain();
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return fail(cudaErrorInvalidValue, "cudaEventRecord of a null event");
  fc::emu::DeviceQueue* q = fc::emu::DeviceQueue::active();
  e->lane = s;
  e->count = q && s ? q->submitted(s) : 0;  // the stream's work so far
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
  if (!e) return fail(cudaErrorInvalidValue, "cudaEventQuery of a null event");
  fc::emu::DeviceQueue* q = fc::emu::DeviceQueue::active();
  return !q || e->count == 0 || q->reached(e->lane, e->count) ? cudaSuccess : cudaErrorNotReady;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e) return fail(cudaErrorInvalidValue, "cudaEventSynchronize of a null event");
  fc::emu::DeviceQueue* q = fc::emu::DeviceQueue::active();
  if (q && e->count) q->wait(e->lane, e->count);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}

cudaError_t cudaGetLastError() { return fc::emu::last_error(true); }
cudaError_t cudaPeekAtLastError() { return fc::emu::last_error(false); }

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotReady: return "device not ready";
  }
  return "unknown error";
}

// ---- cuBLAS
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

namespace {
// memcheck and initcheck of a column-major matrix's columns (need_written: an input).
std::string check_columns(const float* p, int rows, int cols, int ld, bool need_written = true) {
  if (rows == 0) return "";
  for (int col = 0; col < cols; ++col) {
    std::string f = fc::emu::hazards::check_range("cublasSgemmStridedBatched", "reads", p + int64_t{col} * ld,
                                                  sizeof(float) * rows, need_written);
    if (!f.empty()) return f;
  }
  return "";
}
}  // namespace

namespace {
// The product itself (when its stream gets to it): the checks, the traffic log, OpenBLAS.
cudaError_t sgemm_now(cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, float alpha,
                      const float* a, int lda, long long stride_a, const float* b, int ldb, long long stride_b,
                      float beta, float* c, int ldc, long long stride_c, int batch) {
  const int a_rows = transa == CUBLAS_OP_N ? m : k, b_rows = transb == CUBLAS_OP_N ? k : n;
  // memcheck and initcheck: every column of A and B (and of C, unless beta is 0) there
  // and written before; C's there.
  const int a_cols = transa == CUBLAS_OP_N ? k : m, b_cols = transb == CUBLAS_OP_N ? n : k;
  for (int i = 0; i < batch; ++i) {
    std::string finding = check_columns(a + i * stride_a, a_rows, k == 0 ? 0 : a_cols, lda);
    if (finding.empty()) finding = check_columns(b + i * stride_b, b_rows, k == 0 ? 0 : b_cols, ldb);
    if (finding.empty()) finding = check_columns(c + i * stride_c, m, n, ldc, beta != 0.f);
    if (!finding.empty()) return fail(cudaErrorLaunchFailure, finding);
  }
  // The traffic log (bench/roofline.py): every matrix once (a stride of 0 shares one).
  const uint64_t mats = static_cast<uint64_t>(batch);
  const uint64_t floats = (stride_a ? mats : 1) * a_rows * a_cols * (k > 0) + (stride_b ? mats : 1) * b_rows * b_cols * (k > 0) +
                          mats * m * n * (beta != 0.f ? 2 : 1);
  fc::emu::hazards::record_library_call("cublasSgemmStridedBatched", floats * sizeof(float), 2.0 * m * n * k * batch);
  fc::emu::DeviceAccess access;
  for (int i = 0; i < batch; ++i) {
    float* ci = c + i * stride_c;
    for (int col = 0; col < n; ++col) fc::emu::hazards::device_written(ci + int64_t{col} * ldc, sizeof(float) * m);
    if (k == 0) {  // C = beta C; beta 0 writes zeros (C may hold NaN)
      for (int col = 0; col < n; ++col)
        for (int row = 0; row < m; ++row) {
          float& v = ci[static_cast<int64_t>(col) * ldc + row];
          v = beta == 0.f ? 0.f : beta * v;
        }
      continue;
    }
    cblas_sgemm(CblasColMajor, transa == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                transb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, alpha,
                a + i * stride_a, lda, b + i * stride_b, ldb, beta, ci, ldc);
  }
  return cudaSuccess;
}
}  // namespace

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* a, int lda,
                                         long long stride_a, const float* b, int ldb,
                                         long long stride_b, const float* beta, float* c,
                                         int ldc, long long stride_c, int batch) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  // cuBLAS's argument checks: column-major A is m x k (k x m transposed), B k x n.
  int a_rows = transa == CUBLAS_OP_N ? m : k, b_rows = transb == CUBLAS_OP_N ? k : n;
  if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < std::max(1, a_rows) ||
      ldb < std::max(1, b_rows) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *alpha, be = *beta;  // host pointers (cuBLAS's default mode): read now
  const cudaError_t e = fc::emu::submit(handle->stream, [=] {
    return sgemm_now(transa, transb, m, n, k, al, a, lda, stride_a, b, ldb, stride_b, be, c, ldc, stride_c, batch);
  });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
