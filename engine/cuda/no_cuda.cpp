// Built when there is no CUDA backend: the CUDA kernel table is empty, so any op on a
// CUDA tensor throws "op X has no CUDA kernel (...)" and allocation throws too.
#include "engine/kernels.hpp"

namespace fc::cuda {

KernelTable make_table() { return KernelTable{}; }

}  // namespace fc::cuda
