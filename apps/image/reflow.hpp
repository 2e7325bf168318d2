#pragma once
// Rectified flow and one-step distillation on images (Liu et al. 2023), for
// cfm_image --reflow and --distill. A teacher UNet (the CFM model, or the previous
// round's) turns N(0, I) noise x0 of balanced class labels into x1 = Φ(x0 | y); the
// pairs are made once (--pairs N) and kept beside the teacher's checkpoint as
// STEM_pairs_{x0,x1,labels}.npy with their record STEM_pairs.json (apps/train/
// pairs_record.hpp), reused by later runs of the same teacher and settings; an
// interrupted run keeps the pairs made so far and the next run continues them. The student starts from the
// teacher's sampling (EMA) weights and regresses x1 - x0 on the straight line
//   x_t = t x1 + (1 - t) x0,  t ~ U(0, 1)            (rectified flow), or at t = 0 alone,
// which is ‖x0 + v(x0, 0 | y) - x1‖², the one-step map's endpoint error (distillation).
// Labels are dropped to the null class as in CFM training, so guidance still works.
#include <nlohmann/json.hpp>

#include <string>

#include "engine/random.hpp"
#include "engine/tensor.hpp"
#include "nn/unet.hpp"

namespace fc::app {

struct ImagePairs {
  Tensor x0, x1, labels;  // [N, C, H, W], [N, C, H, W], [N]
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

// Pairs of `teacher` are made in batches of this many.
constexpr int64_t kPairBatch = 100;

// Extends `pairs` (none, or the first whole batches of an interrupted set) to n pairs of
// `teacher`: labels i % classes, x0 from seed batch by batch (so that a continued set
// equals one made at once), x1 by `steps` midpoint steps of the teacher's field with
// guidance w. On a signal it throws Interrupted with `pairs` holding the whole batches
// made so far.
void make_image_pairs(nn::UNet& teacher, int64_t n, int64_t steps, float guidance, uint64_t seed,
                      ImagePairs& pairs);

// The files of the pairs of the checkpoint at `checkpoint` (its path less ".safetensors").
std::string pairs_stem(const std::string& checkpoint);
bool image_pairs_exist(const std::string& stem);
void save_image_pairs(const std::string& stem, const ImagePairs& pairs);
// Reads the pairs and checks them against the model and the size asked for (n pairs of
// the model's image shape, integral labels of its classes); one line naming the file
// otherwise.
ImagePairs load_image_pairs(const std::string& stem, int64_t n, const nn::UNetConfig& model);

struct ImageReflowOptions {
  std::string program = "cfm_image", dataset;
  std::string teacher;   // checkpoint of round 1's teacher (distillation: the model to start from)
  std::string dir;       // output folder: ckpt.safetensors, round*.safetensors, losses, metrics
  bool distill = false, resume = false;
  int64_t pairs = 0, teacher_steps = 20, rounds = 1;
  int64_t iterations = 0, batch = 0, checkpoint_every = 500, interrupt_at = -1;
  uint64_t seed = 0;
  double lr = 1e-4, clip = 1.0, ema_decay = 0, class_drop = 0;
  float guidance = 0;    // of the CFM teacher when it makes pairs (later rounds' teachers: 0)
  Device device = Device::CPU;  // where the student trains (and the teacher makes pairs)
};

// Trains the rounds (distillation: one) into options.dir, adding its numbers to
// metrics. Returns false when interrupted (the checkpoint is saved; --resume continues).
bool train_image_reflow(const ImageReflowOptions& options, nlohmann::json& metrics);

// The guidance a model of cfm_image should be sampled with: 0 for reflowed and
// distilled models (their pairs already carry the teacher's guidance), `cfm` for a CFM
// model.
float sampling_guidance(const std::string& checkpoint, float cfm);

}  // namespace fc::app
