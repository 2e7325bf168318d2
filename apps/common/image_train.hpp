#pragma once
// The training loop of the image programs. CFM, rectified flow and one-step
// distillation (cfm_image --train, --reflow, --distill) differ only in their loss on a
// batch; the optimizer step, gradient clipping, EMA, progress bar, checkpoints, Ctrl-C
// and the data-parallel ranks are the same. Their checkpoints share one layout too
// (the UNet's config, the dropout generator, the EMA average), read back by
// resume_unet_training.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "apps/common/train_state.hpp"
#include "engine/dist.hpp"
#include "engine/random.hpp"
#include "engine/tensor.hpp"
#include "nn/ema.hpp"
#include "nn/optim.hpp"
#include "nn/unet.hpp"

namespace fc::app {

struct ImageTrainOptions {
  int64_t iterations = 0, batch = 0;
  int64_t per_epoch = 0;            // > 0: the progress bar shows the epoch
  int64_t checkpoint_every = 500;   // 0: only at the end (the caller's save)
  int64_t interrupt_at = -1;        // (testing) act as if Ctrl-C came at this iteration
  double clip = 1.0;                // gradient-norm clipping, 0: off
  std::string program, checkpoint, losses_csv, label = "train";
};

// This rank's loss at `iteration`, on its rows of the batch of options.batch.
using ImageLossFn = std::function<Tensor(int64_t iteration, const dist::Rows& rows)>;

// (Nothing here is particular to a UNet but the checkpoints: the 2-D programs' loop,
// train_flow_mlp, is this one with the pair-regression loss built in.)
// Trains unet from state.iteration to options.iterations, calling save() (rank 0) every
// checkpoint_every iterations. On Ctrl-C every rank stops at the same iteration, rank 0
// saves and writes the losses, and it returns false. The smoothed final loss goes to
// *smooth_loss. Under mpirun the gradients are averaged before clipping.
bool train_unet(nn::Module& unet, nn::AdamW& opt, nn::EMA* ema, TrainState& state, const ImageLossFn& loss,
                const ImageTrainOptions& options, const std::function<void()>& save, double* smooth_loss);

// Writes a training checkpoint of an image model: `metadata` plus the UNet's config,
// the dropout generator's state and the EMA average (when ema).
void save_unet_checkpoint(const std::string& path, nn::UNet& unet, nn::AdamW& opt, nn::EMA* ema,
                          const Generator& gen, const TrainState& state, std::map<std::string, std::string> metadata);

// Puts a checkpoint of save_unet_checkpoint back to continue training: refuses one of
// another dataset or objective ("cfm", "reflow", "distill") or another model, one line
// each naming the file.
void resume_unet_training(const std::string& path, const std::string& dataset, const std::string& objective,
                          nn::UNet& unet, nn::AdamW& opt, nn::EMA* ema, Generator& gen, TrainState& state);

// Replaces each label by the null class with probability p (classifier-free guidance's
// training), from gen. y holds rows [rows.begin, rows.end) of a batch of `batch`: the
// draw is the whole batch's, so that every rank's generator stays the same.
Tensor drop_labels(const Tensor& y, float p, int64_t null_label, int64_t batch, const dist::Rows& rows,
                   Generator& gen);

}  // namespace fc::app
