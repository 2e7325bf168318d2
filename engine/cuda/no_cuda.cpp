// Built when there is no CUDA backend (CUDA=0, or no toolkit): the CUDA kernel table is
// empty, so any op on a CUDA tensor throws "op X has no CUDA kernel (...)", and
// allocation throws too.
#include "engine/cuda/backend.hpp"

namespace fc::cuda {

namespace {
void* no_device_alloc(size_t) {
  FC_THROW("CUDA: this build has no CUDA backend (no GPU memory can be allocated)");
}
void no_device_free(void*) {}
}  // namespace

KernelTable make_table() { return KernelTable{}; }
RawAllocator raw_allocator() { return {no_device_alloc, no_device_free}; }
std::string unavailable_reason() {
  return "this build has no CUDA backend (built with CUDA=0 or without the CUDA toolkit)";
}
std::string device_description() { return "none"; }
bool emulated() { return false; }
uint64_t host_waits() { return 0; }
uint64_t kernel_launches() { return 0; }
std::string communicator_name() { return "none"; }
void set_attention_kernel(AttentionKernel) {}
void set_scratch_chunk_floats(int64_t) {}

}  // namespace fc::cuda
