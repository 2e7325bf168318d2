#pragma once
// What the kernels that work one image (or one attention head) at a time share: a
// per-thread scratch buffer that grows to the largest size asked for and is kept (so a
// steady-state step allocates nothing), and a loop that spreads the items over the
// threads, each running one-thread sgemms inside.
#include <omp.h>

#include <cstdint>
#include <vector>

namespace fc::cpu {

inline float* scratch(std::vector<float>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// Runs f(i) for i < n: spread over the threads when there are at least min_items of
// them (and more than one thread), else in order on this thread (where the sgemms
// inside then use the threads themselves).
template <class F>
void for_each_item(int64_t n, int64_t min_items, F&& f) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads > 1 && n >= min_items) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

}  // namespace fc::cpu
