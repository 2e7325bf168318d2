// The CUDA kernel table: every entry filled (tests/test_cuda_kernels.cpp checks it; a
// null entry would fail loudly, naming the op and the device: FC_KERNEL).
#include "engine/cuda/backend.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

KernelTable make_table() {
  KernelTable table;
  FC_KERNELS(FC_FILL_KERNEL)
  FC_FILL_KERNEL(to_host)
  FC_FILL_KERNEL(from_host)
  FC_FILL_KERNEL(synchronize)
  FC_FILL_KERNEL(all_reduce_sum)
  return table;
}

}  // namespace fc::cuda
