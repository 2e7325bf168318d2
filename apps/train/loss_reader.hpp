#pragma once
// The training loops' losses, read from the device in groups. Reading a number that a
// GPU computes waits for the GPU, so a loop that read its loss every step would stop
// the device's queue every step; this copies each step's loss into a slot of one
// buffer of kEvery floats on the loss's device (no allocation, no wait) and reads the
// filled slots in one copy (one wait) every kEvery steps, or sooner, before a
// checkpoint or the end. The divergence check runs on the values it reads and names
// the iteration of the first non-finite one.
#include <cstdint>
#include <vector>

#include "apps/train/state.hpp"
#include "engine/tensor.hpp"

namespace fc::app {

class LossReader {
 public:
  static constexpr size_t kEvery = 20;
  // over_ranks: under mpirun, each loss is the mean over the ranks (every rank reads at
  // the same iterations, so the collectives line up).
  LossReader(TrainState& state, bool over_ranks);
  // Keeps this step's loss (a one-element tensor) without reading it.
  void add(const Tensor& loss);
  bool due() const { return pending_ >= kEvery; }
  // Reads the pending losses into state.losses; `done` counts the iterations finished,
  // the pending ones among them.
  void flush(int64_t done);
  // The smoothed loss (0.98 / 0.02) of the losses read so far.
  double smooth() const { return smooth_; }
  bool any() const { return !state_.losses.empty(); }

 private:
  TrainState& state_;
  bool over_ranks_;
  Tensor slots_;        // kEvery floats on the losses' device
  size_t pending_ = 0;  // slots filled since the last flush
  double smooth_ = 0;
};

}  // namespace fc::app
