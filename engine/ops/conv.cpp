// 2-D convolution: one fused kernel each way (im2col + sgemm; see engine/cpu/conv.cpp).
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride, int padding) {
  FC_PROFILE("conv2d");
  FC_CHECK(x.ndim() == 4 && w.ndim() == 4,
           "conv2d: expected input [N, C, H, W] and weight [O, C, kh, kw], got " << x.shape()
                                                                              << " and " << w.shape());
  FC_CHECK(x.dim(1) == w.dim(1), "conv2d: input " << x.shape() << " has " << x.dim(1)
                                                 << " channels but weight " << w.shape() << " expects "
                                                 << w.dim(1));
  FC_CHECK(stride >= 1 && padding >= 0,
           "conv2d: stride must be >= 1 and padding >= 0, got " << stride << " and " << padding);
  FC_CHECK(!bias.defined() || (bias.ndim() == 1 && bias.dim(0) == w.dim(0)),
           "conv2d: bias " << bias.shape() << " does not match weight " << w.shape());
  FC_CHECK(x.device() == w.device() && (!bias.defined() || bias.device() == w.device()),
           "conv2d: tensors on different devices");
  ConvGeometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3),
                 stride,   padding,  0,        0};
  FC_CHECK(g.h + 2 * padding >= g.kh && g.w + 2 * padding >= g.kw,
           "conv2d: kernel " << w.shape() << " is larger than the padded input " << x.shape());
  g.ho = (g.h + 2 * padding - g.kh) / stride + 1;
  g.wo = (g.w + 2 * padding - g.kw) / stride + 1;
  Device d = x.device();
  Tensor y = Tensor::empty(Shape{g.n, g.o, g.ho, g.wo}, d);
  FC_KERNEL(d, conv2d, "conv2d")(x.data(), w.data(), bias.defined() ? bias.data() : nullptr,
                                 y.data(), g);
  if (needs_grad({&x, &w, &bias})) {
    // x is needed for the weight's gradient, w for the input's.
    Tensor xs = w.requires_grad() ? x.detach() : Tensor();
    Tensor ws = x.requires_grad() ? w.detach() : Tensor();
    Shape sx = x.shape(), sw = w.shape();
    record(y, "conv2d", {&x, &w, &bias}, [xs, ws, sx, sw, g](const Tensor& gy, const std::vector<bool>& need) {
      Tensor gx, gw, gb;
      Device dev = gy.device();
      if (need[0]) gx = Tensor::empty(sx, dev);
      if (need[1]) gw = gradient_buffer(1, sw, dev);  // a zeroed .grad where there is one
      if (need[2]) gb = gradient_buffer(2, Shape{g.o}, dev);
      FC_KERNEL(dev, conv2d_backward, "conv2d")(
          xs.defined() ? xs.data() : nullptr, ws.defined() ? ws.data() : nullptr, gy.data(),
          need[0] ? gx.data() : nullptr, need[1] ? gw.data() : nullptr,
          need[2] ? gb.data() : nullptr, g);
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace fc
