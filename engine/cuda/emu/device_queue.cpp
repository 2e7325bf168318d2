// The emulated device's asynchronous streams: per-stream queues, one device thread
// (device_queue.hpp says why one).
#include "engine/cuda/emu/device_queue.hpp"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace fc::emu {

namespace {
constexpr unsigned kMaxDelayMicroseconds = 200;  // before each queued item runs
}  // namespace

struct DeviceQueue::State {
  struct LaneState {
    std::deque<std::function<void()>> items;
    uint64_t submitted = 0, completed = 0;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<Lane, LaneState> lanes;
  std::function<void()> urgent;  // run_now's item
  bool urgent_done = false;
  bool held = false;  // hold(): queued items wait (a test's way to order host and device)
  uint64_t rng = 1;  // reseed()'s

  uint64_t next_random() {  // splitmix64
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // The device thread: the urgent item first, else the head of a random non-empty lane
  // after a random delay.
  void run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return urgent || (!held && count_queued() > 0); });
      if (urgent) {
        std::function<void()> work = std::move(urgent);
        urgent = nullptr;
        lock.unlock();
        work();
        lock.lock();
        urgent_done = true;
        cv.notify_all();
        continue;
      }
      uint64_t pick = next_random() % count_queued();
      auto it = lanes.begin();
      for (;; ++it)
        if (!it->second.items.empty() && pick-- == 0) break;
      const Lane lane = it->first;
      std::function<void()> work = std::move(it->second.items.front());
      it->second.items.pop_front();
      const auto delay = std::chrono::microseconds(next_random() % (kMaxDelayMicroseconds + 1));
      lock.unlock();
      std::this_thread::sleep_for(delay);
      work();
      lock.lock();
      ++lanes[lane].completed;
      cv.notify_all();
    }
  }
  size_t count_queued() const {
    size_t n = 0;
    for (const auto& [lane, l] : lanes) n += !l.items.empty();
    return n;
  }
};

namespace {
// One queue for the process (its device thread started once), on or off.
std::mutex g_mode_mu;
DeviceQueue* g_queue = nullptr;
bool g_on = false;

bool g_env_read = false;
// A forked child has no device thread: it reads FC_EMU_ASYNC again and starts its own.
const bool g_fork_handler = [] {
  pthread_atfork(nullptr, nullptr, [] {
    g_queue = nullptr;
    g_on = false;
    g_env_read = false;
  });
  return true;
}();
}  // namespace

DeviceQueue::DeviceQueue() : st_(new State) {
  std::thread([s = st_] { s->run(); }).detach();  // lives as long as the process
}

namespace {
// Under g_mode_mu: the queue, started on first use, its random draws from `seed`.
void start(uint64_t seed) {
  if (!g_queue) g_queue = new DeviceQueue;
  g_queue->reseed(seed);
  g_on = true;
}
}  // namespace

DeviceQueue* DeviceQueue::active() {
  std::lock_guard<std::mutex> lock(g_mode_mu);
  if (!g_env_read) {
    g_env_read = true;
    if (const char* env = std::getenv("FC_EMU_ASYNC")) start(std::strtoull(env, nullptr, 10));
  }
  return g_on ? g_queue : nullptr;
}

void DeviceQueue::set(bool on, uint64_t seed) {
  if (DeviceQueue* q = active()) q->wait_all();
  std::lock_guard<std::mutex> lock(g_mode_mu);
  if (on) start(seed);
  else g_on = false;  // the device thread idles
}

void DeviceQueue::reseed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(st_->mu);
  st_->rng = seed * 0x2545F4914F6CDD1Dull + 1;
}

uint64_t DeviceQueue::enqueue(Lane lane, std::function<void()> work) {
  std::lock_guard<std::mutex> lock(st_->mu);
  State::LaneState& l = st_->lanes[lane];
  l.items.push_back(std::move(work));
  st_->cv.notify_all();
  return ++l.submitted;
}

void DeviceQueue::run_now(std::function<void()> work) {
  std::unique_lock<std::mutex> lock(st_->mu);
  st_->cv.wait(lock, [&] { return !st_->urgent; });
  st_->urgent = std::move(work);
  st_->urgent_done = false;
  st_->cv.notify_all();
  st_->cv.wait(lock, [&] { return st_->urgent_done; });
}

uint64_t DeviceQueue::submitted(Lane lane) {
  std::lock_guard<std::mutex> lock(st_->mu);
  return st_->lanes[lane].submitted;
}
bool DeviceQueue::reached(Lane lane, uint64_t count) {
  std::lock_guard<std::mutex> lock(st_->mu);
  return st_->lanes[lane].completed >= count;
}
void DeviceQueue::wait(Lane lane, uint64_t count) {
  std::unique_lock<std::mutex> lock(st_->mu);
  st_->cv.wait(lock, [&] { return st_->lanes[lane].completed >= count; });
}
void DeviceQueue::wait_lane(Lane lane) { wait(lane, submitted(lane)); }
void DeviceQueue::wait_all() {
  std::unique_lock<std::mutex> lock(st_->mu);
  st_->cv.wait(lock, [&] {
    for (const auto& [lane, l] : st_->lanes)
      if (l.completed < l.submitted) return false;
    return true;
  });
}
void DeviceQueue::hold(bool on) {
  std::lock_guard<std::mutex> lock(st_->mu);
  st_->held = on;
  st_->cv.notify_all();
}
void DeviceQueue::forget(Lane lane) {
  std::lock_guard<std::mutex> lock(st_->mu);
  st_->lanes.erase(lane);
}

}  // namespace fc::emu
