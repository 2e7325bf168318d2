#include "apps/common/loss_reader.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "nn/data_parallel.hpp"

namespace fc::app {

LossReader::LossReader(TrainState& state, bool over_ranks)
    : state_(state), over_ranks_(over_ranks), smooth_(state.losses.empty() ? 0 : state.losses.back()) {}

void LossReader::add(const Tensor& loss) { pending_.push_back(loss.detach()); }

void LossReader::flush(int64_t done) {
  int64_t it = done - static_cast<int64_t>(pending_.size());
  for (const Tensor& loss : pending_) {
    const float l = over_ranks_ ? static_cast<float>(nn::mean_over_ranks(loss.item())) : loss.item();
    FC_CHECK(std::isfinite(l), "training diverged: loss is " << l << " at iteration " << it << " (try a lower --lr)");
    state_.losses.push_back(l);
    smooth_ = state_.losses.size() == 1 ? l : 0.98 * smooth_ + 0.02 * l;
    ++it;
  }
  pending_.clear();
}

}  // namespace fc::app
