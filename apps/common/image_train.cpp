#include "apps/common/image_train.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/flow2d.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/progress.hpp"
#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "nn/checkpoint.hpp"
#include "nn/data_parallel.hpp"

namespace fc::app {

namespace {

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

bool train_unet(nn::Module& unet, nn::AdamW& opt, nn::EMA* ema, TrainState& state, const ImageLossFn& loss_fn,
                const ImageTrainOptions& o, const std::function<void()>& save, double* smooth_loss) {
  install_interrupt_handler();
  ProgressBar bar(o.iterations, o.label, state.iteration);
  double smooth = state.losses.empty() ? 0 : state.losses.back();
  const dist::Rows rows = dist::my_rows(o.batch);
  const bool split = rows.count() != o.batch;
  const int64_t epochs = o.per_epoch > 0 ? (o.iterations + o.per_epoch - 1) / o.per_epoch : 0;
  constexpr int64_t kReplicaCheckEvery = 100;
  nn::check_replicas_agree(unet, state.iteration);
  for (; state.iteration < o.iterations; ++state.iteration) {
    // (--interrupt-at acts on the last rank alone: the others learn of it as of a Ctrl-C.)
    if (state.iteration == o.interrupt_at && dist::rank() == dist::size() - 1) request_interrupt();
    if (dist::any(interrupted())) {  // every rank stops at the same iteration
      nn::check_replicas_agree(unet, state.iteration);
      if (dist::is_root()) {
        save();
        write_losses_csv(o.losses_csv, state.losses);
        std::fprintf(stderr, "\n%s: interrupted at iteration %lld; saved %s (continue with --resume)\n",
                     o.program.c_str(), static_cast<long long>(state.iteration), o.checkpoint.c_str());
      }
      return false;
    }
    Tensor loss = loss_fn(state.iteration, rows);
    opt.zero_grad();
    loss.backward();
    nn::average_gradients(unet);
    if (o.clip > 0) nn::clip_grad_norm(unet, static_cast<float>(o.clip));
    opt.step();
    if (ema) ema->update();
    float l = split ? static_cast<float>(nn::mean_over_ranks(loss.item())) : loss.item();
    FC_CHECK(std::isfinite(l), "training diverged: loss is " << l << " at iteration " << state.iteration
                                                             << " (try a lower --lr)");
    state.losses.push_back(l);
    smooth = state.losses.size() == 1 ? l : 0.98 * smooth + 0.02 * l;
    std::string status = "loss " + fmt(smooth);
    if (epochs > 0)
      status = "epoch " + std::to_string(state.iteration / o.per_epoch + 1) + "/" + std::to_string(epochs) + "  " +
               status;
    bar.update(state.iteration + 1, status);
    if ((state.iteration + 1) % kReplicaCheckEvery == 0) nn::check_replicas_agree(unet, state.iteration + 1);
    if (o.checkpoint_every > 0 && (state.iteration + 1) % o.checkpoint_every == 0 &&
        state.iteration + 1 < o.iterations && dist::is_root()) {
      ++state.iteration;  // the checkpoint records the iterations done
      save();
      --state.iteration;
    }
  }
  nn::check_replicas_agree(unet, state.iteration);
  bar.finish("loss " + fmt(smooth));
  if (smooth_loss) *smooth_loss = smooth;
  return true;
}

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
    ema->shadow().copy_(*e);
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

}  // namespace fc::app
