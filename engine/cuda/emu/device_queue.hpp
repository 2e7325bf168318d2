#pragma once
// Asynchronous streams on the emulated device (FC_EMU_ASYNC=SEED, or set_async in a
// test: engine/cuda/emu/launch_record.hpp). Without it every stream call of the emulator
// completes before it returns, so host code that forgets to wait for the device (reads
// a download before the copy has run, rewrites a pinned buffer a queued copy still
// reads, frees what a kernel will still use) passes unseen. With it, each stream's work
// (kernels, copies, memsets, cuBLAS calls) is queued and run later by one device
// thread, which takes the streams' items in a seeded random interleaving (each stream in
// its own order) after a seeded random delay, while the host goes on; events and
// synchronize calls wait for what they name. Work on the null stream, and the
// synchronous calls (cudaMemcpy, cudaMemset), run on the device thread too, the host
// waiting for them. All device work stays on one thread: the fibers of a launch never
// change threads, and the checks' shadows are touched by one thread at a time.
#include <cstdint>
#include <functional>

namespace fc::emu {

class DeviceQueue {
 public:
  // The queue while asynchronous streams are on; null when every call is synchronous.
  static DeviceQueue* active();
  // Turns the mode on (with the seed of its interleaving and delays) or off (after
  // every queued item has run).
  static void set(bool on, uint64_t seed);

  using Lane = const void*;  // a stream (the null stream is nullptr)
  // Queues work behind the lane's earlier items; returns how many the lane has had.
  uint64_t enqueue(Lane lane, std::function<void()> work);
  // Runs work on the device thread now (ahead of any delay) and waits for it: the
  // synchronous calls, and the null stream's.
  void run_now(std::function<void()> work);
  uint64_t submitted(Lane lane);
  bool reached(Lane lane, uint64_t count);  // have `count` items of the lane run?
  void wait(Lane lane, uint64_t count);
  void wait_lane(Lane lane);
  void wait_all();
  void forget(Lane lane);  // a destroyed stream (after wait_lane)
  // While held, queued items wait (run_now's do not): a test orders host and device so.
  void hold(bool on);

  struct State;

  DeviceQueue();  // (use set() or FC_EMU_ASYNC)
  void reseed(uint64_t seed);  // the seed of its interleaving and delays

 private:
  State* st_;
};

}  // namespace fc::emu
