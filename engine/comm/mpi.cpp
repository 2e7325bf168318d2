// engine/dist.hpp over MPI (Open MPI on these machines). Only the main thread calls
// MPI (MPI_THREAD_FUNNELED): the OpenMP workers compute, the main thread
// communicates between steps.
#define OMPI_SKIP_MPICXX 1  // the C API only (the C++ bindings are deprecated)
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>
#include <vector>

#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/profiler.hpp"

namespace fc::dist {

namespace {

bool g_started = false;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  FC_THROW("MPI " << what << " failed: " << std::string(text, static_cast<size_t>(len)));
}

// MPI counts are int: long buffers go in pieces.
constexpr int64_t kChunk = INT_MAX / 8;

template <class F>
void in_chunks(int64_t n, F f) {
  for (int64_t at = 0; at < n; at += kChunk) f(at, static_cast<int>(std::min(kChunk, n - at)));
}

}  // namespace

bool has_mpi() { return true; }

void init() {
  if (g_started || size() == 1) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
  g_started = true;
  // Errors come back as codes (turned into fc::Error), not as MPI's own abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int s = 0, r = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  FC_CHECK(s == size() && r == rank(), "MPI says rank " << r << " of " << s << ", the launcher's environment "
                                                        << rank() << " of " << size());
}

void finalize() {
  if (!g_started) return;
  // Ranks that finish early (the others while rank 0 samples and writes) wait here
  // without spinning a core: a non-blocking barrier, tested every 5 ms.
  MPI_Request done;
  if (MPI_Ibarrier(MPI_COMM_WORLD, &done) == MPI_SUCCESS) {
    int finished = 0;
    while (MPI_Test(&done, &finished, MPI_STATUS_IGNORE) == MPI_SUCCESS && !finished)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  MPI_Finalize();
  g_started = false;
}

void all_reduce_sum(float* data, int64_t n) {
  init();
  if (size() == 1) return;
  FC_PROFILE("all_reduce");
  in_chunks(n, [&](int64_t at, int c) {
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
  });
}

void all_reduce_sum(double* data, int64_t n) {
  init();
  if (size() == 1) return;
  in_chunks(n, [&](int64_t at, int c) {
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
  });
}

namespace {
std::vector<MPI_Request> g_pending;  // started by start_all_reduce_sum, until wait_all
}  // namespace

void start_all_reduce_sum(float* data, int64_t n) {
  init();
  if (size() == 1) return;
  in_chunks(n, [&](int64_t at, int c) {
    g_pending.emplace_back();
    check(MPI_Iallreduce(MPI_IN_PLACE, data + at, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &g_pending.back()),
          "all-reduce");
  });
}

void progress() {
  if (g_pending.empty()) return;
  int done = 0;
  check(MPI_Testall(static_cast<int>(g_pending.size()), g_pending.data(), &done, MPI_STATUSES_IGNORE),
        "all-reduce");
  if (done) g_pending.clear();
}

void wait_all() {
  if (g_pending.empty()) return;
  FC_PROFILE("all_reduce_wait");
  check(MPI_Waitall(static_cast<int>(g_pending.size()), g_pending.data(), MPI_STATUSES_IGNORE), "all-reduce");
  g_pending.clear();
}

void all_reduce_max(double* data, int64_t n) {
  init();
  if (size() == 1) return;
  in_chunks(n, [&](int64_t at, int c) {
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, c, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "all-reduce");
  });
}

void broadcast(void* data, int64_t bytes, int root) {
  init();
  if (size() == 1) return;
  char* p = static_cast<char*>(data);
  in_chunks(bytes, [&](int64_t at, int c) { check(MPI_Bcast(p + at, c, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast"); });
}

void gather(const float* send, int64_t n, float* recv, int root) {
  init();
  if (size() == 1) {
    if (recv != send) std::copy(send, send + n, recv);
    return;
  }
  FC_CHECK(n <= kChunk, "gather: " << n << " floats per rank is more than one MPI call carries");
  check(MPI_Gather(send, static_cast<int>(n), MPI_FLOAT, recv, static_cast<int>(n), MPI_FLOAT, root, MPI_COMM_WORLD),
        "gather");
}

void gather_rows(const float* send, int64_t rows, int64_t row_size, float* recv, int root) {
  init();
  if (size() == 1) {
    if (recv != send) std::copy(send, send + rows * row_size, recv);
    return;
  }
  FC_CHECK(rows * row_size <= INT_MAX, "gather_rows: " << rows << " rows of " << row_size
                                                       << " floats are more than one MPI call carries");
  // Every rank knows every rank's share: the split of my_rows().
  std::vector<int> counts(static_cast<size_t>(size())), offsets(static_cast<size_t>(size()));
  for (int r = 0; r < size(); ++r) {
    const Rows share = rows_of_rank(rows, r);
    counts[static_cast<size_t>(r)] = static_cast<int>(share.count() * row_size);
    offsets[static_cast<size_t>(r)] = static_cast<int>(share.begin * row_size);
  }
  check(MPI_Gatherv(send, counts[static_cast<size_t>(rank())], MPI_FLOAT, recv, counts.data(), offsets.data(),
                    MPI_FLOAT, root, MPI_COMM_WORLD),
        "gather");
}

void barrier() {
  init();
  if (size() == 1) return;
  check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

}  // namespace fc::dist
