#pragma once
// What the engine asks of a CUDA backend (engine/cuda): its kernel table and its raw
// memory. Three variants define these: the real backend (engine/cuda/*.cu built with
// nvcc), the same sources on the emulated device (built with g++ against
// engine/cuda/emu/cuda_emu.hpp), and engine/cuda/no_cuda.cpp in a CPU-only build.
#include "engine/allocator.hpp"
#include "engine/kernels.hpp"

namespace fc::cuda {

KernelTable make_table();
// cudaMalloc / cudaFree behind the caching allocator. Allocating throws
// "no CUDA device: ..." where there is none.
RawAllocator raw_allocator();

}  // namespace fc::cuda
