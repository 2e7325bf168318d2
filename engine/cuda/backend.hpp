#pragma once
// What the engine asks of a CUDA backend (engine/cuda): its kernel table and its raw
// memory. Three variants define these: the real backend (engine/cuda/*.cu built with
// nvcc), the same sources on the emulated device (built with g++ against
// engine/cuda/emu/cuda_emu.hpp), and engine/cuda/no_cuda.cpp in a CPU-only build.
#include <cstdint>
#include <string>

#include "engine/allocator.hpp"
#include "engine/kernels.hpp"

namespace fc::cuda {

KernelTable make_table();
// cudaMalloc / cudaFree behind the caching allocator. Allocating throws
// "no CUDA device: ..." where there is none.
RawAllocator raw_allocator();

// "" when device 0 can be used, else why not (the text of "no CUDA device: ...").
std::string unavailable_reason();
// One line for the start of a run: "NVIDIA H200 (139.8 GiB, sm_90)", or the emulator's
// name. Only where unavailable_reason() is "".
std::string device_description();
// True for the emulated device (engine/cuda/emu): CUDA semantics, CPU speed. The apps'
// --device auto takes a real GPU only.
bool emulated();
// How many times the host has waited for the device so far: each read back to the host,
// each synchronize(), each upload too large for the pinned ring (engine/cuda/
// staging_ring.hpp) and each time the ring had to wait for a copy. A steady training
// step should add none (the apps record the count in metrics.json).
uint64_t host_waits();
// How many kernels the backend has launched so far: each of its own, and each cuBLAS
// call as one. A small model's step is bound by launches, not arithmetic: the count
// of a steady step is what fusing kernels lowers (the apps print it beside the waits).
uint64_t kernel_launches();
// Which form of attention the CUDA kernels run (engine/cuda/attention.cu): `tiled` (the
// default), the online-softmax kernels that never hold the t x t weights, where they fit
// (d <= 64 channels a head; larger d takes the other form anyway); or `gemm`, cuBLAS
// around a row softmax with the weights in device scratch. For the benchmarks and tests
// that compare the two; both give the same numbers to rounding.
enum class AttentionKernel { tiled, gemm };
void set_attention_kernel(AttentionKernel k);
// Convolution and the cuBLAS form of attention work in chunks of images or heads whose
// scratch (im2col columns, t x t weights) stays under this many floats (0: the default,
// 2^26 = 256 MiB). For tests, to run the chunked loops on small shapes.
void set_scratch_chunk_floats(int64_t floats);
// How the ranks' gradients travel: "NCCL", "NCCL (emulated, over MPI)", or "MPI through
// host memory (this build has no NCCL)".
std::string communicator_name();

}  // namespace fc::cuda
