#pragma once
// The evaluation of a class-conditional image model, with a classifier flowcpp trains
// itself on the dataset's train split (cached under classifier_dir):
//   - the classifier's test accuracy (how far its verdicts can be trusted);
//   - conditional accuracy: the fraction of generated images it assigns to the class
//     they were generated for;
//   - the Fréchet distance between its penultimate features on generated and on test
//     images (FID's formula with our network: comparable between our runs only);
//   - test-set negative log-likelihood in bits/dim (Hutchinson, dequantised pixels).
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/image/flow.hpp"
#include "datasets/image_dataset.hpp"
#include "flow/ode.hpp"
#include "nn/classifier.hpp"
#include "nn/unet.hpp"

namespace fc::app {

struct EvalOptions {
  int64_t samples = 1000;      // generated images, balanced over the classes
  int64_t nll_images = 100;    // test images for bits/dim (0: skip)
  int hutchinson_probes = 1;
  int64_t classifier_epochs = 2;
  float guidance = 0.f;
  flow::OdeOptions ode;
  SamplePath path;             // sampling and the likelihood under another path than the trained one
  uint64_t seed = 0;
  std::string data_root = "data";
  std::string classifier_dir;  // where the classifier is cached
};

// The classifier's verdicts on generated images, with the test set's features computed
// once: what evaluate() reports, for callers that score many sets of samples (the
// few-step table).
class ImageScorer {
 public:
  ImageScorer(const std::string& dataset, const data::ImageDataset& test, const EvalOptions& options);
  ~ImageScorer();
  double classifier_test_accuracy() const { return classifier_test_accuracy_; }
  // The fraction of images the classifier assigns to their label.
  double conditional_accuracy(const Tensor& images, const Tensor& labels);
  // Between the images' features and the test set's.
  double frechet_distance(const Tensor& images);
  // Between two halves of the test set, at most `samples` each: the metric's floor.
  double frechet_test_vs_test(int64_t samples) const;

 private:
  std::unique_ptr<nn::Classifier> classifier_;
  Tensor test_features_;
  double classifier_test_accuracy_ = 0;
};

// The evaluation's generated images: options.samples of them, labels i % classes
// (returned in *labels), from N(0, I) of seed options.seed + 3, under options.guidance,
// .ode and .path. evaluate() scores these; the guidance sweep draws the same ones at
// each w.
// With over_ranks, under mpirun every rank calls it and integrates its share of the
// images (rank_split.hpp); rank 0 gets them all, the others an undefined tensor.
Tensor evaluation_samples(nn::UNet& model, int64_t classes, const EvalOptions& options, Tensor* labels,
                          const std::string& progress = "sampling for eval", bool over_ranks = false);

// The metrics of a model's samples against the test set (see EvalOptions). Under mpirun
// every rank calls it: the sampling is split over the ranks, and rank 0 alone trains or
// loads the classifier and scores (the others get an empty object).
nlohmann::json evaluate(nn::UNet& model, const std::string& dataset, const data::ImageDataset& test,
                        const EvalOptions& options);

}  // namespace fc::app
