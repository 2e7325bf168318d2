#include "apps/image/flow.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "apps/cli/device.hpp"
#include "apps/cli/progress.hpp"
#include "apps/train/rank_split.hpp"
#include "apps/train/sampling.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/safetensors.hpp"

namespace fc::app {

flow::VelocityFn SamplePath::apply(const flow::VelocityFn& v) const {
  return sampling_velocity(v, trained, sampled);
}

SamplePath checkpoint_sample_path(const std::string& checkpoint, const std::string& sampled) {
  FC_CHECK(std::filesystem::exists(checkpoint), checkpoint << ": no such checkpoint");
  SamplePath p;
  p.trained = trained_path(nn::load_safetensors(checkpoint).metadata, checkpoint);
  // The checkpoint's own path by name keeps its σmin (the transform needs σmin = 0).
  p.sampled = sampled.empty() || sampled == p.trained.name() ? p.trained : flow::Scheduler::parse(sampled);
  FC_CHECK(!p.changes() || p.trained.sigma_min() == 0,
           checkpoint << ": trained under condot with sigma_min " << p.trained.sigma_min()
                      << ", which cannot be sampled under another path (the transform needs sigma_min 0)");
  return p;
}

flow::VelocityFn unet_velocity(nn::UNet& model, const Tensor& labels, float guidance) {
  const nn::UNetConfig& cfg = model.config();
  // The model runs on its own device; x comes from the caller's (the host, for the
  // samplers and the likelihood) and v goes back there. Tensor::to is differentiable,
  // so the likelihood's divergence flows through the copies.
  const Device d = model.device();
  flow::VelocityFn on_device;
  if (guidance == 0.f) {
    on_device = [&model, y = labels.to(d)](const Tensor& x, float t) {
      return model.forward(x, Tensor::full(Shape{x.dim(0)}, t, x.device()), y);
    };
  } else {
    FC_CHECK(cfg.null_class, "guidance scale " << guidance
                                               << " needs a model trained with class dropout "
                                                  "(--class-drop > 0); use --guidance 0");
    Tensor both = concat({labels, Tensor::full(labels.shape(), static_cast<float>(cfg.num_classes),
                                               labels.device())},
                         0).to(d);
    on_device = [&model, both, guidance](const Tensor& x, float t) {
      const int64_t n = x.dim(0);
      Tensor v = model.forward(concat({x, x}, 0), Tensor::full(Shape{2 * n}, t, x.device()), both);
      Tensor cond = slice(v, 0, 0, n), uncond = slice(v, 0, n, 2 * n);
      return cond + (cond - uncond) * guidance;
    };
  }
  return velocity_on(d, on_device);
}

std::unique_ptr<nn::UNet> load_unet_for_sampling(const std::string& path, int64_t image_size,
                                                 const std::string& dataset) {
  FC_CHECK(std::filesystem::exists(path), path << ": no such checkpoint");
  nn::SafetensorsFile f = nn::load_safetensors(path);
  auto trained_on = f.metadata.find("dataset");
  FC_CHECK(dataset.empty() || trained_on == f.metadata.end() || trained_on->second == dataset,
           path << ": trained on '" << trained_on->second << "', not '" << dataset << "'");
  nn::UNetConfig cfg;
  try {
    cfg = nn::UNetConfig::from_checkpoint(f, image_size);  // refuses a model bigger than the file
  } catch (const Error& e) {
    FC_THROW(path << ": " << e.what());
  }
  Generator init(0);
  auto unet = std::make_unique<nn::UNet>(cfg, init);
  nn::load_parameters(*unet, f, path);
  unet->flatten_parameters();
  if (const Tensor* ema = f.find("ema.parameters")) {
    FC_CHECK(ema->numel() == unet->flat_parameters().numel(),
             path << ": EMA weights do not match the model");
    nn::require_finite(*ema, path, "ema.parameters");
    Tensor p = unet->flat_parameters();
    p.copy_(*ema);
  }
  unet->train(false);
  return unet;
}

flow::VelocityFn unet_velocity_flat(nn::UNet& model, const Tensor& labels, float guidance,
                                    const SamplePath& path) {
  const nn::UNetConfig& cfg = model.config();
  Shape image{0, cfg.in_channels, cfg.image_size, cfg.image_size};
  flow::VelocityFn v = path.apply(unet_velocity(model, labels, guidance));
  return [v, image](const Tensor& x, float t) {
    Shape s = image;
    s[0] = x.dim(0);
    return reshape(v(reshape(x, s), t), Shape{x.dim(0), x.dim(1)});
  };
}

Tensor class_grid_labels(int64_t classes, int64_t per_class) {
  std::vector<float> y(static_cast<size_t>(classes * per_class));
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(static_cast<int64_t>(i) % classes);
  return Tensor::from_vector(y, Shape{classes * per_class});
}

std::vector<Tensor> sample_images(nn::UNet& model, Generator& gen, const Tensor& labels,
                                  const std::vector<float>& times, const flow::OdeOptions& ode,
                                  float guidance, int64_t batch, int64_t* nfe,
                                  const std::string& progress, const Tensor& given_x0,
                                  const SamplePath& path) {
  NoGradGuard no_grad;
  const nn::UNetConfig& cfg = model.config();
  const int64_t count = labels.dim(0);
  std::vector<std::vector<Tensor>> parts(times.size());
  std::unique_ptr<ProgressBar> bar;
  if (!progress.empty()) bar = std::make_unique<ProgressBar>(count, progress);
  for (int64_t start = 0; start < count; start += batch) {
    const int64_t n = std::min(batch, count - start);
    Tensor y = slice(labels, 0, start, start + n);
    Tensor x0 = given_x0.defined() ? slice(given_x0, 0, start, start + n)
                                   : gen.normal(Shape{n, cfg.in_channels, cfg.image_size, cfg.image_size});
    flow::OdeResult r = flow::odeint(path.apply(unet_velocity(model, y, guidance)), x0, times, ode);
    if (nfe && start == 0) *nfe += r.nfe;
    for (size_t i = 0; i < times.size(); ++i) parts[i].push_back(r.states[i]);
    if (bar) bar->update(start + n);
  }
  if (bar) bar->finish();
  std::vector<Tensor> out;
  for (auto& p : parts) out.push_back(p.size() == 1 ? p[0] : concat(p, 0));
  return out;
}

std::vector<Tensor> sample_images_over_ranks(nn::UNet& model, Generator& gen, const Tensor& labels,
                                             const std::vector<float>& times, const flow::OdeOptions& ode,
                                             float guidance, int64_t batch, int64_t* nfe,
                                             const std::string& progress, const Tensor& given_x0,
                                             const SamplePath& path) {
  const int64_t count = labels.dim(0);
  if (!split_over_ranks(count)) {
    if (!dist::is_root()) return std::vector<Tensor>(times.size());
    return sample_images(model, gen, labels, times, ode, guidance, batch, nfe, progress, given_x0, path);
  }
  Tensor x0 = given_x0;
  if (!x0.defined()) {  // the noise one process would draw, batch by batch
    const nn::UNetConfig& cfg = model.config();
    std::vector<Tensor> parts;
    for (int64_t start = 0; start < count; start += batch)
      parts.push_back(gen.normal(Shape{std::min(batch, count - start), cfg.in_channels, cfg.image_size, cfg.image_size}));
    x0 = parts.size() == 1 ? parts[0] : concat(parts, 0);
  }
  std::vector<Tensor> states = sample_images(model, gen, my_rows_of(labels), times, ode, guidance, batch, nfe,
                                             dist::is_root() ? progress : "", my_rows_of(x0), path);
  for (Tensor& s : states) s = gather_rows_on_root(s, count);
  return states;
}

}  // namespace fc::app
