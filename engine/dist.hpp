#pragma once
// The process group of a data-parallel run: rank, size and the few collectives the
// training loops need (sum all-reduce, broadcast, gather, barrier), over float and
// double buffers in host memory.
//
// It lives in engine/ because it moves raw buffers between processes, like the
// kernels move them between threads: nn/ (averaging a module's flat gradients) and
// the programs build on it, and a GPU backend's NCCL communicator will sit beside
// the MPI one here, on device pointers.
//
// Two backends, chosen at build time: engine/comm/mpi.cpp (Open MPI, MPI=1) and
// engine/comm/single.cpp (one rank; every collective is the identity). Either way a
// plain run is one rank and starts nothing: MPI is initialised only when the
// launcher's environment says there are several ranks (mpirun sets
// OMPI_COMM_WORLD_SIZE, PMIx PMIX_RANK, MPICH's Hydra PMI_SIZE), so there is no MPI
// start-up cost without mpirun.
#include <cstdint>

namespace fc::dist {

// The launcher's world size and this process's rank (1 and 0 without a launcher),
// read from the environment: known before init(), so options can be checked against
// them before any work.
int size();
int rank();
inline bool is_root() { return rank() == 0; }
// This process's rank among the ranks on its machine (0 without a launcher): a GPU
// rank takes the GPU of that index (modulo the machine's count).
int local_rank();

// Whether this build has the MPI backend.
bool has_mpi();

// Starts MPI when size() > 1 (once; later calls do nothing). Throws fc::Error when the
// launcher says several ranks and this build has no MPI, or MPI disagrees with the
// environment. The collectives call it themselves.
void init();
// Ends MPI after a run that finished normally on every rank, waiting (asleep, not
// spinning) for the ranks still at work. After an error do not call it: exiting
// without it makes the launcher stop the other ranks.
void finalize();

// In place, on every rank: data[i] = the sum over ranks of data[i].
void all_reduce_sum(float* data, int64_t n);
void all_reduce_sum(double* data, int64_t n);
// all_reduce_sum started now and finished by wait_all(), so that it runs while the
// caller computes (nn/data_parallel.hpp's buckets, launched during backward). MPI
// moves the data only inside its calls: call progress() often until then. The data
// must stay alive and untouched until wait_all() returns.
void start_all_reduce_sum(float* data, int64_t n);
void progress();
void wait_all();
// In place, on every rank: data[i] = the maximum over ranks.
void all_reduce_max(double* data, int64_t n);
// root's `bytes` bytes at data, copied to every rank.
void broadcast(void* data, int64_t bytes, int root = 0);
// Rank r's n floats land at recv[r * n, (r + 1) * n) on root (recv may be null
// elsewhere); every rank passes the same n.
void gather(const float* send, int64_t n, float* recv, int root = 0);
// The rows of a batch of `rows` rows of `row_size` floats each, split as my_rows()
// splits them: this rank's rows at send, and on root all of them, in row order, at
// recv (recv may be null elsewhere). Every rank passes the same rows and row_size.
void gather_rows(const float* send, int64_t rows, int64_t row_size, float* recv, int root = 0);
void barrier();

// True on every rank when it is true on any (Ctrl-C on one rank stops all).
bool any(bool flag);

// Rows [begin, end) of a batch of `rows` that this rank computes: rank r of N gets
// [r * rows / N, (r + 1) * rows / N).
struct Rows {
  int64_t begin, end;
  int64_t count() const { return end - begin; }
};
Rows my_rows(int64_t rows);
// The same for any rank r.
Rows rows_of_rank(int64_t rows, int r);

}  // namespace fc::dist
