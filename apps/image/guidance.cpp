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

nlohmann::json write_guidance_sweep(nn::UNet& model, const data::ImageDataset& test, const GuidanceSweepOptions& o) {
  FC_CHECK(!o.values.empty(), "guidance sweep: no values");
  const int64_t classes = test.num_classes();
  FC_CHECK(model.config().num_classes == classes,
           "guidance sweep: the model has " << model.config().num_classes << " classes, " << o.dataset << " has "
                                            << classes);
  for (double w : o.values)
    FC_CHECK(w == 0 || model.config().null_class,
             "guidance scale " << w << " needs a model trained with class dropout (--class-drop > 0); this one "
                                  "has no null class: pass --guidance-values 0");
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
  nlohmann::json out;
  out["dataset"] = o.dataset;
  out["model"] = o.model_name;
  out["samples"] = o.eval.samples;
  out["sample_path"] = o.eval.path.sampled.name();
  out["method"] = flow::method_name(o.eval.ode.method);
  out["step_size"] = o.eval.ode.step_size;
  out["classifier_test_accuracy"] = scorer.classifier_test_accuracy();
  out["frechet_distance_test_vs_test"] = scorer.frechet_test_vs_test(o.eval.samples);
  std::vector<Tensor> rows;
  std::vector<std::string> row_labels;
  std::vector<double> ws, accuracy, distance;
  for (size_t i = 0; i < o.values.size(); ++i) {
    const double w = o.values[i];
    ws.push_back(w);
    accuracy.push_back(scorer.conditional_accuracy(images[i], labels[i]));
    distance.push_back(scorer.frechet_distance(images[i]));
    out["rows"].push_back(
        {{"guidance", w}, {"conditional_accuracy", accuracy.back()}, {"frechet_distance", distance.back()}});
    rows.push_back(slice(images[i], 0, 0, std::min(classes, o.eval.samples)));  // labels 0, 1, ..., classes - 1
    row_labels.push_back("w = " + fmt(w, "%g"));
  }
  write_json(o.stem + ".json", out.dump(2));

  std::ostringstream md;
  md << "| guidance w | conditional accuracy | Fréchet distance |\n|---|---|---|\n";
  for (size_t i = 0; i < ws.size(); ++i)
    md << "| " << fmt(ws[i], "%g") << " | " << fmt(accuracy[i], "%.3f") << " | " << fmt(distance[i], "%.3g") << " |\n";
  md << "\n" << o.model_name << " model of " << o.dataset << ", " << o.eval.samples
     << " images per row (the evaluation's x0 and labels, the same for every w), "
     << out["method"].get<std::string>() << " with step " << fmt(o.eval.ode.step_size, "%g") << " under the "
     << out["sample_path"].get<std::string>() << " path. Conditional accuracy by our classifier (test accuracy "
     << fmt(out["classifier_test_accuracy"].get<double>(), "%.3f")
     << ") and Fréchet distance of its features to the test set's; two halves of the test set are at FD "
     << fmt(out["frechet_distance_test_vs_test"].get<double>(), "%.3g") << ".\n";
  io::atomic_write_text(o.stem + ".md", md.str());
  plot_guidance_sweep(o.stem + ".png", ws, accuracy, distance, out["frechet_distance_test_vs_test"].get<double>(),
                      "Classifier-free guidance — " + o.model_name + ", " + o.dataset);
  write_labelled_rows(o.stem + "_samples.png", rows, row_labels, test.class_names,
                      "Samples at each guidance scale w from the same x0 — " + o.dataset);
  std::fprintf(stderr, "%s", md.str().c_str());
  return out;
}

}  // namespace fc::app
