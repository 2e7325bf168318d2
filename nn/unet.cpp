#include "nn/unet.hpp"

#include <algorithm>

#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::nn {

namespace {

void check_config(const UNetConfig& c) {
  FC_CHECK(c.in_channels > 0 && c.out_channels > 0 && c.image_size > 0 && c.model_channels > 0 &&
               c.num_res_blocks > 0 && c.num_heads > 0 && c.num_classes >= 0,
           "UNet: sizes must be positive (in_channels " << c.in_channels << ", out_channels "
               << c.out_channels << ", image_size " << c.image_size << ", model_channels "
               << c.model_channels << ", num_res_blocks " << c.num_res_blocks << ", num_heads "
               << c.num_heads << ", num_classes " << c.num_classes << ")");
  FC_CHECK(!c.channel_mult.empty(), "UNet: channel_mult is empty");
  for (int m : c.channel_mult) {
    FC_CHECK(m > 0, "UNet: channel_mult " << m << " is not positive");
    FC_CHECK(m * c.model_channels % kUNetGroups == 0,
             "UNet: " << m * c.model_channels << " channels (model_channels " << c.model_channels
                      << " x channel_mult " << m << ") are not divisible by the " << kUNetGroups
                      << " GroupNorm groups");
  }
  for (int ds : c.attention_resolutions)
    FC_CHECK(ds > 0, "UNet: attention downsampling factor " << ds << " is not positive");
  // Each Downsample halves the image and each Upsample doubles it back; an odd size on
  // the way down would come back one pixel larger than its skip connection.
  int64_t halvings = static_cast<int64_t>(c.channel_mult.size()) - 1;
  FC_CHECK(halvings < 62 && c.image_size % (int64_t{1} << halvings) == 0,
           "UNet: image_size " << c.image_size << " cannot be halved " << halvings << " times ("
                               << c.channel_mult.size() << " levels in channel_mult)");
  FC_CHECK(c.dropout >= 0.f && c.dropout < 1.f, "UNet: dropout " << c.dropout << " is not in [0, 1)");
  FC_CHECK(!c.null_class || c.num_classes > 0, "UNet: null_class needs a class-conditional model");
}

// Dropout gets a stream of its own, fixed by the initialisation seed, so that turning
// dropout on does not change the initial weights.
constexpr uint64_t kDropoutStream = 0xD1B54A32D192ED03ull;

}  // namespace

