// The AdamW update over one flat buffer of parameters, as PyTorch computes it
// (torch.optim.AdamW, foreach=False): decoupled decay, then
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// in the same order of operations, so that 5 steps agree with PyTorch to ~1e-6.
#include <cmath>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/parallel.hpp"

namespace fc::cpu {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
  float decay = 1.f - s.lr * s.weight_decay;
  float step_size = s.lr / s.bias_correction1;
  float sqrt_bc2 = std::sqrt(s.bias_correction2);
  float b1 = s.beta1, b2 = s.beta2, eps = s.eps;
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      float gi = g[i];
      float pi = p[i] * decay;
      float mi = m[i] + (1.f - b1) * (gi - m[i]);  // torch's lerp_(grad, 1 - beta1)
      float vi = b2 * v[i] + (1.f - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - step_size * (mi / (std::sqrt(vi) / sqrt_bc2 + eps));
    }
  });
}

}  // namespace fc::cpu
