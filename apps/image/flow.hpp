#pragma once
// The class-conditional UNet as a velocity field, with classifier-free guidance, and
// sampling images with the ODE solvers.
#include <memory>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "flow/ode.hpp"
#include "flow/scheduler.hpp"
#include "nn/unet.hpp"

namespace fc::app {

// The path a model was trained under and the one to sample it under (cfm_image
// --sample-path). The same (the default): the model's own velocity; else the
// schedule-transformed one, through sampling_velocity (apps/flow2d/mlp_flow.hpp), the
// transform cfm2d --sample-path uses.
struct SamplePath {
  flow::Scheduler trained, sampled;
  bool changes() const { return trained.name() != sampled.name() || trained.sigma_min() != sampled.sigma_min(); }
  flow::VelocityFn apply(const flow::VelocityFn& v) const;
};

// The path of an image checkpoint's model (its "path" and "sigma_min" metadata; condot
// when absent) to sample under `sampled` ("": its own). One line naming the checkpoint
// for a transform that cannot be done (σmin > 0 under another path).
SamplePath checkpoint_sample_path(const std::string& checkpoint, const std::string& sampled);

// v(x, t) for images x [N, C, H, W] of the given labels [N]. With guidance w != 0 the
// model must have a null class (trained with class dropout):
//   v = v(x, t | y) + w (v(x, t | y) - v(x, t | none)),
// both halves in one forward pass of 2N images. w = 0 is the conditional model alone.
flow::VelocityFn unet_velocity(nn::UNet& model, const Tensor& labels, float guidance);

// The same field on flattened images [N, C*H*W] (what the likelihood integrates),
// under `path`.
flow::VelocityFn unet_velocity_flat(nn::UNet& model, const Tensor& labels, float guidance,
                                    const SamplePath& path = SamplePath());

// A UNet ready to sample from a cfm_image checkpoint (or a reference checkpoint
// converted to safetensors): its EMA average when it holds one, else its weights, in
// eval mode. A checkpoint without metadata (a plain state_dict) has its architecture
// read off the parameter shapes at `image_size`. With `dataset` given, a checkpoint
// whose metadata names another dataset is refused (one without metadata is taken on
// trust). Errors are one line naming the path.
std::unique_ptr<nn::UNet> load_unet_for_sampling(const std::string& path, int64_t image_size,
                                                 const std::string& dataset = "");

// Labels for a grid with one column per class: row r, column c has class c.
Tensor class_grid_labels(int64_t classes, int64_t per_class);

// Integrates N(0, I) images of `labels` from t = 0 to 1 in batches of at most `batch`,
// returning the images at each of `times` (concatenated over batches); adds the NFE
// of one batch to *nfe, and shows a progress bar labelled `progress` when not empty.
// A given x0 [N, C, H, W] is integrated instead of noise from gen (the same start for
// several models). The model is sampled under `path`.
std::vector<Tensor> sample_images(nn::UNet& model, Generator& gen, const Tensor& labels,
                                  const std::vector<float>& times, const flow::OdeOptions& ode,
                                  float guidance, int64_t batch, int64_t* nfe = nullptr,
                                  const std::string& progress = "", const Tensor& x0 = Tensor(),
                                  const SamplePath& path = SamplePath());

// sample_images over the ranks of a data-parallel run (apps/train/rank_split.hpp):
// every rank draws the x0 one process would draw (batch by batch, as sample_images
// draws them) and integrates its own rows; rank 0 gets every image in order, the others
// undefined tensors. Every rank must call it. The progress bar counts rank 0's share.
std::vector<Tensor> sample_images_over_ranks(nn::UNet& model, Generator& gen, const Tensor& labels,
                                             const std::vector<float>& times, const flow::OdeOptions& ode,
                                             float guidance, int64_t batch, int64_t* nfe = nullptr,
                                             const std::string& progress = "", const Tensor& x0 = Tensor(),
                                             const SamplePath& path = SamplePath());

}  // namespace fc::app