UNet::UNet(const UNetConfig& c, Generator& gen) : config_(c), dropout_gen_(gen.seed() ^ kDropoutStream) {
  check_config(c);
  const int64_t mc = c.model_channels, emb_dim = 4 * mc;
  // Modules are registered in the reference's order, so parameters list as its do.
  auto& time_embed = register_module("time_embed", std::make_shared<Sequential>());
  time_embed_in_ = &time_embed.add(std::make_shared<Linear>(mc, emb_dim, gen));
  time_embed.add(std::make_shared<SiLU>());
  time_embed_out_ = &time_embed.add(std::make_shared<Linear>(emb_dim, emb_dim, gen));
  if (c.num_classes > 0)
    label_emb_ = &register_module(
        "label_emb", std::make_shared<Embedding>(c.num_classes + (c.null_class ? 1 : 0), emb_dim, gen));

  auto attention_at = [&](int ds) {
    return std::find(c.attention_resolutions.begin(), c.attention_resolutions.end(), ds) !=
           c.attention_resolutions.end();
  };
  auto res_block = [&](int64_t in, int64_t out) {
    return std::make_shared<ResBlock>(in, out, emb_dim, c.dropout, gen, dropout_gen_);
  };
  auto attention = [&](int64_t ch) { return std::make_shared<AttentionBlock>(ch, c.num_heads, gen); };

  auto& inputs = register_module("input_blocks", std::make_shared<Sequential>());
  auto new_input = [&]() -> EmbedSequential& {
    input_blocks_.push_back(&inputs.add(std::make_shared<EmbedSequential>()));
    return *input_blocks_.back();
  };
  const int levels = static_cast<int>(c.channel_mult.size());
  int64_t ch = c.channel_mult[0] * mc;
  new_input().add(std::make_shared<Conv2d>(c.in_channels, ch, 3, 1, 1, gen));
  std::vector<int64_t> skip_channels{ch};
  int ds = 1;
  for (int level = 0; level < levels; ++level) {
    for (int64_t i = 0; i < c.num_res_blocks; ++i) {
      EmbedSequential& block = new_input();
      block.add(res_block(ch, c.channel_mult[level] * mc));
      ch = c.channel_mult[level] * mc;
      if (attention_at(ds)) block.add(attention(ch));
      skip_channels.push_back(ch);
    }
    if (level + 1 < levels) {
      new_input().add(std::make_shared<Downsample>(ch, gen));
      skip_channels.push_back(ch);
      ds *= 2;
    }
  }

  middle_block_ = &register_module("middle_block", std::make_shared<EmbedSequential>());
  middle_block_->add(res_block(ch, ch));
  middle_block_->add(attention(ch));
  middle_block_->add(res_block(ch, ch));

  auto& outputs = register_module("output_blocks", std::make_shared<Sequential>());
  for (int level = levels - 1; level >= 0; --level) {
    for (int64_t i = 0; i <= c.num_res_blocks; ++i) {
      EmbedSequential& block = outputs.add(std::make_shared<EmbedSequential>());
      output_blocks_.push_back(&block);
      block.add(res_block(ch + skip_channels.back(), c.channel_mult[level] * mc));
      skip_channels.pop_back();
      ch = c.channel_mult[level] * mc;
      if (attention_at(ds)) block.add(attention(ch));
      if (level > 0 && i == c.num_res_blocks) {
        block.add(std::make_shared<Upsample>(ch, gen));
        ds /= 2;
      }
    }
  }

  out_ = &register_module("out", std::make_shared<Sequential>());
  out_->add(std::make_shared<GroupNorm>(kUNetGroups, ch));
  out_->add(std::make_shared<SiLU>());
  zero_module(out_->add(std::make_shared<Conv2d>(ch, c.out_channels, 3, 1, 1, gen)));
}

void UNet::check_inputs(const Tensor& x, const Tensor& t, const Tensor& y) const {
  const UNetConfig& c = config_;
  FC_CHECK(x.defined() && x.ndim() == 4 && x.dim(1) == c.in_channels && x.dim(2) == c.image_size &&
               x.dim(3) == c.image_size,
           "UNet: expected x of shape [N, " << c.in_channels << ", " << c.image_size << ", "
                                            << c.image_size << "], got "
                                            << (x.defined() ? x.shape() : Shape{}));
  const int64_t n = x.dim(0);
  FC_CHECK(t.defined() && t.ndim() == 1 && t.dim(0) == n,
           "UNet: expected t of shape [" << n << "] for x " << x.shape() << ", got "
                                         << (t.defined() ? t.shape() : Shape{}));
  if (c.num_classes == 0) {
    FC_CHECK(!y.defined(), "UNet: class labels y given to an unconditional model");
    return;
  }
  FC_CHECK(y.defined(), "UNet: the model is class-conditional (" << c.num_classes
                                                                 << " classes) but no labels y were given");
  FC_CHECK(y.ndim() == 1 && y.dim(0) == n,
           "UNet: expected labels y of shape [" << n << "] for x " << x.shape() << ", got " << y.shape());
}

Tensor UNet::embed(const Tensor& t, const Tensor& y) {
  Tensor e = timestep_embedding(t, static_cast<int>(config_.model_channels));
  // time_embed.0 and its SiLU as one fused op.
  e = linear(e, time_embed_in_->weight, time_embed_in_->bias, Activation::Silu);
  e = time_embed_out_->forward(e);
  if (label_emb_) e = add(e, label_emb_->forward(y));
  return e;
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const Tensor& y) {
  check_inputs(x, t, y);
  Tensor emb = embed(t, y);
  std::vector<Tensor> skips;
  Tensor h = x;
  for (EmbedSequential* block : input_blocks_) {
    h = block->forward(h, emb);
    skips.push_back(h);
  }
  h = middle_block_->forward(h, emb);
  for (EmbedSequential* block : output_blocks_) {
    h = block->forward(concat({h, skips.back()}, 1), emb);
    skips.pop_back();  // each skip is used once; let it go
  }
  return out_->forward(h);
}

}  // namespace fc::nn
