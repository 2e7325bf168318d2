#pragma once
// How many CPU threads a program may be asked for, by --threads or by OMP_NUM_THREADS.
#include <cstdint>

namespace fc::app {

// OpenBLAS's OpenMP build (Debian's) keeps at most 64 threads and, when told more, lowers
// OpenMP's count to 64 with it: a larger request would silently give 64.
constexpr int64_t kMaxThreads = 64;

// --threads N: 0 (OpenMP's default: OMP_NUM_THREADS or all cores) to kMaxThreads;
// a UsageError naming the option otherwise.
void require_thread_count(int64_t threads);

// OMP_NUM_THREADS, when set, gets the same range check (each item of its comma list in
// 1..kMaxThreads), before the first parallel region: libgomp would otherwise try to
// start as many threads as it says (100000: a crash; 40000: a minute and 4 GB).
void check_thread_environment();

}  // namespace fc::app
