#pragma once
// The class-conditional UNet of the image recipe: guided diffusion's UNetModel
// (use_scale_shift_norm=False, resblock_updown=False, conv_resample=True, legacy
// attention order, GroupNorm(32) everywhere) with its parameter names, so that the
// reference project's checkpoints load. It maps (x_t, t, class) to a velocity.
#include <map>
#include <string>
#include <vector>

#include "nn/safetensors.hpp"
#include "nn/unet_blocks.hpp"

namespace fc::nn {

struct UNetConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;  // square images of image_size x image_size
  int64_t model_channels = 64;
  int64_t out_channels = 1;
  int64_t num_res_blocks = 2;
  std::vector<int> channel_mult = {1, 2, 2};
  // Downsampling factors ds (1 at full resolution, 2 after one Downsample, ...) at which
  // the res blocks are followed by attention. The reference's "attention_resolutions
  // 16" means ds = image_size / 16: 1 at 28x28, 2 at 32x32.
  std::vector<int> attention_resolutions = {1};
  int num_heads = 1;
  float dropout = 0.f;
  int64_t num_classes = 10;  // 0: unconditional
  // An extra label_emb row, index num_classes, for classifier-free guidance's "no class".
  // Off by default, keeping the reference's shape so that its checkpoints load.
  bool null_class = false;

  // The reference recipes at `channels` base channels (the reference trains 64):
  // 1x28x28 with multipliers (1,2,2) and attention at 28x28 (MNIST, Fashion-MNIST),
  // 3x32x32 with (1,2,2,2) and attention at 16x16 (CIFAR-10), 3x64x64 with (1,2,3,4)
  // and attention at 16x16 (CelebA: the reference's recipe for size 64); 2 res blocks
  // per level, one head, 10 classes, no dropout.
  static UNetConfig mnist(int64_t channels = 64);
  static UNetConfig cifar10(int64_t channels = 64);
  static UNetConfig celeba64(int64_t channels = 64);

  std::map<std::string, std::string> to_metadata() const;
  // Reads our metadata back, and also the reference's (the fixtures' __metadata__:
  // image_shape "C,H,W", channel_mult "1,2,2", attention_resolutions as resolutions);
  // throws naming the bad key.
  static UNetConfig from_metadata(const std::map<std::string, std::string>& meta);
  // The architecture read off the parameter shapes alone, for a reference checkpoint
  // converted to safetensors without metadata (a plain state_dict). What the shapes do
  // not say is taken as the reference's: one head, no dropout, no null class, and
  // `image_size` (the caller knows it from the data). Throws naming what is missing.
  static UNetConfig infer_from_parameters(const SafetensorsFile& file, int64_t image_size);
  // What a checkpoint holds: from_metadata, or infer_from_parameters for a file without
  // metadata. A config that needs more parameters (min_parameters) than the file holds
  // values is refused before any model is built: metadata claiming 10^12 parameters in
  // a small file is a memory bomb, not a model. Throws naming the problem.
  static UNetConfig from_checkpoint(const SafetensorsFile& file, int64_t image_size);
  // A lower bound on the parameters of the UNet this config builds (the convolutions
  // and embeddings every such UNet has), as a double so that absurd sizes cannot overflow.
  double min_parameters() const;
};

class UNet : public Module {
 public:
  // Throws when the config cannot be built (channels not divisible by 32, an image
  // size the down/up path cannot halve, ...).
  UNet(const UNetConfig& config, Generator& gen);
  using Module::forward;
  // x [N, in_channels, image_size, image_size], t [N] in [0, 1] (used as is, not
  // scaled), y [N] class labels stored as float (undefined for an unconditional model)
  // -> velocity [N, out_channels, image_size, image_size].
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& y = Tensor());
  const UNetConfig& config() const { return config_; }
  // Dropout's generator; a resumed run restores its state.
  Generator& dropout_generator() { return dropout_gen_; }

 private:
  Tensor embed(const Tensor& t, const Tensor& y);
  void check_inputs(const Tensor& x, const Tensor& t, const Tensor& y) const;

  UNetConfig config_;
  Generator dropout_gen_;
  Linear* time_embed_in_ = nullptr;   // time_embed.0
  Linear* time_embed_out_ = nullptr;  // time_embed.2
  Embedding* label_emb_ = nullptr;    // only when class-conditional
  std::vector<EmbedSequential*> input_blocks_, output_blocks_;
  EmbedSequential* middle_block_ = nullptr;
  Sequential* out_ = nullptr;
};

}  // namespace fc::nn
