// Nearest 2x upsampling and 2x average pooling; each one's gradient is (a multiple of)
// the other.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

namespace {

void check_image(const Tensor& x, const char* op) {
  FC_CHECK(x.ndim() == 4, op << ": expected [N, C, H, W], got " << x.shape());
}

}  // namespace

Tensor upsample_nearest2x(const Tensor& x) {
  FC_PROFILE("upsample");
  check_image(x, "upsample_nearest2x");
  const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor y = Tensor::empty(Shape{x.dim(0), x.dim(1), 2 * h, 2 * w}, x.device());
  FC_KERNEL(x.device(), upsample2x, "upsample_nearest2x")(x.data(), y.data(), planes, h, w, 1.f);
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "upsample_nearest2x", {&x}, [sx, planes, h, w](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(sx, g.device());
      FC_KERNEL(g.device(), pool2x_sum, "upsample_nearest2x")(g.data(), gx.data(), planes, 2 * h,
                                                              2 * w, 1.f);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor avg_pool2x(const Tensor& x) {
  FC_PROFILE("avg_pool");
  check_image(x, "avg_pool2x");
  const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
  FC_CHECK(h % 2 == 0 && w % 2 == 0, "avg_pool2x: height and width of " << x.shape() << " must be even");
  Tensor y = Tensor::empty(Shape{x.dim(0), x.dim(1), h / 2, w / 2}, x.device());
  FC_KERNEL(x.device(), pool2x_sum, "avg_pool2x")(x.data(), y.data(), planes, h, w, 0.25f);
  if (needs_grad({&x})) {
    Shape sx = x.shape();
    record(y, "avg_pool2x", {&x}, [sx, planes, h, w](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(sx, g.device());
      FC_KERNEL(g.device(), upsample2x, "avg_pool2x")(g.data(), gx.data(), planes, h / 2, w / 2, 0.25f);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

}  // namespace fc
