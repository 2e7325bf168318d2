#include "apps/image/eval.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/progress.hpp"
#include "apps/image/dataset_fetch.hpp"
#include "apps/image/flow.hpp"
#include "datasets/image_batches.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "flow/frechet.hpp"
#include "flow/likelihood.hpp"
#include "nn/checkpoint.hpp"
#include "nn/classifier.hpp"

namespace fc::app {

namespace {

// Every image of a dataset as one tensor [N, C, H, W] in [-1, 1], and its labels.
void whole_dataset(const data::ImageDataset& ds, Tensor& x, Tensor& y) {
  std::vector<int64_t> idx(static_cast<size_t>(ds.size()));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  data::gather_images(ds, idx.data(), nullptr, ds.size(), x, y);
}

// The cached classifier of this dataset, or a new one trained on its train split.
std::unique_ptr<nn::Classifier> classifier_for(const std::string& dataset, const data::ImageDataset& test,
                                               const EvalOptions& o) {
  nn::ClassifierConfig cfg;
  cfg.in_channels = test.channels;
  cfg.image_size = test.height;
  cfg.classes = test.num_classes();
  const std::string path = o.classifier_dir + "/classifier.safetensors";
  Generator gen(o.seed + 5);
  if (std::filesystem::exists(path)) {
    nn::SafetensorsFile f = nn::load_safetensors(path);
    auto it = f.metadata.find("dataset");
    bool same = it != f.metadata.end() && it->second == dataset;
    try {
      same = same && nn::ClassifierConfig::from_metadata(f.metadata).to_metadata() == cfg.to_metadata();
    } catch (const Error&) {
      same = false;
    }
    if (same) {
      auto model = std::make_unique<nn::Classifier>(cfg, gen);
      nn::load_parameters(*model, f, path);
      std::fprintf(stderr, "cfm_image: using the classifier in %s\n", path.c_str());
      return model;
    }
    std::fprintf(stderr, "cfm_image: %s is for another dataset or shape; training a new one\n", path.c_str());
  }
  data::ImageDataset train = read_image_dataset(dataset, data::Split::Train, o.data_root);
  const int64_t batch = std::min<int64_t>(128, train.size());
  data::ImageBatches batches(train, batch, o.seed + 6, false);
  const int64_t steps = o.classifier_epochs * batches.batches_per_epoch();
  std::fprintf(stderr, "cfm_image: training the classifier on %lld images (%lld steps)\n",
               static_cast<long long>(train.size()), static_cast<long long>(steps));
  auto model = std::make_unique<nn::Classifier>(cfg, gen);
  model->flatten_parameters();
  Phase phase("training the classifier");
  ProgressBar bar(steps, "classifier");
  nn::train_classifier(
      *model,
      [&](int64_t step, Tensor& x, Tensor& y) {
        batches.batch(step / batches.batches_per_epoch(), step % batches.batches_per_epoch(), x, y);
      },
      steps, {}, [&](int64_t step, float loss) {
        char b[32];
        std::snprintf(b, sizeof b, "loss %.4f", static_cast<double>(loss));
        bar.update(step, b);
      });
  bar.finish();
  std::filesystem::create_directories(o.classifier_dir);
  std::map<std::string, std::string> meta = cfg.to_metadata();
  meta["dataset"] = dataset;
  meta["epochs"] = std::to_string(o.classifier_epochs);
  nn::save_checkpoint(path, *model, meta);
  return model;
}

// Mean negative log-likelihood of test images in bits per dimension. Pixels are
// dequantised (p + u) / 127.5 - 1 with u ~ U(0, 1), so the density is one of
// continuous data; the 127.5 scale turns it into a density over 8-bit pixel values.
double bits_per_dim(nn::UNet& model, const data::ImageDataset& test, const EvalOptions& o) {
  const int64_t n = std::min(o.nll_images, test.size());
  const int64_t d = test.image_bytes();
  Generator gen(o.seed + 7);
  flow::LikelihoodOptions lo;
  lo.ode = o.ode;
  lo.hutchinson_probes = o.hutchinson_probes;
  lo.seed = o.seed + 8;
  double sum_log_p = 0;
  const int64_t batch = 50;
  Phase phase("computing bits/dim");
  ProgressBar bar(n, "likelihood");
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t m = std::min(batch, n - start);
    std::vector<int64_t> idx(static_cast<size_t>(m));
    std::iota(idx.begin(), idx.end(), start);
    Tensor x, y;
    data::gather_images(test, idx.data(), nullptr, m, x, y);
    Tensor dequantised = reshape(x + gen.uniform(x.shape(), 0.f, 1.f / 127.5f), Shape{m, d});
    flow::LikelihoodResult r = flow::log_likelihood(unet_velocity_flat(model, y, 0.f, o.path), dequantised, lo);
    sum_log_p += static_cast<double>(sum(r.log_prob).item());
    bar.update(start + m);
  }
  bar.finish();
  const double mean_log_p = sum_log_p / static_cast<double>(n);
  return (-mean_log_p + static_cast<double>(d) * std::log(127.5)) / (static_cast<double>(d) * std::log(2.0));
}

}  // namespace

