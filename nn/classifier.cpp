#include "nn/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "engine/cancel.hpp"
#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "nn/optim.hpp"

namespace fc::nn {

namespace {

// Checked before any layer is built from it.
const ClassifierConfig& checked(const ClassifierConfig& c) {
  FC_CHECK(c.in_channels > 0 && c.image_size > 0 && c.image_size % 4 == 0 && c.classes >= 2 &&
               c.width > 0 && c.feature_dim > 0,
           "Classifier: bad config (in_channels " << c.in_channels << ", image_size " << c.image_size
                                                  << " (a multiple of 4), classes " << c.classes
                                                  << " (at least 2), width " << c.width
                                                  << ", feature_dim " << c.feature_dim << ")");
  return c;
}

int64_t flat_features(const ClassifierConfig& c) {
  return 2 * c.width * (c.image_size / 4) * (c.image_size / 4);
}

// Rows [begin, end) of x (contiguous) as a view.
Tensor rows(const Tensor& x, int64_t begin, int64_t end) {
  Shape s = x.shape();
  int64_t per_row = x.numel() / s[0];
  s[0] = end - begin;
  return Tensor::view_of(x, begin * per_row, s);
}

// Evaluation mode for its scope; the mode it found afterwards, exception or not.
class EvalMode {
 public:
  explicit EvalMode(Module& m) : m_(m), was_training_(m.training()) { m_.train(false); }
  ~EvalMode() { m_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

// Runs f(begin, end, images[begin:end]) on batches of `batch` images, without a graph,
// in evaluation mode.
template <class F>
void for_each_batch(Classifier& model, const Tensor& images, int64_t batch, const char* who, F&& f) {
  FC_CHECK(batch > 0, who << ": batch must be positive, got " << batch);
  FC_CHECK(images.defined() && images.ndim() == 4 && images.dim(0) > 0,
           who << ": expected images [N, C, H, W], got " << (images.defined() ? images.shape() : Shape{}));
  NoGradGuard no_grad;
  EvalMode eval(model);
  for (int64_t b = 0; b < images.dim(0); b += batch) {
    cancellation_point();  // scoring a test set takes seconds: a signal stops it here
    int64_t e = std::min(images.dim(0), b + batch);
    f(b, e, rows(images, b, e));
  }
}

int64_t positive_int(const std::map<std::string, std::string>& meta, const char* key) {
  auto f = meta.find(key);
  FC_CHECK(f != meta.end(), "checkpoint metadata lacks '" << key << "'");
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(f->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  FC_CHECK(used > 0 && used == f->second.size() && v > 0,
           "checkpoint metadata '" << key << "' is not a positive integer: '" << f->second << "'");
  return v;
}

}  // namespace

Classifier::Classifier(const ClassifierConfig& c, Generator& gen)
    : conv1(register_module("conv1", std::make_shared<Conv2d>(checked(c).in_channels, c.width, 3, 1, 1, gen))),
      conv2(register_module("conv2", std::make_shared<Conv2d>(c.width, c.width, 3, 1, 1, gen))),
      conv3(register_module("conv3", std::make_shared<Conv2d>(c.width, 2 * c.width, 3, 1, 1, gen))),
      conv4(register_module("conv4", std::make_shared<Conv2d>(2 * c.width, 2 * c.width, 3, 1, 1, gen))),
      fc(register_module("fc", std::make_shared<Linear>(flat_features(c), c.feature_dim, gen))),
      head(register_module("head", std::make_shared<Linear>(c.feature_dim, c.classes, gen))),
      config_(c) {}

Tensor Classifier::features(const Tensor& x) {
  const ClassifierConfig& c = config_;
  FC_CHECK(x.defined() && x.ndim() == 4 && x.dim(0) > 0 && x.dim(1) == c.in_channels &&
               x.dim(2) == c.image_size && x.dim(3) == c.image_size,
           "Classifier: expected images [N, " << c.in_channels << ", " << c.image_size << ", "
                                              << c.image_size << "], got "
                                              << (x.defined() ? x.shape() : Shape{}));
  Tensor h = relu(conv1.forward(x));
  h = avg_pool2x(relu(conv2.forward(h)));
  h = relu(conv3.forward(h));
  h = avg_pool2x(relu(conv4.forward(h)));
  return relu(fc.forward(reshape(h, std::vector<int64_t>{h.dim(0), -1})));
}

Tensor Classifier::logits(const Tensor& x) { return head.forward(features(x)); }

float accuracy(Classifier& model, const Tensor& images, const Tensor& labels, int64_t batch) {
  FC_CHECK(labels.defined() && labels.ndim() == 1 && images.defined() && images.ndim() >= 1 &&
               labels.dim(0) == images.dim(0),
           "accuracy: expected labels [N] for images [N, C, H, W], got "
               << (labels.defined() ? labels.shape() : Shape{}) << " and "
               << (images.defined() ? images.shape() : Shape{}));
  std::vector<float> want = labels.to_vector();
  int64_t correct = 0;
  for_each_batch(model, images, batch, "accuracy", [&](int64_t begin, int64_t end, const Tensor& x) {
    std::vector<float> z = model.logits(x).to_vector();
    const int64_t k = model.config().classes;
    for (int64_t i = begin; i < end; ++i) {
      const float* row = z.data() + (i - begin) * k;
      int64_t best = std::max_element(row, row + k) - row;
      if (static_cast<float>(best) == want[static_cast<size_t>(i)]) ++correct;
    }
  });
  return static_cast<float>(static_cast<double>(correct) / static_cast<double>(labels.dim(0)));
}

Tensor extract_features(Classifier& model, const Tensor& images, int64_t batch) {
  Tensor out;
  for_each_batch(model, images, batch, "extract_features", [&](int64_t begin, int64_t, const Tensor& x) {
    Tensor f = model.features(x).to(Device::CPU);
    if (!out.defined()) out = Tensor::empty(Shape{images.dim(0), f.dim(1)});
    Tensor::view_of(out, begin * f.dim(1), f.shape()).copy_(f);
  });
  return out;
}

float train_classifier(Classifier& model, const ClassifierBatchFn& next_batch, int64_t steps,
                       const ClassifierTrainOptions& options, const ClassifierProgressFn& progress) {
  FC_CHECK(steps > 0, "train_classifier: steps must be positive, got " << steps);
  FC_CHECK(next_batch, "train_classifier: no batch function");
  model.train(true);
  AdamWOptions adam;
  adam.lr = options.lr;
  adam.weight_decay = options.weight_decay;
  AdamW opt(model, adam);
  constexpr size_t kWindow = 20;
  std::deque<float> recent;
  Tensor x, y;
  for (int64_t step = 0; step < steps; ++step) {
    next_batch(step, x, y);
    FC_CHECK(x.defined() && y.defined(), "train_classifier: the batch function gave no x or y at step " << step);
    if (options.cosine_decay)
      opt.options().lr = static_cast<float>(options.lr * 0.5 * (1 + std::cos(M_PI * step / steps)));
    opt.zero_grad();
    Tensor loss = cross_entropy(model.logits(x), y);
    loss.backward();
    opt.step();
    float value = loss.item();
    FC_CHECK(std::isfinite(value), "train_classifier: the loss is " << value << " at step " << step + 1);
    recent.push_back(value);
    if (recent.size() > kWindow) recent.pop_front();
    if (progress) progress(step + 1, value);
  }
  double total = 0;
  for (float v : recent) total += v;
  return static_cast<float>(total / static_cast<double>(recent.size()));
}

namespace {
// The config's fields under their metadata keys: one list serves both directions.
struct ConfigField {
  const char* key;
  int64_t ClassifierConfig::*field;
};
constexpr ConfigField kConfigFields[] = {{"in_channels", &ClassifierConfig::in_channels},
                                         {"image_size", &ClassifierConfig::image_size},
                                         {"classes", &ClassifierConfig::classes},
                                         {"width", &ClassifierConfig::width},
                                         {"feature_dim", &ClassifierConfig::feature_dim}};
}  // namespace

std::map<std::string, std::string> ClassifierConfig::to_metadata() const {
  std::map<std::string, std::string> meta{{"model", "classifier"}};
  for (const ConfigField& f : kConfigFields) meta[f.key] = std::to_string(this->*f.field);
  return meta;
}

ClassifierConfig ClassifierConfig::from_metadata(const std::map<std::string, std::string>& meta) {
  auto it = meta.find("model");
  FC_CHECK(it != meta.end() && it->second == "classifier",
           "checkpoint is not a classifier (metadata 'model' is '"
               << (it == meta.end() ? std::string("missing") : it->second) << "')");
  ClassifierConfig c;
  for (const ConfigField& f : kConfigFields) c.*f.field = positive_int(meta, f.key);
  return checked(c);
}

}  // namespace fc::nn
