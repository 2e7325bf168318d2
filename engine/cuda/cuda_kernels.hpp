#pragma once
// The CUDA backend's kernels (host-side entry points); engine/cuda/table.cu puts them in
// the CUDA kernel table. See engine/kernels.hpp for what each one computes. Every
// pointer is device memory except the host side of to_host / from_host.
#include "engine/kernels.hpp"

namespace fc::cuda {

FC_KERNELS(FC_DECLARE_KERNEL)
FC_DECLARE_KERNEL(to_host)
FC_DECLARE_KERNEL(from_host)
FC_DECLARE_KERNEL(synchronize)
FC_DECLARE_KERNEL(all_reduce_sum)  // engine/cuda/comm.cu

}  // namespace fc::cuda
