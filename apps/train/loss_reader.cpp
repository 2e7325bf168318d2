#include "apps/train/loss_reader.hpp"

#include <cmath>

#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::app {

LossReader::LossReader(TrainState& state, bool over_ranks)
    : state_(state), over_ranks_(over_ranks), smooth_(state.losses.empty() ? 0 : state.losses.back()) {}

void LossReader::add(const Tensor& loss) {
  FC_CHECK(loss.numel() == 1, "LossReader: a loss has one element, got " << loss.shape());
  if (!slots_.defined() || slots_.device() != loss.device()) {
    FC_CHECK(pending_ == 0, "LossReader: the losses moved to another device before they were read");
    slots_ = Tensor::empty(Shape{static_cast<int64_t>(kEvery)}, loss.device());
  }
  Tensor::view_of(slots_, static_cast<int64_t>(pending_), Shape{}).copy_(reshape(loss.detach(), Shape{}));
  ++pending_;
}

void LossReader::flush(int64_t done) {
  if (pending_ == 0) return;
  std::vector<float> read = Tensor::view_of(slots_, 0, Shape{static_cast<int64_t>(pending_)}).to_vector();
  std::vector<double> values(read.begin(), read.end());
  if (over_ranks_) {  // every rank flushes at the same iterations: one sum for the group
    dist::all_reduce_sum(values.data(), static_cast<int64_t>(values.size()));
    for (double& v : values) v /= dist::size();
  }
  int64_t it = done - static_cast<int64_t>(pending_);
  for (double v : values) {
    const float l = static_cast<float>(v);
    FC_CHECK(std::isfinite(l), "training diverged: loss is " << l << " at iteration " << it + 1 << " (try a lower --lr)");
    state_.losses.push_back(l);
    smooth_ = state_.losses.size() == 1 ? l : 0.98 * smooth_ + 0.02 * l;
    ++it;
  }
  pending_ = 0;
}

}  // namespace fc::app
