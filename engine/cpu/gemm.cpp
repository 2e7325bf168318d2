// sgemm through OpenBLAS (its OpenMP build, so that it shares our thread pool).
// OpenBLAS threads large products well but small ones badly (a 256x64x64 product is
// slower on 2 threads than on 1), so below kOwnSplitFlops we split the rows of C
// (and the batch) over the threads ourselves and each calls a one-thread sgemm.
#include <cblas.h>
#include <omp.h>

#include "engine/cpu/cpu_kernels.hpp"

namespace fc::cpu {

namespace {

constexpr double kOwnSplitFlops = 1 << 27;  // about a millisecond on one core
constexpr double kMinSplitFlops = 1 << 20;  // below this a parallel region costs more
constexpr int64_t kMinRowsPerThread = 16;

void sgemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
          float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  double flops = 2.0 * static_cast<double>(m) * n * k * batch;
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Work items: (batch, row block) pairs, at least kMinRowsPerThread rows each.
  int64_t blocks_per_batch = m / kMinRowsPerThread;
  if (blocks_per_batch < 1) blocks_per_batch = 1;
  if (blocks_per_batch > threads) blocks_per_batch = threads;
  int64_t items = batch * blocks_per_batch;
  if (threads == 1 || flops >= kOwnSplitFlops || flops < kMinSplitFlops || items < 2) {
    for (int64_t i = 0; i < batch; ++i)
      sgemm1(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
             c + i * stride_c, ldc);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(items < threads ? items : threads)
  for (int64_t item = 0; item < items; ++item) {
    int64_t i = item / blocks_per_batch, blk = item % blocks_per_batch;
    int64_t r0 = m * blk / blocks_per_batch, r1 = m * (blk + 1) / blocks_per_batch;
    // Row r of op(A) starts at a + r * lda, or at column r when A is transposed.
    const float* ai = a + i * stride_a + (ta ? r0 : r0 * lda);
    sgemm1(ta, tb, r1 - r0, n, k, alpha, ai, lda, b + i * stride_b, ldb, beta,
           c + i * stride_c + r0 * ldc, ldc);
  }
}

}  // namespace fc::cpu