ImageScorer::ImageScorer(const std::string& dataset, const data::ImageDataset& test, const EvalOptions& o)
    : classifier_(classifier_for(dataset, test, o)) {
  classifier_->train(false);
  Tensor test_x, test_y;
  whole_dataset(test, test_x, test_y);
  classifier_test_accuracy_ = nn::accuracy(*classifier_, test_x, test_y);
  test_features_ = nn::extract_features(*classifier_, test_x);
}

ImageScorer::~ImageScorer() = default;

double ImageScorer::conditional_accuracy(const Tensor& images, const Tensor& labels) {
  return nn::accuracy(*classifier_, images, labels);
}

double ImageScorer::frechet_distance(const Tensor& images) {
  return flow::frechet_distance(nn::extract_features(*classifier_, images), test_features_);
}

double ImageScorer::frechet_test_vs_test(int64_t samples) const {
  const int64_t half = std::min(samples, test_features_.dim(0) / 2);
  return flow::frechet_distance(slice(test_features_, 0, 0, half), slice(test_features_, 0, half, 2 * half));
}

Tensor evaluation_samples(nn::UNet& model, int64_t classes, const EvalOptions& o, Tensor* labels,
                          const std::string& progress, bool over_ranks) {
  // The same number of each class.
  std::vector<float> y(static_cast<size_t>(o.samples));
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(static_cast<int64_t>(i) % classes);
  *labels = Tensor::from_vector(y, Shape{o.samples});
  Generator gen(o.seed + 3);
  if (over_ranks)
    return sample_images_over_ranks(model, gen, *labels, {0.f, 1.f}, o.ode, o.guidance, 100, nullptr, progress,
                                    Tensor(), o.path)
        .back();
  return sample_images(model, gen, *labels, {0.f, 1.f}, o.ode, o.guidance, 100, nullptr, progress, Tensor(), o.path)
      .back();
}

nlohmann::json evaluate(nn::UNet& model, const std::string& dataset, const data::ImageDataset& test,
                        const EvalOptions& o) {
  nlohmann::json out;
  const int64_t classes = test.num_classes();
  FC_CHECK(model.config().num_classes == classes,
           "evaluate: the model has " << model.config().num_classes << " classes, " << dataset << " has " << classes);
  // Under mpirun the ranks split the images and stop once rank 0 has them (the
  // classifier and the scores are rank 0's).
  Tensor y;
  Tensor images = evaluation_samples(model, classes, o, &y, "sampling for eval", /*over_ranks=*/true);
  if (!dist::is_root()) return out;
  ImageScorer scorer(dataset, test, o);
  out["classifier_test_accuracy"] = scorer.classifier_test_accuracy();
  out["generated_images"] = o.samples;
  out["conditional_accuracy"] = scorer.conditional_accuracy(images, y);
  out["frechet_distance"] = scorer.frechet_distance(images);
  // The distance between two halves of the test set: how low the metric goes for real
  // images at this sample size (the noise floor to read the number against).
  out["frechet_distance_test_vs_test"] = scorer.frechet_test_vs_test(o.samples);
  if (o.nll_images > 0) {
    out["bits_per_dim"] = bits_per_dim(model, test, o);
    out["nll_images"] = std::min(o.nll_images, test.size());
    out["nll_hutchinson_probes"] = o.hutchinson_probes;
  }
  std::fprintf(stderr, "cfm_image: classifier test accuracy %.4f, conditional accuracy %.4f, FD %.3f (test vs test %.3f)%s\n",
               out["classifier_test_accuracy"].get<double>(), out["conditional_accuracy"].get<double>(),
               out["frechet_distance"].get<double>(), out["frechet_distance_test_vs_test"].get<double>(),
               out.contains("bits_per_dim") ? (", " + std::to_string(out["bits_per_dim"].get<double>()) + " bits/dim").c_str() : "");
  return out;
}

}  // namespace fc::app
