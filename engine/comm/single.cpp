// engine/dist.hpp without MPI (a build with MPI=0, or where Open MPI is absent): one
// rank, every collective the identity. Under a launcher that asks for several ranks it
// refuses to start instead of running N copies that do not talk to each other.
#include "engine/dist.hpp"
#include "engine/error.hpp"

namespace fc::dist {

bool has_mpi() { return false; }

void init() {
  FC_CHECK(size() == 1, "launched as rank " << rank() << " of " << size()
                                            << ", but this build has no MPI (built with MPI=0 or without "
                                               "Open MPI); rebuild with libopenmpi-dev installed, or run one process");
}
void finalize() {}

void all_reduce_sum(float*, int64_t) { init(); }
void all_reduce_sum(double*, int64_t) { init(); }
void start_all_reduce_sum(float*, int64_t) { init(); }
void progress() {}
void wait_all() {}
void all_reduce_max(double*, int64_t) { init(); }
void broadcast(void*, int64_t, int) { init(); }
void gather(const float* send, int64_t n, float* recv, int) {
  init();
  if (recv != send)
    for (int64_t i = 0; i < n; ++i) recv[i] = send[i];
}
void gather_rows(const float* send, int64_t rows, int64_t row_size, float* recv, int root) {
  gather(send, rows * row_size, recv, root);
}
void barrier() { init(); }

}  // namespace fc::dist
