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

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  FC_PROFILE("cross_entropy");
  FC_CHECK(logits.ndim() == 2 && labels.ndim() == 1 && labels.dim(0) == logits.dim(0),
           "cross_entropy: expected logits [N, K] and labels [N], got " << logits.shape() << " and "
                                                                      << labels.shape());
  const int64_t n = logits.dim(0), k = logits.dim(1);
  FC_CHECK(n > 0 && k > 0, "cross_entropy: empty logits " << logits.shape());
  // Composed of other ops (the classifier that uses it is small): mean over rows of
  // logsumexp(row) - row[label], shifted by the row maximum so exp cannot overflow.
  std::vector<float> onehot(static_cast<size_t>(n * k), 0.f);
  std::vector<float> ids = labels.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    float id = ids[static_cast<size_t>(i)];
    FC_CHECK(id >= 0 && id < static_cast<float>(k) && id == static_cast<float>(static_cast<int64_t>(id)),
             "cross_entropy: label " << id << " is not an integer in [0, " << k << ")");
    onehot[static_cast<size_t>(i * k + static_cast<int64_t>(id))] = 1.f;
  }
  Tensor shift = max(logits, 1, true).detach();  // the shift cancels: no gradient
  Tensor lse = log(sum(exp(logits - shift), {1}, true)) + shift;
  Tensor picked = sum(logits * Tensor::from_vector(onehot, logits.shape()).to(logits.device()), {1}, true);
  return mean(lse - picked);
}

}  // namespace fc
