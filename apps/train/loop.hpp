#pragma once
// The one training loop of every program: cfm2d, reflow2d (through train_flow_mlp) and
// cfm_image's CFM, rectified flow and distillation differ only in their loss on a batch;
// the optimizer step, gradient clipping, EMA, progress bar, losses read from the device
// in groups, checkpoints, Ctrl-C and the data-parallel ranks are the same.
#include <functional>
#include <string>

#include "apps/cli/device.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/state.hpp"
#include "engine/dist.hpp"
#include "engine/tensor.hpp"
#include "nn/data_parallel.hpp"
#include "nn/ema.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"

namespace fc::app {

struct TrainLoopOptions {
  int64_t iterations = 0, batch = 0;
  int64_t per_epoch = 0;            // > 0: the progress bar shows the epoch
  int64_t checkpoint_every = 500;   // 0: only at the end (the caller's save)
  int64_t interrupt_at = -1;        // (testing) act as if Ctrl-C came at this iteration
  int64_t replica_check_every = 100;  // under mpirun: compare the ranks' parameters this often
  double clip = 1.0;                // gradient-norm clipping, 0: off
  int64_t bucket_bytes = nn::kDefaultBucketBytes;  // under mpirun: the all-reduce's buckets, 0: one after backward
  std::string program, checkpoint, losses_csv, label = "train";
  HostWaits* host_waits = nullptr;  // if set: the host's waits for the model's device in steady steps
};

// This rank's loss at `iteration`, on its rows of the batch of options.batch.
using LossFn = std::function<Tensor(int64_t iteration, const dist::Rows& rows)>;

// Trains model from state.iteration to options.iterations, calling save() (rank 0)
// every checkpoint_every iterations. On Ctrl-C every rank stops at the same iteration,
// rank 0 saves and writes the losses, and it returns false. The smoothed final loss goes
// to *smooth_loss. Under mpirun the gradients are averaged before clipping, and the
// ranks' parameters compared every replica_check_every iterations.
bool train_loop(nn::Module& model, nn::AdamW& opt, nn::EMA* ema, TrainState& state, const LossFn& loss,
                const TrainLoopOptions& options, const std::function<void()>& save, double* smooth_loss);

}  // namespace fc::app
