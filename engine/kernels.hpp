#pragma once
// The kernel table: every computation an op needs, on raw device pointers. The op
// layer (engine/ops) is device-agnostic and calls kernels(device).NAME(...); each
// backend fills in a table (engine/cpu, engine/cuda). A kernel a backend lacks is a
// null entry, and calling it throws "op X has no CUDA kernel" instead of crashing.
#include <cstdint>
#include <type_traits>

#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/shape.hpp"

namespace fc {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Square, Abs, Sign, Step /* x > 0 */, Sigmoid, Tanh, Relu,
  Pow /* x^s */, AddScalar /* x + s */, MulScalar /* x * s */, RSubScalar /* s - x */,
  RDivScalar /* s / x */, Sin, Cos  // Cos last: kUnaryOpCount counts up to it
};
constexpr int kUnaryOpCount = static_cast<int>(UnaryOp::Cos) + 1;
enum class BinaryOp { Add, Sub, Mul, Div };
// The activation fused into linear(): none, or SiLU.
enum class Activation { None, Silu };

// How the two operands of a broadcasting binary op are walked.
struct BroadcastPlan {
  enum Kind {
    Same,      // a, b and out have the same shape
    AScalar,   // a has one element
    BScalar,   // b has one element
    BRows,     // out is [rows, inner]; b is [inner], repeated for every row
    BCols,     // out is [rows, inner]; b is [rows], one value per row
    General    // anything else: per-dimension strides, 0 where broadcast
  } kind = General;
  int64_t n = 0;      // elements of out
  int64_t inner = 0;  // for BRows / BCols
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t a_strides[kMaxDims] = {};
  int64_t b_strides[kMaxDims] = {};
};

