#include "apps/image/train.hpp"

#include <cstdio>
#include <filesystem>

#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "nn/checkpoint.hpp"

namespace fc::app {

void save_unet_checkpoint(const std::string& path, nn::UNet& unet, nn::AdamW& opt, nn::EMA* ema,
                          const Generator& gen, const TrainState& state, std::map<std::string, std::string> meta) {
  for (auto& [k, v] : unet.config().to_metadata()) meta[k] = v;
  meta["dropout_rng_seed"] = std::to_string(unet.dropout_generator().seed());
  meta["dropout_rng_offset"] = std::to_string(unet.dropout_generator().offset());
  std::vector<nn::NamedTensor> extra;
  if (ema) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", static_cast<double>(ema->decay()));
    meta["ema_decay"] = b;
    meta["ema_updates"] = std::to_string(ema->updates());
    extra.push_back({"ema.parameters", ema->shadow()});
  }
  save_train_checkpoint(path, unet, &opt, gen, state, meta, extra);
}

void resume_unet_training(const std::string& path, const std::string& dataset, const std::string& objective,
                          nn::UNet& unet, nn::AdamW& opt, nn::EMA* ema, Generator& gen, TrainState& state) {
  FC_CHECK(std::filesystem::exists(path), path << ": nothing to resume (no checkpoint)");
  nn::SafetensorsFile f = nn::load_safetensors(path);
  auto it = f.metadata.find("dataset");
  FC_CHECK(it != f.metadata.end() && it->second == dataset,
           path << ": checkpoint was trained on '" << (it == f.metadata.end() ? "?" : it->second) << "', not '"
                << dataset << "'");
  auto ob = f.metadata.find("objective");
  const std::string was = ob == f.metadata.end() ? "?" : ob->second;
  FC_CHECK(was == objective, path << ": checkpoint's objective is '" << was << "', this run's '" << objective << "'");
  FC_CHECK(nn::UNetConfig::from_metadata(f.metadata).to_metadata() == unet.config().to_metadata(),
           path << ": checkpoint's model differs from this run's (pass the same options to --resume)");
  nn::load_parameters(unet, f, path);
  restore_training(f, path, opt, gen, state);
  unet.dropout_generator().set_state(metadata_u64(f, path, "dropout_rng_seed"),
                                     metadata_u64(f, path, "dropout_rng_offset"));
  if (ema) {
    const Tensor* e = f.find("ema.parameters");
    FC_CHECK(e && e->numel() == ema->shadow().numel(), path << ": checkpoint has no matching EMA weights");
    nn::require_finite(*e, path, "ema.parameters");
    ema->shadow().copy_(e->to(ema->shadow().device()));
    ema->set_updates(static_cast<int64_t>(metadata_u64(f, path, "ema_updates")));
  }
}

Tensor drop_labels(const Tensor& y, float p, int64_t null_label, int64_t batch, const dist::Rows& rows,
                   Generator& gen) {
  if (p <= 0.f) return y;
  std::vector<float> u = gen.uniform(Shape{batch}).to_vector(), v = y.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    if (u[static_cast<size_t>(rows.begin) + i] < p) v[i] = static_cast<float>(null_label);
  return Tensor::from_vector(v, y.shape());
}

namespace {

// Rows of t in the given order (on t's device; the pairing is a host-side choice).
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& rows) {
  const int64_t n = t.dim(0), d = n ? t.numel() / n : 0;
  std::vector<float> in = t.to_vector(), out(in.size());
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(in.begin() + rows[i] * d, in.begin() + (rows[i] + 1) * d, out.begin() + static_cast<int64_t>(i) * d);
  return Tensor::from_vector(out, t.shape(), t.device());
}

}  // namespace

void couple_images(const Tensor& x0, Tensor& x1, Tensor& y, const flow::CouplingOptions& options, Generator& gen) {
  if (options.kind == flow::Coupling::independent) return;
  FC_CHECK(y.numel() == x1.dim(0), "couple_images: " << y.numel() << " labels for " << x1.dim(0) << " images");
  const std::vector<int64_t> partner = flow::coupling_partners(x0, x1, options, gen);
  x1 = take_rows(x1, partner);
  y = take_rows(y, partner);
}

}  // namespace fc::app
