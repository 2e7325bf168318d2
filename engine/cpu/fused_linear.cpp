// SiLU's kernels, alone (no bias) or as the elementwise halves of the fused linear +
// SiLU: the pass after sgemm (bias and activation in one read of z) and the pass
// before the weight gradients (activation gradient and bias gradient in one read of
// the incoming gradient).
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/fast_math.hpp"
#include "engine/parallel.hpp"

namespace fc::cpu {

void bias_silu(const float* z, const float* bias, float* y, float* s, int64_t rows, int64_t cols) {
  // Plain SiLU has no bias: `bias ? bias[c] : 0` inside the loop would make GCC 12
  // emit a masked form of the loop that ran 40x slower, so the bias is added in a
  // loop of its own choosing: a zero row when there is none.
  static const std::vector<float> zeros(4096, 0.f);
  if (!bias && cols > static_cast<int64_t>(zeros.size())) {
    std::vector<float> z0(static_cast<size_t>(cols), 0.f);
    return bias_silu(z, z0.data(), y, s, rows, cols);
  }
  const float* b = bias ? bias : zeros.data();
  parallel_for(rows, kTranscendentalGrain / (cols + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* zr = z + r * cols;
      float* yr = y + r * cols;
      if (s) {
        float* sr = s + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) {
          float v = zr[c] + b[c];
          float sg = fast_sigmoid(v);
          sr[c] = sg;
          yr[c] = v * sg;
        }
      } else {  // no graph: the sigmoid is not needed later
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) {
          float v = zr[c] + b[c];
          yr[c] = v * fast_sigmoid(v);
        }
      }
    }
  });
}

void silu_backward_bias(const float* y, const float* s, const float* gy, float* gz, float* gbias,
                        int64_t rows, int64_t cols) {
  // Each thread sums its rows' bias gradient into its own slot; the slots are added
  // in thread order afterwards, so the result depends only on the thread count.
  int slots = omp_get_max_threads();
  std::vector<float> partial(gbias ? static_cast<size_t>(slots * cols) : 0, 0.f);
  int64_t grain = kElementwiseGrain / (cols + 1) + 1;
  bool parallel = rows > grain && slots > 1 && !omp_in_parallel();
  auto body = [&](int64_t r0, int64_t r1, float* acc) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * cols;
      const float* sr = s + r * cols;
      const float* gr = gy + r * cols;
      float* out = gz + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) out[c] = gr[c] * (sr[c] + yr[c] * (1.f - sr[c]));
      if (acc) {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[c] += out[c];
      }
    }
  };
  if (!parallel) {
    body(0, rows, gbias ? partial.data() : nullptr);
  } else {
#pragma omp parallel num_threads(slots)
    {
      int nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t chunk = (rows + nt - 1) / nt, r0 = t * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
      if (r0 < r1) body(r0, r1, gbias ? partial.data() + t * cols : nullptr);
    }
  }
  if (gbias) {
    for (int64_t c = 0; c < cols; ++c) gbias[c] = 0.f;
    for (int t = 0; t < slots; ++t)
      for (int64_t c = 0; c < cols; ++c) gbias[c] += partial[static_cast<size_t>(t * cols + c)];
  }
}

}  // namespace fc::cpu
