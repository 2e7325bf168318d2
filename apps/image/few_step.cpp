#include "apps/image/few_step.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/image/flow.hpp"
#include "apps/image/plots.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/sampling.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/ops.hpp"

namespace fc::app {

namespace {

std::string steps_text(int k) { return std::to_string(k) + " step" + (k > 1 ? "s" : ""); }

// Every model at every step count from the same x0 and labels: cells[model][count].
// Under mpirun each rank integrates its rows and rank 0 gathers them.
std::vector<std::vector<Tensor>> sample_cells(const std::vector<FewStepImageModel>& models, const data::ImageDataset& test,
                                              const FewStepImageOptions& o, const Tensor& labels, const Tensor& x0) {
  const int64_t classes = test.num_classes();
  std::vector<std::vector<Tensor>> cells(models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    const FewStepImageModel& m = models[i];
    std::unique_ptr<nn::UNet> unet = load_unet_for_sampling(m.checkpoint, test.height, o.dataset);
    unet->to(o.device);
    FC_CHECK(unet->config().num_classes == classes, m.checkpoint << ": the model has " << unet->config().num_classes
                                                                  << " classes, " << o.dataset << " has " << classes);
    for (int k : few_step_counts()) {
      flow::OdeOptions ode;
      ode.method = flow::Method::Euler;
      ode.step_size = 1.f / static_cast<float>(k);
      Generator unused(0);
      cells[i].push_back(sample_images_over_ranks(*unet, unused, labels, {0.f, 1.f}, ode, m.guidance, 100, nullptr,
                                                  m.name + " " + steps_text(k), x0)
                             .back());
    }
  }
  return cells;
}

// The JSON table: each cell's conditional accuracy and Fréchet distance.
nlohmann::json score_cells(const std::vector<FewStepImageModel>& models, const std::vector<std::vector<Tensor>>& cells,
                           ImageScorer& scorer, const Tensor& labels, const FewStepImageOptions& o) {
  nlohmann::json out;
  out["dataset"] = o.dataset;
  out["samples"] = o.samples;
  out["classifier_test_accuracy"] = scorer.classifier_test_accuracy();
  out["frechet_distance_test_vs_test"] = scorer.frechet_test_vs_test(o.samples);
  for (size_t i = 0; i < models.size(); ++i) {
    const FewStepImageModel& m = models[i];
    nlohmann::json r;
    r["checkpoint"] = m.checkpoint;
    r["guidance"] = m.guidance;
    for (size_t j = 0; j < few_step_counts().size(); ++j)
      r["few_step"].push_back({{"steps", few_step_counts()[j]},
                               {"conditional_accuracy", scorer.conditional_accuracy(cells[i][j], labels)},
                               {"frechet_distance", scorer.frechet_distance(cells[i][j])}});
    out["models"][m.name] = r;
  }
  return out;
}

// The same as a markdown table: one row per model, accuracy then distance per step count.
std::string markdown_table(const std::vector<FewStepImageModel>& models, const nlohmann::json& out,
                           const FewStepImageOptions& o) {
  std::ostringstream md;
  md << "| model | guidance |";
  for (const char* what : {"acc", "FD"})
    for (int k : few_step_counts()) md << " " << what << " " << steps_text(k) << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < 2 * few_step_counts().size(); ++i) md << "---|";
  md << "\n";
  for (const FewStepImageModel& m : models) {
    const nlohmann::json& r = out["models"][m.name]["few_step"];
    md << "| " << m.name << " | " << fmt(m.guidance, "%g") << " |";
    for (const auto& row : r) md << " " << fmt(row["conditional_accuracy"].get<double>(), "%.3f") << " |";
    for (const auto& row : r) md << " " << fmt(row["frechet_distance"].get<double>(), "%.3g") << " |";
    md << "\n";
  }
  md << "\nConditional accuracy (acc) by our classifier (test accuracy "
     << fmt(out["classifier_test_accuracy"].get<double>(), "%.3f") << ") and Fréchet distance (FD) of its features to "
     << "the test set's, " << o.samples << " images per cell, every model from the same x0; two halves of the test "
     << "set are at FD " << fmt(out["frechet_distance_test_vs_test"].get<double>(), "%.3g") << ".\n";
  return md.str();
}

// One row of samples (one a class) for each model and step count.
void write_sample_rows(const std::vector<FewStepImageModel>& models, const std::vector<std::vector<Tensor>>& cells,
                       const data::ImageDataset& test, const FewStepImageOptions& o) {
  const int64_t shown = std::min(test.num_classes(), o.samples);
  std::vector<Tensor> rows;
  std::vector<std::string> row_labels;
  for (size_t i = 0; i < models.size(); ++i)
    for (size_t j = 0; j < few_step_counts().size(); ++j) {
      rows.push_back(slice(cells[i][j], 0, 0, shown));
      row_labels.push_back(models[i].name + ", " + steps_text(few_step_counts()[j]));
    }
  write_labelled_rows(o.stem + ".png", rows, row_labels, test.class_names,
                      "Samples after 1, 2, 4, 8 and 20 Euler steps from the same x0 — " + o.dataset);
}

}  // namespace

nlohmann::json write_image_few_step(const std::vector<FewStepImageModel>& models, const data::ImageDataset& test,
                                    const FewStepImageOptions& o) {
  FC_CHECK(!models.empty(), "few-step table: no models");
  const int64_t classes = test.num_classes();
  Tensor labels = slice(class_grid_labels(classes, (o.samples + classes - 1) / classes), 0, 0, o.samples);
  Generator noise(o.eval.seed + 3000017);
  Tensor x0 = noise.normal(Shape{o.samples, test.channels, test.height, test.width});
  // Every cell is sampled first, over the ranks; then rank 0 alone trains or loads the
  // classifier and scores, so that the other ranks never wait on it mid-sampling.
  const std::vector<std::vector<Tensor>> cells = sample_cells(models, test, o, labels, x0);
  if (!dist::is_root()) return nlohmann::json();
  ImageScorer scorer(o.dataset, test, o.eval);
  const nlohmann::json out = score_cells(models, cells, scorer, labels, o);
  write_json(o.stem + ".json", out.dump(2));
  const std::string md = markdown_table(models, out, o);
  io::atomic_write_text(o.stem + ".md", md);
  write_sample_rows(models, cells, test, o);
  std::fprintf(stderr, "%s", md.c_str());
  return out;
}

}  // namespace fc::app
