#include "nn/unet_blocks.hpp"

#include "engine/error.hpp"
#include "engine/ops.hpp"

namespace fc::nn {

ResBlock::ResBlock(int64_t in, int64_t out, int64_t emb_dim, float dropout, Generator& gen,
                   Generator& dropout_gen)
    : out_(out),
      in_layers_(register_module("in_layers", std::make_shared<Sequential>())),
      emb_layers_(register_module("emb_layers", std::make_shared<Sequential>())),
      out_layers_(register_module("out_layers", std::make_shared<Sequential>())) {
  in_layers_.add(std::make_shared<GroupNorm>(kUNetGroups, in));
  in_layers_.add(std::make_shared<SiLU>());
  in_layers_.add(std::make_shared<Conv2d>(in, out, 3, 1, 1, gen));
  emb_layers_.add(std::make_shared<SiLU>());
  emb_layers_.add(std::make_shared<Linear>(emb_dim, out, gen));
  out_layers_.add(std::make_shared<GroupNorm>(kUNetGroups, out));
  out_layers_.add(std::make_shared<SiLU>());
  out_layers_.add(std::make_shared<Dropout>(dropout, dropout_gen));
  zero_module(out_layers_.add(std::make_shared<Conv2d>(out, out, 3, 1, 1, gen)));
  if (in != out) skip_ = &register_module("skip_connection", std::make_shared<Conv2d>(in, out, 1, 1, 0, gen));
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& emb) {
  Tensor h = in_layers_.forward(x);
  Tensor e = emb_layers_.forward(emb);
  FC_CHECK(e.ndim() == 2 && e.dim(0) == h.dim(0),
           "ResBlock: embedding " << emb.shape() << " does not match the batch of " << x.shape());
  h = add(h, reshape(e, Shape{e.dim(0), out_, 1, 1}));
  h = out_layers_.forward(h);
  return add(skip_ ? skip_->forward(x) : x, h);
}

AttentionBlock::AttentionBlock(int64_t channels, int heads, Generator& gen)
    : heads_(heads),
      norm_(register_module("norm", std::make_shared<GroupNorm>(kUNetGroups, channels))),
      qkv_(register_module("qkv", std::make_shared<PointwiseConv1d>(channels, 3 * channels, gen))),
      proj_out_(register_module("proj_out", std::make_shared<PointwiseConv1d>(channels, channels, gen))) {
  FC_CHECK(heads > 0 && channels % heads == 0,
           "AttentionBlock: " << heads << " heads do not divide " << channels << " channels");
  zero_module(proj_out_);
}

Tensor AttentionBlock::forward(const Tensor& x) {
  FC_CHECK(x.ndim() == 4, "AttentionBlock: expected [N, C, H, W], got " << x.shape());
  Tensor flat = reshape(x, Shape{x.dim(0), x.dim(1), x.dim(2) * x.dim(3)});
  Tensor h = proj_out_.forward(qkv_attention(qkv_.forward(norm_.forward(flat)), heads_));
  return reshape(add(flat, h), x.shape());
}

Downsample::Downsample(int64_t channels, Generator& gen)
    : op_(register_module("op", std::make_shared<Conv2d>(channels, channels, 3, 2, 1, gen))) {}

Tensor Downsample::forward(const Tensor& x) { return op_.forward(x); }

Upsample::Upsample(int64_t channels, Generator& gen)
    : conv_(register_module("conv", std::make_shared<Conv2d>(channels, channels, 3, 1, 1, gen))) {}

Tensor Upsample::forward(const Tensor& x) { return conv_.forward(upsample_nearest2x(x)); }

Tensor EmbedSequential::forward(const Tensor& x, const Tensor& emb) {
  Tensor h = x;
  for (size_t i = 0; i < size(); ++i) h = embed_[i] ? embed_[i]->forward(h, emb) : (*this)[i].forward(h);
  return h;
}

}  // namespace fc::nn