// out (contiguous, `shape`) takes element sum(coord[i] * strides[i]) of the input:
// a permutation when strides are permuted, a broadcast when a stride is 0.
struct StridedPlan {
  int ndim = 0;
  int64_t n = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

// The geometry of a 2-D convolution: x [n, c, h, w] * w [o, c, kh, kw] -> [n, o, ho, wo].
struct ConvGeometry {
  int64_t n, c, h, w, o, kh, kw, stride, pad, ho, wo;
};

struct AdamWStep {
  float lr, beta1, beta2, eps, weight_decay;
  float bias_correction1, bias_correction2;  // 1 - beta^t
};

struct KernelTable {
  void (*fill)(float* y, int64_t n, float value) = nullptr;
  void (*copy)(const float* x, float* y, int64_t n) = nullptr;
  void (*axpy)(float alpha, const float* x, float* y, int64_t n) = nullptr;  // y += alpha*x
  void (*scale)(float* y, int64_t n, float s) = nullptr;                     // y *= s
  // y *= min(1, max_norm / (sqrt(sum_sq[0]) + 1e-6)), sum_sq on the device: gradient
  // clipping without reading the norm back to the host.
  void (*scale_to_norm)(float* y, int64_t n, const float* sum_sq, float max_norm) = nullptr;
  void (*unary)(UnaryOp op, const float* x, float* y, int64_t n, float s) = nullptr;
  // gx = gy * d op(x) / dx, given x and y = op(x) (either may be unused).
  void (*unary_backward)(UnaryOp op, const float* x, const float* y, const float* gy,
                         float* gx, int64_t n, float s) = nullptr;
  void (*binary)(BinaryOp op, const float* a, const float* b, float* y,
                 const BroadcastPlan& plan) = nullptr;
  void (*strided_copy)(const float* x, float* y, const StridedPlan& plan) = nullptr;
  // y[o, i] = sum_k x[o, k, i]  (x is [outer, n, inner], y is [outer, inner])
  void (*sum_axis)(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) = nullptr;
  void (*sum_all)(const float* x, float* y, int64_t n) = nullptr;  // y[0] = sum x
  void (*sum_squares)(const float* x, float* y, int64_t n) = nullptr;  // y[0] = sum x^2
  // y[o, i] = max_k x[o, k, i]; idx holds the winning k (as float: exact below 2^24).
  void (*max_axis)(const float* x, float* y, float* idx, int64_t outer, int64_t n,
                   int64_t inner) = nullptr;
  // gx (zeroed by the caller) [outer, n, inner] += gy routed to idx.
  void (*max_axis_backward)(const float* gy, const float* idx, float* gx, int64_t outer,
                            int64_t n, int64_t inner) = nullptr;
  // Copies x[o, xs + k, i] to y[o, ys + k, i] for k < len; x has xn rows per o, y has yn.
  void (*copy_rows)(const float* x, int64_t xn, int64_t xs, float* y, int64_t yn, int64_t ys,
                    int64_t outer, int64_t len, int64_t inner) = nullptr;
  // Row-major C = alpha * op(A) op(B) + beta * C, batched over `batch` with element
  // strides between matrices (0 broadcasts one matrix).
  void (*gemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
               int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
               int64_t batch) = nullptr;
  // SiLU, alone or as the epilogue of a fused linear + SiLU, on z [rows, cols]:
  // y = silu(z + bias) and s = sigmoid(z + bias), kept so that backward needs no exp
  // (null when there is no graph). bias may be null (plain silu: rows = 1).
  void (*bias_silu)(const float* z, const float* bias, float* y, float* s, int64_t rows,
                    int64_t cols) = nullptr;
  // Its backward: gz = gy * (s + y (1 - s)), and gbias = column sums of gz when not
  // null.
  void (*silu_backward_bias)(const float* y, const float* s, const float* gy, float* gz,
                             float* gbias, int64_t rows, int64_t cols) = nullptr;
  // y[r, :] = bias for every row r of a [rows, cols] matrix.
  void (*fill_rows)(const float* bias, float* y, int64_t rows, int64_t cols) = nullptr;
  // y[0] = mean((a - b)^2)
  void (*mse)(const float* a, const float* b, float* y, int64_t n) = nullptr;
  // ga = gy[0] * 2 (a - b) / n
  void (*mse_backward)(const float* a, const float* b, const float* gy, float* ga,
                       int64_t n) = nullptr;
  // ---- images (engine/cpu/conv.cpp, norm.cpp, attention.cpp, resample.cpp)
  // y = conv(x, w) + bias (bias may be null).
  void (*conv2d)(const float* x, const float* w, const float* bias, float* y,
                 const ConvGeometry& g) = nullptr;
  // Writes (does not accumulate) whichever of gx, gw, gb is not null.
  void (*conv2d_backward)(const float* x, const float* w, const float* gy, float* gx, float* gw,
                          float* gb, const ConvGeometry& g) = nullptr;
  // x [n, c, s] in `groups` groups; mean and rstd [n, groups] are written for backward.
  // gamma, beta may be null (1 and 0).
  // silu: y = SiLU(group norm), in the same pass.
  void (*group_norm)(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                     float* rstd, int64_t n, int64_t c, int64_t s, int64_t groups, float eps,
                     bool silu) = nullptr;
  // Writes gx, and ggamma / gbeta [c] when not null. silu: the forward had silu set;
  // its pre-activation is recomputed from x, mean, rstd, gamma and beta.
  void (*group_norm_backward)(const float* x, const float* gamma, const float* beta,
                              const float* mean, const float* rstd, const float* gy, float* gx,
                              float* ggamma, float* gbeta, int64_t n, int64_t c, int64_t s,
                              int64_t groups, bool silu) = nullptr;
  // Softmax of each row of x [rows, cols]; backward gx = y (gy - sum(gy y)).
  void (*softmax)(const float* x, float* y, int64_t rows, int64_t cols) = nullptr;
  void (*softmax_backward)(const float* y, const float* gy, float* gx, int64_t rows,
                           int64_t cols) = nullptr;
  // qkv [bh, 3, d, t] (per batch-head: q, k, v of d channels by t positions) ->
  // out [bh, d, t]; lse [bh, t] is the log-sum-exp of each row of the scores, for
  // backward only (the CPU kernels keep it in base 2).
  void (*attention)(const float* qkv, float* out, float* lse, int64_t bh, int64_t d,
                    int64_t t) = nullptr;
  // gqkv [bh, 3, d, t] from gout, recomputing the weights from qkv and lse.
  void (*attention_backward)(const float* qkv, const float* out, const float* lse,
                             const float* gout, float* gqkv, int64_t bh, int64_t d,
                             int64_t t) = nullptr;
  // Planes of h x w: y [planes, 2h, 2w] = scale * x repeated 2x2.
  void (*upsample2x)(const float* x, float* y, int64_t planes, int64_t h, int64_t w,
                     float scale) = nullptr;
  // Planes of h x w (even): y [planes, h/2, w/2] = scale * the sum of each 2x2 block.
  void (*pool2x_sum)(const float* x, float* y, int64_t planes, int64_t h, int64_t w,
                     float scale) = nullptr;
  // y[i, :] = table[ids[i], :]; backward gtable[ids[i], :] += gy[i, :] (gtable zeroed).
  // The table has `rows` rows. An id that is not an integer in [0, rows) reads and
  // writes nothing: its row of y is NaN and its gradient is dropped. (The op checks the
  // ids of CPU tensors and stops; on a device, reading them would make the host wait for
  // the GPU every step, so a bad id shows up as a NaN loss.)
  void (*gather_rows)(const float* table, int64_t rows, const float* ids, float* y, int64_t n,
                      int64_t d) = nullptr;
  void (*scatter_add_rows)(const float* gy, const float* ids, float* gtable, int64_t rows,
                           int64_t n, int64_t d) = nullptr;
  void (*adamw)(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamWStep& step) = nullptr;
  // Counter-based random numbers: element i depends only on (seed, offset, i).
  void (*rand_uniform)(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo,
                       float hi) = nullptr;
  void (*rand_normal)(float* y, int64_t n, uint64_t seed, uint64_t offset, float mean,
                      float std) = nullptr;
  void (*rand_int)(float* y, int64_t n, uint64_t seed, uint64_t offset, int64_t lo,
                   int64_t hi) = nullptr;
  // Copies between devices (host_to_device: y on this device, x on the host).
  void (*to_host)(const float* x, float* y, int64_t n) = nullptr;
  void (*from_host)(const float* x, float* y, int64_t n) = nullptr;
  // Returns when every kernel queued so far has finished (the CPU runs them as called).
  // For timing and for the host's reads; ops never need it.
  void (*synchronize)() = nullptr;
  // In place, over the ranks of a data-parallel run (engine/dist.hpp): data[i] = the sum
  // over the ranks of data[i]; every rank calls it with the same n, in the same order.
  // The CPU's is MPI on host memory; CUDA's is NCCL on the device's stream (the host
  // does not wait), or MPI through host memory in a build without NCCL.
  void (*all_reduce_sum)(float* data, int64_t n) = nullptr;
};

// Every kernel's name, once. Each backend declares its kernels from this list
// (FC_DECLARE_KERNEL: the signature is KernelTable's) and fills its table from it
// (FC_FILL_KERNEL), so a new kernel is its KernelTable entry above, its name here and
// its bodies. The four entries about the host (to_host, from_host, synchronize,
// all_reduce_sum) are not in it: each backend fills those its own way.
#define FC_KERNELS(X)                                                                    \
  X(fill) X(copy) X(axpy) X(scale) X(scale_to_norm) X(unary) X(unary_backward) X(binary)  \
  X(strided_copy) X(sum_axis) X(sum_all) X(sum_squares) X(max_axis) X(max_axis_backward) \
  X(copy_rows) X(gemm) X(bias_silu) X(silu_backward_bias) X(fill_rows) X(mse)            \
  X(mse_backward) X(conv2d) X(conv2d_backward) X(group_norm) X(group_norm_backward)      \
  X(softmax) X(softmax_backward) X(attention) X(attention_backward) X(upsample2x)        \
  X(pool2x_sum) X(gather_rows) X(scatter_add_rows) X(adamw) X(rand_uniform)              \
  X(rand_normal) X(rand_int)

// Declares the backend's function NAME with the signature of KernelTable::NAME.
#define FC_DECLARE_KERNEL(NAME) std::remove_pointer_t<decltype(::fc::KernelTable::NAME)> NAME;
// Puts the backend's function NAME in a KernelTable called `table`.
#define FC_FILL_KERNEL(NAME) table.NAME = NAME;

// The table of a device; entries are null where the backend lacks the kernel.
const KernelTable& kernel_table(Device d);

// Fetches kernel NAME for device D, throwing "op OP has no CUDA kernel (NAME)".
#define FC_KERNEL(D, NAME, OP)                                                             \
  ([&]() {                                                                                 \
    auto fc_k_ = ::fc::kernel_table(D).NAME;                                               \
    FC_CHECK(fc_k_ != nullptr, "op " << OP << " has no " << ::fc::device_name(D)           \
                                     << " kernel (" #NAME ")");                           \
    return fc_k_;                                                                          \
  }())

}  // namespace fc
