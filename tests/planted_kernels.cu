// Kernels with deliberate bugs for the racecheck and initcheck tests (planted_kernels.hpp).
#include "tests/planted_kernels.hpp"

#include "engine/cuda/cuda_common.hpp"

namespace fc::planted {
namespace {

__global__ void reverse_kernel(const float* x, float* y, int n, bool barrier) {
  __shared__ float tile[256];
  const int t = static_cast<int>(threadIdx.x);
  tile[t] = x[t];
  if (barrier) __syncthreads();
  y[t] = tile[n - 1 - t];
}

__global__ void add_one_kernel(float* out, bool atomic) {
  if (atomic) atomicAdd(out, 1.f);
  else if (threadIdx.x == 0) *out += 1.f;
}

__global__ void twice_kernel(const float* x, float* y, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = 2.f * x[i];
}

}  // namespace

void reverse_through_shared(const float* x, float* y, int n, bool barrier) {
  FC_LAUNCH(reverse_kernel, 1, n, 0, nullptr, x, y, n, barrier);
}
void all_blocks_add_one(float* out, int blocks, bool atomic) {
  FC_LAUNCH(add_one_kernel, blocks, 32, 0, nullptr, out, atomic);
}
void twice(const float* x, float* y, int n) {
  FC_LAUNCH(twice_kernel, (n + 127) / 128, 128, 0, nullptr, x, y, n);
}

}  // namespace fc::planted
