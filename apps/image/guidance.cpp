#include "apps/image/guidance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/image/flow.hpp"
#include "apps/image/plots.hpp"
#include "apps/train/run_metrics.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"
#include "engine/ops.hpp"
#include "engine/parse_number.hpp"

namespace fc::app {

std::vector<double> parse_guidance_values(const char* option, const std::string& text) {
  auto bad = [&](const std::string& why) {
    return UsageError(std::string("option '--") + option + "': " + why + " (a comma-separated list such as 0,0.5,1,2,4)");
  };
  std::vector<double> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::optional<double> parsed = parse_decimal(item);
    if (!parsed) throw bad("'" + item + "' is not a number");
    const double w = *parsed;
    if (std::abs(w) > 1e3) throw bad("'" + item + "' must be in [-1000, 1000]");
    // Each w is a row of the table and a point of the plot: twice is a mistake.
    if (std::find(out.begin(), out.end(), w) != out.end()) throw bad("'" + item + "' is given twice");
    out.push_back(w);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() > 32) throw bad("at most 32 values");
  return out;
}

namespace {

// The model can be guided at every scale asked for.
void check_guidance_model(const nn::UNet& model, int64_t classes, const GuidanceSweepOptions& o) {
  FC_CHECK(!o.values.empty(), "guidance sweep: no values");
  FC_CHECK(model.config().num_classes == classes,
           "guidance sweep: the model has " << model.config().num_classes << " classes, " << o.dataset << " has "
                                            << classes);
  for (double w : o.values)
    FC_CHECK(w == 0 || model.config().null_class,
             "guidance scale " << w << " needs a model trained with class dropout (--class-drop > 0); this one "
                                  "has no null class: pass --guidance-values 0");
}

// The JSON table: each scale's conditional accuracy and Fréchet distance.
nlohmann::json score_sweep(const std::vector<Tensor>& images, const std::vector<Tensor>& labels, ImageScorer& scorer,
                           const GuidanceSweepOptions& o) {
  nlohmann::json out;
  out["dataset"] = o.dataset;
  out["model"] = o.model_name;
  out["samples"] = o.eval.samples;
  out["sample_path"] = o.eval.path.sampled.name();
  out["method"] = flow::method_name(o.eval.ode.method);
  out["step_size"] = o.eval.ode.step_size;
  out["classifier_test_accuracy"] = scorer.classifier_test_accuracy();
  out["frechet_distance_test_vs_test"] = scorer.frechet_test_vs_test(o.eval.samples);
  for (size_t i = 0; i < o.values.size(); ++i)
    out["rows"].push_back({{"guidance", o.values[i]},
                           {"conditional_accuracy", scorer.conditional_accuracy(images[i], labels[i])},
                           {"frechet_distance", scorer.frechet_distance(images[i])}});
  return out;
}

std::string markdown_table(const nlohmann::json& out, const GuidanceSweepOptions& o) {
  std::ostringstream md;
  md << "| guidance w | conditional accuracy | Fréchet distance |\n|---|---|---|\n";
  for (const auto& row : out["rows"])
    md << "| " << fmt(row["guidance"].get<double>(), "%g") << " | "
       << fmt(row["conditional_accuracy"].get<double>(), "%.3f") << " | "
       << fmt(row["frechet_distance"].get<double>(), "%.3g") << " |\n";
  md << "\n" << o.model_name << " model of " << o.dataset << ", " << o.eval.samples
     << " images per row (the evaluation's x0 and labels, the same for every w), "
     << out["method"].get<std::string>() << " with step " << fmt(o.eval.ode.step_size, "%g") << " under the "
     << out["sample_path"].get<std::string>() << " path. Conditional accuracy by our classifier (test accuracy "
     << fmt(out["classifier_test_accuracy"].get<double>(), "%.3f")
     << ") and Fréchet distance of its features to the test set's; two halves of the test set are at FD "
     << fmt(out["frechet_distance_test_vs_test"].get<double>(), "%.3g") << ".\n";
  return md.str();
}

// The plot of accuracy and distance against w, and one row of samples (one a class) a w.
void write_sweep_pictures(const std::vector<Tensor>& images, const nlohmann::json& out, int64_t classes,
                          const data::ImageDataset& test, const GuidanceSweepOptions& o) {
  std::vector<double> ws, accuracy, distance;
  for (const auto& row : out["rows"]) {
    ws.push_back(row["guidance"].get<double>());
    accuracy.push_back(row["conditional_accuracy"].get<double>());
    distance.push_back(row["frechet_distance"].get<double>());
  }
  plot_guidance_sweep(o.stem + ".png", ws, accuracy, distance, out["frechet_distance_test_vs_test"].get<double>(),
                      "Classifier-free guidance — " + o.model_name + ", " + o.dataset);
  std::vector<Tensor> rows;
  std::vector<std::string> row_labels;
  for (size_t i = 0; i < images.size(); ++i) {
    rows.push_back(slice(images[i], 0, 0, std::min(classes, o.eval.samples)));  // labels 0, 1, ..., classes - 1
    row_labels.push_back("w = " + fmt(ws[i], "%g"));
  }
  write_labelled_rows(o.stem + "_samples.png", rows, row_labels, test.class_names,
                      "Samples at each guidance scale w from the same x0 — " + o.dataset);
}

}  // namespace

nlohmann::json write_guidance_sweep(nn::UNet& model, const data::ImageDataset& test, const GuidanceSweepOptions& o) {
  const int64_t classes = test.num_classes();
  check_guidance_model(model, classes, o);
  // Every w is sampled first, over the ranks under mpirun (each integrates its rows of
  // the evaluation's x0, rank 0 gathers); then rank 0 alone trains or loads the
  // classifier and scores.
  std::vector<Tensor> images, labels(o.values.size());
  for (size_t i = 0; i < o.values.size(); ++i) {
    EvalOptions e = o.eval;
    e.guidance = static_cast<float>(o.values[i]);
    images.push_back(evaluation_samples(model, classes, e, &labels[i], "w = " + fmt(o.values[i], "%g"),
                                        /*over_ranks=*/true));
  }
  if (!dist::is_root()) return nlohmann::json();
  ImageScorer scorer(o.dataset, test, o.eval);
  const nlohmann::json out = score_sweep(images, labels, scorer, o);
  write_json(o.stem + ".json", out.dump(2));
  const std::string md = markdown_table(out, o);
  io::atomic_write_text(o.stem + ".md", md);
  write_sweep_pictures(images, out, classes, test, o);
  std::fprintf(stderr, "%s", md.c_str());
  return out;
}

}  // namespace fc::app
