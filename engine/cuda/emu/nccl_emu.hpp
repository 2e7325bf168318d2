#pragma once
// NCCL on the emulated device: the calls of NCCL that engine/cuda/comm.cu makes, on the
// emulated device's memory, with the sum carried out by MPI between the processes of
// the launcher (engine/dist.hpp). It checks what NCCL requires of its caller: a unique
// id from rank 0 handed to every rank, a communicator whose size and rank are the
// launcher's, device pointers for the buffers, float sums only (all flowcpp uses). So
// the backend's bootstrap and call sequence run in CI on CPUs; NCCL's own transport
// runs only on GPUs.
#include <cstddef>

#include "engine/cuda/emu/cuda_emu.hpp"

#define NCCL_UNIQUE_ID_BYTES 128
struct ncclUniqueId {
  char internal[NCCL_UNIQUE_ID_BYTES];
};
enum ncclResult_t {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
};
enum ncclDataType_t { ncclFloat = 7 };
enum ncclRedOp_t { ncclSum = 0 };
struct ncclComm;
using ncclComm_t = ncclComm*;

ncclResult_t ncclGetUniqueId(ncclUniqueId* id);
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char* ncclGetErrorString(ncclResult_t r);

namespace fc::emu {
// (testing) How many all-reduces the emulated NCCL has carried out in this process.
long nccl_all_reduces();
}  // namespace fc::emu
