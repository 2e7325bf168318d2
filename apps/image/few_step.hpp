#pragma once
// The few-step table of the image models (cfm_image --few-step): every model sampled
// with 1, 2, 4, 8 and 20 Euler steps (few_step_counts()) from one shared draw of x0
// and labels, scored by the evaluation's classifier (conditional accuracy, Fréchet
// distance), written as STEM.json, STEM.md and STEM.png (one row of samples, one per
// class, for each model and step count) — the images' twin of compare2d's table.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "apps/image/eval.hpp"
#include "datasets/image_dataset.hpp"

namespace fc::app {

struct FewStepImageModel {
  std::string name, checkpoint;
  float guidance = 0;
};

struct FewStepImageOptions {
  std::string dataset, stem;
  int64_t samples = 1000;  // images per model and step count, balanced over the classes
  EvalOptions eval;        // the classifier (cache, data root, epochs) and the seed
  Device device = Device::CPU;  // where the models sample
};

// Under mpirun every rank calls it: the ranks split each cell's images, rank 0 scores,
// writes and returns the table (the others an empty object).
nlohmann::json write_image_few_step(const std::vector<FewStepImageModel>& models, const data::ImageDataset& test,
                                    const FewStepImageOptions& options);

}  // namespace fc::app
