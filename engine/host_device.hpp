#pragma once
// FC_HOST_DEVICE marks a function that the CPU kernels and the CUDA kernels share
// (compiled for both by nvcc; a plain inline function elsewhere, the emulator included).
#ifdef __CUDACC__
#define FC_HOST_DEVICE __host__ __device__
#else
#define FC_HOST_DEVICE
#endif
