#pragma once
// The image programs' checkpoints: CFM, rectified flow and one-step distillation
// (cfm_image --train, --reflow, --distill) train with apps/train/loop and share
// one checkpoint layout (the UNet's config, the dropout generator, the EMA average),
// read back by resume_unet_training; and classifier-free guidance's label dropout.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "apps/train/loop.hpp"
#include "apps/train/state.hpp"
#include "engine/dist.hpp"
#include "engine/random.hpp"
#include "engine/tensor.hpp"
#include "flow/coupling.hpp"
#include "nn/ema.hpp"
#include "nn/optim.hpp"
#include "nn/unet.hpp"

namespace fc::app {

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

// OT-CFM on images (cfm_image --train --coupling ot): x1 [N, C, H, W] and its labels y
// [N] reordered together so that row i is the partner of noise row i, by the exact
// minimum total squared distance assignment of flow/coupling on the flattened images
// (one problem per `block` rows). independent leaves both as they are.
void couple_images(const Tensor& x0, Tensor& x1, Tensor& y, const flow::CouplingOptions& options, Generator& gen);

}  // namespace fc::app
