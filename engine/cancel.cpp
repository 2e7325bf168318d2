#include "engine/cancel.hpp"

#include <atomic>

namespace fc {

namespace {
std::atomic<CancellationCheck> g_check{nullptr};
}  // namespace

void set_cancellation_check(CancellationCheck check) { g_check.store(check); }

void cancellation_point() {
  if (CancellationCheck check = g_check.load(std::memory_order_relaxed)) check();
}

}  // namespace fc
