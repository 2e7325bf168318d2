// gemm on cuBLAS. cuBLAS is column-major: a row-major matrix read as column-major is its
// transpose, so the row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T,
// one strided-batched sgemm with the operands swapped (a stride of 0 repeats a matrix).
#include "engine/cuda/cuda_common.hpp"
#include "engine/cuda/cuda_kernels.hpp"

namespace fc::cuda {

namespace {

// k = 0: C = beta C (0 when beta is 0, as BLAS: C may hold NaN). cuBLAS itself refuses
// the leading dimension 0 that an [m, 0] operand has.
__global__ void scale_matrices_kernel(float* c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c,
                                      int64_t batch, float beta) {
  FC_GRID_STRIDE(t, batch * m * n) {
    int64_t i = t / (m * n), r = t / n % m, col = t % n;
    float& v = c[i * stride_c + r * ldc + col];
    v = beta == 0.f ? 0.f : beta * v;
  }
}

}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
          float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) {
    FC_LAUNCH(scale_matrices_kernel, blocks_for(batch * m * n), kThreads, 0, stream(), c, m, n, ldc, stride_c,
              batch, beta);
    return;
  }
  count_launch();
  cublasStatus_t st = cublasSgemmStridedBatched(
      blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &alpha, b, static_cast<int>(ldb), stride_b, a,
      static_cast<int>(lda), stride_a, &beta, c, static_cast<int>(ldc), stride_c, static_cast<int>(batch));
  // A kernel of the call failed (the emulator's initcheck fails it so): the launch's error.
  if (st == CUBLAS_STATUS_EXECUTION_FAILED) check_launch("cublasSgemmStridedBatched");
  FC_CHECK(st == CUBLAS_STATUS_SUCCESS, "CUDA: cublasSgemmStridedBatched failed (status " << st << ") for "
                                        << m << "x" << n << "x" << k << ", batch " << batch);
}

}  // namespace fc::cuda
