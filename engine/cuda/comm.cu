// The CUDA backend's all-reduce over the ranks of engine/dist.hpp (the kernel table's
// all_reduce_sum): NCCL on the device's own stream, bootstrapped through MPI (rank 0's
// unique id broadcast to every rank), so gradients never leave the GPU and the host does
// not wait. A build without NCCL stages the buffer through host memory and MPI. On the
// emulated device the same code runs against the emulated NCCL (engine/cuda/emu).
#include <string>
#include <vector>

#include "engine/cuda/backend.hpp"
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"
#include "engine/dist.hpp"

#ifdef __CUDACC__
#ifdef FC_HAVE_NCCL
#include <nccl.h>
#endif
#else
#include "engine/cuda/emu/nccl_emu.hpp"
#define FC_HAVE_NCCL 1
#endif

namespace fc::cuda {

#ifdef FC_HAVE_NCCL

namespace {

void check_nccl(ncclResult_t r, const char* what) {
  FC_CHECK(r == ncclSuccess, "NCCL: " << what << ": " << ncclGetErrorString(r));
}

// One communicator over all the ranks, made at the first all-reduce (every rank gets
// there together: the gradients are averaged at the same step everywhere).
ncclComm_t communicator() {
  static ncclComm_t comm = [] {
    stream();  // the device first: NCCL binds the communicator to the current GPU
    ncclUniqueId id{};
    if (dist::is_root()) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    dist::broadcast(&id, sizeof id);
    ncclComm_t c = nullptr;
    check_nccl(ncclCommInitRank(&c, dist::size(), id, dist::rank()), "ncclCommInitRank");
    return c;  // kept to the end of the process, like the stream
  }();
  return comm;
}

}  // namespace

void all_reduce_sum(float* data, int64_t n) {
  if (dist::size() == 1 || n <= 0) return;
  check_nccl(ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat, ncclSum, communicator(), stream()),
             "ncclAllReduce");
}

std::string communicator_name() { return emulated() ? "NCCL (emulated, over MPI)" : "NCCL"; }

#else  // no NCCL in this build: through host memory

void all_reduce_sum(float* data, int64_t n) {
  if (dist::size() == 1 || n <= 0) return;
  std::vector<float> host(static_cast<size_t>(n));
  to_host(data, host.data(), n);
  dist::all_reduce_sum(host.data(), n);
  from_host(host.data(), data, n);
}

std::string communicator_name() { return "MPI through host memory (this build has no NCCL)"; }

#endif

}  // namespace fc::cuda
