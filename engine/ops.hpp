#pragma once
// The ops: each computes its result through the device's kernel table and, when
// autograd is recording, attaches its backward rule (written in these same ops, so it
// runs on every backend). Shape errors throw fc::Error naming the op and the shapes.
#include <vector>

#include "engine/kernels.hpp"
#include "engine/tensor.hpp"

namespace fc {

class Generator;  // engine/random.hpp

// ---- elementwise, one input (engine/ops/unary.cpp)
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // no gradient (zero almost everywhere)
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor add_scalar(const Tensor& x, float s);
Tensor mul_scalar(const Tensor& x, float s);
Tensor rsub_scalar(float s, const Tensor& x);  // s - x
Tensor rdiv_scalar(float s, const Tensor& x);  // s / x

// ---- elementwise, two inputs with NumPy broadcasting (engine/ops/binary.cpp)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// ---- reductions (engine/ops/reduce.cpp)
Tensor sum(const Tensor& x);  // all elements, shape []
Tensor mean(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim = false);
Tensor max(const Tensor& x, int axis, bool keepdim = false);
// Sums broadcast dimensions away so that x takes `shape` (the adjoint of broadcast_to).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- layout (engine/ops/layout.cpp)
Tensor reshape(const Tensor& x, const Shape& shape);  // a view
Tensor reshape(const Tensor& x, const std::vector<int64_t>& dims);  // one -1 is inferred
Tensor permute(const Tensor& x, const std::vector<int>& perm);
Tensor transpose(const Tensor& x, int dim0, int dim1);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);

// ---- linear algebra (engine/ops/linalg.cpp)
// op(a) @ op(b) where op transposes the last two dimensions when asked. 2-D, or 3-D
// batched ([B, M, K] @ [B, K, N]; a 2-D operand is shared by every batch).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// act(x [..., in] @ w[out, in]^T + bias[out]): one sgemm with the bias fused in, and
// with Activation::Silu one pass for bias and SiLU after it (backward likewise fuses
// the SiLU gradient with the bias gradient). bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias,
              Activation act = Activation::None);

// ---- losses (engine/ops/loss.cpp)
Tensor mse_loss(const Tensor& pred, const Tensor& target);  // mean of squared errors
// Mean over rows of -log softmax(logits [N, K])[label], labels [N] integers as float.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

// ---- images (engine/ops/conv.cpp, norm.cpp, attention.cpp, resample.cpp, embedding.cpp)
// x [N, C, H, W] * w [O, C, kh, kw] + bias [O] (may be undefined) -> [N, O, Ho, Wo]
// with Ho = (H + 2 padding - kh) / stride + 1 (PyTorch's Conv2d). im2col + sgemm; a
// 1x1 kernel with stride 1 and no padding is one sgemm per image.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride = 1,
              int padding = 0);
// x [N, C, *] normalised over each of `groups` groups of C / groups channels (and all
// spatial positions), then * gamma[C] + beta[C] (either may be undefined). groups must
// divide C. One fused kernel each way (PyTorch's GroupNorm).
Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                  float eps = 1e-5f);
// silu(group_norm(...)) in one pass each way; backward recomputes the group norm's
// output from x instead of keeping it (and the sigmoid) for every element.
Tensor group_norm_silu(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta,
                       float eps = 1e-5f);
// Softmax over the last axis.
Tensor softmax(const Tensor& x);
// Scaled dot-product attention over the channels-first qkv [B, heads * 3 * D, T] of a
// 1x1 convolution, split as guided-diffusion's QKVAttentionLegacy splits it (per head:
// q, k, v, each D channels): out[b, h*D + c, t] = sum_s softmax_s(q_t . k_s / sqrt(D))
// v[c, s]. Fused: the T x T weights are not kept for backward but recomputed there (as
// flash attention does); only a log-sum-exp per row is saved.
Tensor qkv_attention(const Tensor& qkv, int heads);
// [N, C, H, W] -> [N, C, 2H, 2W], each pixel repeated 2x2 (nearest).
Tensor upsample_nearest2x(const Tensor& x);
// [N, C, H, W] -> [N, C, H/2, W/2], the mean of each 2x2 block (H and W even).
Tensor avg_pool2x(const Tensor& x);
// Rows of table [V, D] picked by ids [N] (integers stored as float, checked to lie in
// [0, V)) -> [N, D]; backward scatter-adds into the table's gradient.
Tensor embedding(const Tensor& table, const Tensor& ids);
// Sinusoidal embedding of t [N] -> [N, dim]: [cos(t f_0..f_{h-1}), sin(t f_0..)] with
// f_i = max_period^(-i/h), h = dim/2, and a zero column when dim is odd (guided
// diffusion's timestep_embedding). Differentiable in t.
Tensor timestep_embedding(const Tensor& t, int dim, float max_period = 10000.f);
// Training: zeroes each element with probability p and scales the rest by 1/(1-p),
// drawing the mask from gen. Not training (or p = 0): x itself.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

// ---- operators
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, float s) { return add_scalar(x, s); }
inline Tensor operator+(float s, const Tensor& x) { return add_scalar(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return add_scalar(x, -s); }
inline Tensor operator-(float s, const Tensor& x) { return rsub_scalar(s, x); }
inline Tensor operator*(const Tensor& x, float s) { return mul_scalar(x, s); }
inline Tensor operator*(float s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return mul_scalar(x, 1.f / s); }
inline Tensor operator/(float s, const Tensor& x) { return rdiv_scalar(s, x); }

}  // namespace fc
