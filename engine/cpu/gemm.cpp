// sgemm through OpenBLAS (its OpenMP build, so that it shares our thread pool).
#include <cblas.h>

#include "engine/cpu/cpu_kernels.hpp"

namespace fc::cpu {

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
          float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha,
                a + i * stride_a, static_cast<blasint>(lda), b + i * stride_b,
                static_cast<blasint>(ldb), beta, c + i * stride_c, static_cast<blasint>(ldc));
}

}  // namespace fc::cpu
