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
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/image_dataset.hpp"
#include "flow/ode.hpp"
#include "nn/unet.hpp"

namespace fc::app {

struct EvalOptions {
  int64_t samples = 1000;      // generated images, balanced over the classes
  int64_t nll_images = 100;    // test images for bits/dim (0: skip)
  int hutchinson_probes = 1;
  int64_t classifier_epochs = 2;
  float guidance = 0.f;
  flow::OdeOptions ode;
  uint64_t seed = 0;
  std::string data_root = "data";
  std::string classifier_dir;  // where the classifier is cached
};

nlohmann::json evaluate(nn::UNet& model, const std::string& dataset, const data::ImageDataset& test,
                        const EvalOptions& options);

}  // namespace fc::app
