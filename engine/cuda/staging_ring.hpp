#pragma once
// Where host -> device copies wait: a ring of pinned memory cut into regions, one per
// upload. An upload copies the host data into its region and queues the asynchronous
// copy to the device behind an event; the region is written again only once that event
// has passed. A training step's uploads (a batch, its labels) then never wait for the
// device: a region comes round again only after the whole ring has been used, by which
// time its copy is long done, unless the host is that far ahead of the GPU, and then
// waiting is the right thing to do.
//
// The ring's bookkeeping alone, without CUDA: Event is the backend's event handle, and
// the three callables record, poll and wait for one, so that the logic is tested on
// the host (tests/test_cuda_emu.cpp) with events that complete when the test says so.
#include <cstddef>
#include <deque>
#include <functional>
#include <utility>

namespace fc::cuda {

template <class Event>
class StagingRing {
 public:
  struct Hooks {
    std::function<Event()> record;            // an event after the copy just queued
    std::function<bool(const Event&)> done;   // has it passed? (never waits)
    std::function<void(const Event&)> wait;   // waits for it (counted as a host wait)
    std::function<void(Event&)> destroy;
  };

  // capacity floats of pinned memory at base.
  StagingRing(float* base, size_t capacity, Hooks hooks) : base_(base), capacity_(capacity), hooks_(std::move(hooks)) {}
  ~StagingRing() {
    for (Pending& p : pending_) hooks_.destroy(p.event);
  }
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // The largest upload that goes through the ring; larger ones take the caller's
  // synchronous path (a checkpoint's weights, once).
  size_t max_upload() const { return capacity_ / 4; }

  // A region of n floats (0 < n <= max_upload()) whose earlier copies have all passed.
  // The caller fills it, queues its copy and then calls queued(region).
  float* acquire(size_t n) {
    if (head_ + n > capacity_) head_ = 0;  // the tail is too short: start again at the front
    retire_finished();
    const size_t begin = head_, end = head_ + n;
    // Wait for every earlier copy still reading from [begin, end), oldest first.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->begin < end && begin < it->end) {
        hooks_.wait(it->event);
        ++waits_;
        hooks_.destroy(it->event);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    head_ = end;
    last_ = {begin, end};
    return base_ + begin;
  }
  // The copy from the region acquire() returned last has been queued.
  void queued() { pending_.push_back({last_.first, last_.second, hooks_.record()}); }

  // How often acquire() had to wait for a copy (the ring's share of host waits).
  size_t waits() const { return waits_; }
  size_t in_flight() const { return pending_.size(); }

 private:
  struct Pending {
    size_t begin, end;
    Event event;
  };
  // Copies that have passed free their regions without waiting (oldest first: the
  // stream runs them in order, so the first unfinished one ends the scan).
  void retire_finished() {
    while (!pending_.empty() && hooks_.done(pending_.front().event)) {
      hooks_.destroy(pending_.front().event);
      pending_.pop_front();
    }
  }

  float* base_;
  size_t capacity_, head_ = 0, waits_ = 0;
  std::pair<size_t, size_t> last_{0, 0};
  std::deque<Pending> pending_;
  Hooks hooks_;
};

}  // namespace fc::cuda
