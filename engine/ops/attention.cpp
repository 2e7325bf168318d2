// Scaled dot-product attention, fused (see engine/cpu/attention.cpp).
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

Tensor qkv_attention(const Tensor& qkv, int heads) {
  FC_PROFILE("attention");
  FC_CHECK(qkv.ndim() == 3, "qkv_attention: expected qkv [B, heads * 3 * D, T], got " << qkv.shape());
  FC_CHECK(heads >= 1 && qkv.dim(1) % (3 * heads) == 0,
           "qkv_attention: " << qkv.dim(1) << " channels of " << qkv.shape()
                             << " do not split into q, k, v for " << heads << " heads");
  const int64_t b = qkv.dim(0), t = qkv.dim(2), d = qkv.dim(1) / (3 * heads), bh = b * heads;
  Device dev = qkv.device();
  Tensor out = Tensor::empty(Shape{b, heads * d, t}, dev);
  Tensor lse = Tensor::empty(Shape{bh, t}, dev);
  FC_KERNEL(dev, attention, "qkv_attention")(qkv.data(), out.data(), lse.data(), bh, d, t);
  if (needs_grad({&qkv})) {
    Tensor qs = qkv.detach(), os = out.detach();
    record(out, "qkv_attention", {&qkv}, [qs, os, lse, bh, d, t](const Tensor& g, const std::vector<bool>&) {
      Tensor gqkv = Tensor::empty(qs.shape(), g.device());
      FC_KERNEL(g.device(), attention_backward, "qkv_attention")(qs.data(), os.data(), lse.data(),
                                                                 g.data(), gqkv.data(), bh, d, t);
      return std::vector<Tensor>{gqkv};
    });
  }
  return out;
}

}  // namespace fc
