#pragma once
// The CUDA backend's kernels (host-side entry points); engine/cuda/table.cu puts them in
// the CUDA kernel table. See engine/kernels.hpp for what each one computes. Every
// pointer is device memory except the host side of to_host / from_host.
#include "engine/kernels.hpp"

namespace fc::cuda {

void fill(float* y, int64_t n, float value);
void copy(const float* x, float* y, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void scale(float* y, int64_t n, float s);
void scale_to_norm(float* y, int64_t n, const float* sum_sq, float max_norm);
void unary(UnaryOp op, const float* x, float* y, int64_t n, float s);
void unary_backward(UnaryOp op, const float* x, const float* y, const float* gy, float* gx,
                    int64_t n, float s);
void binary(BinaryOp op, const float* a, const float* b, float* y, const BroadcastPlan& plan);
void strided_copy(const float* x, float* y, const StridedPlan& plan);
void copy_rows(const float* x, int64_t xn, int64_t xs, float* y, int64_t yn, int64_t ys,
               int64_t outer, int64_t len, int64_t inner);
void fill_rows(const float* bias, float* y, int64_t rows, int64_t cols);
void bias_silu(const float* z, const float* bias, float* y, float* s, int64_t rows, int64_t cols);
void silu_backward_bias(const float* y, const float* s, const float* gy, float* gz, float* gbias,
                        int64_t rows, int64_t cols);
void sum_axis(const float* x, float* y, int64_t outer, int64_t n, int64_t inner);
void sum_all(const float* x, float* y, int64_t n);
void sum_squares(const float* x, float* y, int64_t n);
void max_axis(const float* x, float* y, float* idx, int64_t outer, int64_t n, int64_t inner);
void max_axis_backward(const float* gy, const float* idx, float* gx, int64_t outer, int64_t n,
                       int64_t inner);
void mse(const float* a, const float* b, float* y, int64_t n);
void mse_backward(const float* a, const float* b, const float* gy, float* ga, int64_t n);
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
          float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch);
void conv2d(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g);
void conv2d_backward(const float* x, const float* w, const float* gy, float* gx, float* gw,
                     float* gb, const ConvGeometry& g);
void group_norm(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                float* rstd, int64_t n, int64_t c, int64_t s, int64_t groups, float eps, bool silu);
void group_norm_backward(const float* x, const float* gamma, const float* beta, const float* mean,
                         const float* rstd, const float* gy, float* gx, float* ggamma,
                         float* gbeta, int64_t n, int64_t c, int64_t s, int64_t groups,
                         bool silu);
void softmax(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);
void attention(const float* qkv, float* out, float* lse, int64_t bh, int64_t d, int64_t t);
void attention_backward(const float* qkv, const float* out, const float* lse, const float* gout,
                        float* gqkv, int64_t bh, int64_t d, int64_t t);
void upsample2x(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale);
void pool2x_sum(const float* x, float* y, int64_t planes, int64_t h, int64_t w, float scale);
void gather_rows(const float* table, int64_t rows, const float* ids, float* y, int64_t n, int64_t d);
void scatter_add_rows(const float* gy, const float* ids, float* gtable, int64_t rows, int64_t n, int64_t d);
void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s);
void rand_uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void rand_normal(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
void rand_int(float* y, int64_t n, uint64_t seed, uint64_t offset, int64_t lo, int64_t hi);
void to_host(const float* x, float* y, int64_t n);
void from_host(const float* x, float* y, int64_t n);
void synchronize();
void all_reduce_sum(float* data, int64_t n);  // engine/cuda/comm.cu

}  // namespace fc::cuda
