#pragma once
// racecheck and initcheck on the emulated device (the emulator's side of them; what they
// find and how they are built: engine/cuda/emu/hazards.cpp).
//
// The kernels' own loads and stores reach the checks through GCC's ThreadSanitizer
// instrumentation (-fsanitize=thread at compile time only: hazards.cpp supplies the
// __tsan_* entry points, no ThreadSanitizer runtime is linked). Only the hazards build
// compiles the kernels so (build/run_tests_hazards, which make check runs); elsewhere
// these hooks keep their counters and check nothing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/cuda/emu/cuda_emu.hpp"

namespace fc::emu::hazards {

bool enabled();
void set_enabled(bool on);

// "(x, y, z)": a block's or thread's coordinates in the checks' reports (synccheck's too).
std::string coords(const uint3& i);
bool built();  // the kernels of this program are instrumented

// The emulator's device memory, once, before any hook below.
void set_device_range(const void* base, size_t bytes);

// A launch: its kernel, each block as it starts, each barrier as it releases threads.
void launch_begin(const char* kernel);
void block_begin(uint64_t linear_block);
void block_barrier_passed();
void warp_barrier_passed(unsigned warp);
// Where the running thread's own stack lies (its locals are no one else's business).
void set_thread_stack(const void* lo, const void* hi);
// The first finding of the launch ("" when none), and how many more there were.
std::string launch_end();
// Traffic (FC_EMU_TRAFFIC): the arithmetic of the next launch, declared by its launcher
// (fc::cuda::note_flops), and a library call's bytes and arithmetic (cuBLAS).
void note_flops(double flops);
void record_library_call(const char* name, uint64_t bytes, double flops);

// Device memory given out and taken back: by cudaMalloc and cudaFree, and by the caching
// allocator to a tensor (its `bytes` of the block) and back into its cache.
void device_allocated(const void* p, size_t bytes);
void device_released(const void* p, size_t bytes);
void tensor_handed_out(void* block, size_t block_bytes, void* p, size_t bytes);
void tensor_taken_back(void* block, size_t block_bytes);
// Device memory written outside kernels (copies, memset, cuBLAS).
void device_written(const void* p, size_t bytes);
void device_copied(void* dst, const void* src, size_t bytes);
// "" when every byte of [p, p + bytes) may be accessed and, if `need_written`, has been
// written; else the memcheck or initcheck finding: "memcheck: <who> <action> 40 bytes
// at ...". For the code that touches device memory uninstrumented (copies, cuBLAS).
std::string check_range(const char* who, const char* action, const void* p, size_t bytes, bool need_written);

}  // namespace fc::emu::hazards
