#pragma once
// The classifier-free guidance sweep of cfm_image --guidance-sweep: one model sampled
// at each guidance scale w, every w from the evaluation's own draw of x0 and labels (so
// the row of w equals `--eval --guidance w` on the same seed and sample count), scored
// by the evaluation's classifier: conditional accuracy and Fréchet distance against w,
// written as STEM.json, STEM.md (the table) and STEM.png (both against w), and
// STEM_samples.png (one row of samples, one per class, for each w).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "apps/image/eval.hpp"
#include "datasets/image_dataset.hpp"
#include "nn/unet.hpp"

namespace fc::app {

struct GuidanceSweepOptions {
  std::string dataset, stem;
  std::string model_name = "CFM";  // for the captions
  std::vector<double> values;      // the w of the rows, distinct
  EvalOptions eval;                // samples, solver, sampling path, seed, classifier (its guidance unused)
};

// Under mpirun every rank calls it: the ranks split each w's images, rank 0 scores,
// writes and returns the table (the others an empty object).
nlohmann::json write_guidance_sweep(nn::UNet& model, const data::ImageDataset& test,
                                    const GuidanceSweepOptions& options);

// "0,0.5,1,2,4" as numbers: each finite, in [-1000, 1000], none twice, at most 32. A
// UsageError naming `option` otherwise (the text comes from the command line).
std::vector<double> parse_guidance_values(const char* option, const std::string& text);

}  // namespace fc::app
