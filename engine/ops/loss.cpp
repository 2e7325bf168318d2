// Losses, fused: one pass forward, one pass backward.
#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  FC_PROFILE("mse_loss");
  FC_CHECK(pred.shape() == target.shape(),
           "mse_loss: prediction " << pred.shape() << " and target " << target.shape() << " differ");
  FC_CHECK(pred.device() == target.device(), "mse_loss: tensors on different devices");
  FC_CHECK(pred.numel() > 0, "mse_loss: empty tensors");
  Tensor y = Tensor::empty(Shape{}, pred.device());
  FC_KERNEL(pred.device(), mse, "mse_loss")(pred.data(), target.data(), y.data(), pred.numel());
  if (needs_grad({&pred, &target})) {
    Tensor ps = pred.detach(), ts = target.detach();
    record(y, "mse_loss", {&pred, &target}, [ps, ts](const Tensor& g, const std::vector<bool>& w) {
      // d/dpred = g * 2 (pred - target) / n, and d/dtarget is its negation.
      Tensor gp = Tensor::empty(ps.shape(), ps.device());
      FC_KERNEL(ps.device(), mse_backward, "mse_loss")(ps.data(), ts.data(), g.data(), gp.data(),
                                                       ps.numel());
      return std::vector<Tensor>{w[0] ? gp : Tensor(), w[1] ? neg(gp) : Tensor()};
    });
  }
  return y;
}

}  // namespace fc
