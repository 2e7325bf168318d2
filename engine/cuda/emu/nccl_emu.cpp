// The emulated NCCL (nccl_emu.hpp): a communicator is the launcher's ranks, an
// all-reduce is MPI's on the device buffer, opened to the host for the call.
#include "engine/cuda/emu/nccl_emu.hpp"

#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "engine/dist.hpp"

struct ncclComm {
  int nranks, rank;
};

namespace {
constexpr char kMagic[] = "flowcpp emulated NCCL";
long g_all_reduces = 0;
}  // namespace

long fc::emu::nccl_all_reduces() { return g_all_reduces; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return ncclInvalidArgument;
  std::memset(id->internal, 0, sizeof id->internal);
  std::snprintf(id->internal, sizeof id->internal, "%s %d", kMagic, static_cast<int>(getpid()));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (!comm || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  // Every rank must hold rank 0's id (NCCL would hang or fail to connect otherwise).
  if (std::strncmp(id.internal, kMagic, sizeof kMagic - 1) != 0) return ncclInvalidUsage;
  if (nranks != fc::dist::size() || rank != fc::dist::rank()) return ncclInvalidUsage;
  *comm = new ncclComm{nranks, rank};
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  if (!comm || type != ncclFloat || op != ncclSum) return ncclInvalidArgument;
  // The stream's earlier work first (asynchronous streams); the call itself is done
  // when it returns (MPI on the host's thread).
  cudaStreamSynchronize(stream);
  if (count == 0) return ncclSuccess;
  if (!fc::emu::is_device_pointer(send) || !fc::emu::is_device_pointer(recv)) return ncclInvalidArgument;
  fc::emu::DeviceAccess access;
  if (send != recv) std::memmove(recv, send, count * sizeof(float));
  fc::dist::all_reduce_sum(static_cast<float*>(recv), static_cast<int64_t>(count));
  ++g_all_reduces;
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    default: return "NCCL error";
  }
}
