#pragma once
// The blocks of guided diffusion's UNet (use_scale_shift_norm=False, conv_resample,
// legacy attention order), under its module names so that its checkpoints load:
//   ResBlock       in_layers (GroupNorm, SiLU, conv3x3), emb_layers (SiLU, Linear),
//                  out_layers (GroupNorm, SiLU, Dropout, conv3x3), skip_connection
//   AttentionBlock norm, qkv, proj_out
//   Downsample     op (conv3x3, stride 2);  Upsample  nearest 2x, then conv
// and the container that hands the time/class embedding to the blocks that take it.
#include "nn/image_layers.hpp"
#include "nn/layers.hpp"

namespace fc::nn {

// The number of groups of every GroupNorm in the UNet (GroupNorm32).
constexpr int kUNetGroups = 32;

// A block whose forward also takes the embedding [N, emb_dim].
class EmbedBlock : public Module {
 public:
  using Module::forward;
  virtual Tensor forward(const Tensor& x, const Tensor& emb) = 0;
};

class ResBlock : public EmbedBlock {
 public:
  // Dropout draws from dropout_gen, which must outlive the block.
  ResBlock(int64_t in, int64_t out, int64_t emb_dim, float dropout, Generator& gen,
           Generator& dropout_gen);
  using EmbedBlock::forward;
  // x [N, in, H, W], emb [N, emb_dim] -> [N, out, H, W]
  Tensor forward(const Tensor& x, const Tensor& emb) override;

 private:
  int64_t out_;
  Sequential& in_layers_;
  Sequential& emb_layers_;
  Sequential& out_layers_;
  Conv2d* skip_ = nullptr;  // a 1x1 conv when in != out, else the identity
};

// Self-attention over the H*W positions, added to its input.
class AttentionBlock : public Module {
 public:
  AttentionBlock(int64_t channels, int heads, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, H, W]

 private:
  int heads_;
  GroupNorm& norm_;
  PointwiseConv1d& qkv_;
  PointwiseConv1d& proj_out_;
};

class Downsample : public Module {
 public:
  Downsample(int64_t channels, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, ceil(H/2), ceil(W/2)]

 private:
  Conv2d& op_;
};

class Upsample : public Module {
 public:
  Upsample(int64_t channels, Generator& gen);
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, 2H, 2W]

 private:
  Conv2d& conv_;
};

// Sequential whose forward hands emb to the EmbedBlocks among its layers
// (guided diffusion's TimestepEmbedSequential).
class EmbedSequential : public Sequential {
 public:
  template <class M>
  M& add(std::shared_ptr<M> m) {
    embed_.push_back(dynamic_cast<EmbedBlock*>(m.get()));
    return Sequential::add(std::move(m));
  }
  using Sequential::forward;
  Tensor forward(const Tensor& x, const Tensor& emb);

 private:
  std::vector<EmbedBlock*> embed_;  // layer i as an EmbedBlock, or nullptr
};

}  // namespace fc::nn
