// compare2d DATASET: CFM against rectified flow (and minibatch OT-CFM, when trained),
// measured the same way: an animation of their samples and velocity fields from the same
// x0, their straightness, and their sample quality after 1, 2, 4, 8 and 20 Euler steps.
//   ./apps/cfm2d checkerboard && ./apps/reflow2d checkerboard && ./apps/compare2d checkerboard
// writes outputs/comparisons/cfm_reflow_checkerboard.gif, few_step_checkerboard.png,
// few_step_checkerboard.json and few_step_checkerboard.md.
#include <cxxopts.hpp>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/cli/dataset_dir.hpp"
#include "apps/cli/device.hpp"
#include "apps/cli/interrupt.hpp"
#include "apps/cli/main_guard.hpp"
#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/cli/thread_count.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "apps/flow2d/plots.hpp"
#include "apps/flow2d/quality.hpp"
#include "apps/train/ranks.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/sampling.hpp"
#include "datasets/toy2d.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/threads.hpp"

using namespace fc;

namespace {

struct Config {
  std::string dataset, cfm, reflow, ot, sinkhorn, output = "outputs/comparisons", device_choice = "auto";
  Device device = Device::CPU;
  int64_t samples = 50000, frames = 101, steps = 20, points = 20000, seed = 0, threads = 0;
  bool gif = true;
};

Config parse(int argc, char** argv) {
  cxxopts::Options o("compare2d",
                     "CFM against rectified flow (and OT-CFM) on a 2-D density: a side-by-side "
                     "animation, straightness, and quality after few Euler steps.\nDATASET: " +
                         data::toy2d_help());
  Config c;
  o.add_options()
      ("cfm", "CFM checkpoint, safetensors or a PyTorch .pth (default outputs/cfm/DATASET/ckpt.safetensors, "
              "or ckpt.pth there; the same for the others)", cxxopts::value<std::string>(c.cfm))
      ("reflow", "reflow checkpoint (default outputs/reflow/DATASET/ckpt.safetensors)",
       cxxopts::value<std::string>(c.reflow))
      ("ot", "OT-CFM checkpoint, added to the table when present (default "
             "outputs/cfm_ot/DATASET/ckpt.safetensors)", cxxopts::value<std::string>(c.ot))
      ("sinkhorn", "Sinkhorn-CFM checkpoint, added when present (default "
                   "outputs/cfm_sinkhorn/DATASET/ckpt.safetensors)", cxxopts::value<std::string>(c.sinkhorn))
      ("samples", "points in the animation", cxxopts::value<int64_t>(c.samples)->default_value("50000"))
      ("frames", "animation frames", cxxopts::value<int64_t>(c.frames)->default_value("101"))
      ("steps", "midpoint steps of the animation's trajectories", cxxopts::value<int64_t>(c.steps)->default_value("20"))
      ("points", "trajectories for straightness and each few-step sample",
       cxxopts::value<int64_t>(c.points)->default_value("20000"))
      ("seed", "random seed (x0 and the true samples)", cxxopts::value<int64_t>(c.seed)->default_value("0"))
      ("threads", "CPU threads (default: OMP_NUM_THREADS or all cores)",
       cxxopts::value<int64_t>(c.threads)->default_value("0"))
      ("output", "output folder", cxxopts::value<std::string>(c.output)->default_value("outputs/comparisons"))
      ("no-gif", "skip the animation (the table and the plot only)");
  app::add_device_option(o, c.device_choice);
  auto r = app::parse_with_dataset(o, argc, argv, c.dataset, "density the models were trained on");
  c.gif = r.count("no-gif") == 0;
  app::require_positive("samples", c.samples);
  app::require_range("frames", c.frames, 2, 1000);
  app::require_positive("steps", c.steps);
  app::require_range("points", c.points, 2, 1000000);
  app::require_thread_count(c.threads);
  app::require_nonempty("output", c.output);
  app::require_range("seed", c.seed, 0, INT64_MAX);  // used as unsigned: -1 would be 2^64 - 1
  c.device = app::resolve_device(c.device_choice);
  std::string d = app::dataset_dir_name(c.dataset);
  // Explicitly named optional models must exist; the defaults are used when present.
  auto optional_model = [&](std::string& path, const char* option, const std::string& root) {
    if (r.count(option)) {
      if (!std::filesystem::exists(path))
        throw app::UsageError(std::string("option '--") + option + "': " + path + " does not exist");
    } else {
      path = app::checkpoint_in(root + "/" + d);
      if (!std::filesystem::exists(path)) path.clear();
    }
  };
  if (c.cfm.empty()) c.cfm = app::checkpoint_in("outputs/cfm/" + d);
  if (c.reflow.empty()) c.reflow = app::checkpoint_in("outputs/reflow/" + d);
  optional_model(c.ot, "ot", "outputs/cfm_ot");
  optional_model(c.sinkhorn, "sinkhorn", "outputs/cfm_sinkhorn");
  return c;
}

struct Model {
  std::string name, path;
  app::LoadedMLP loaded;
  flow::VelocityFn velocity;  // on the run's device, for host tensors
};

// The model of a table row: trained on this run's density, with the row's objective
// ("cfm" or "reflow") and coupling, as its metadata says (a file without metadata, such
// as the reference's ckpt.pth, is taken on trust), so that a row's label is what it holds.
Model load_model(const std::string& name, const std::string& path, const Config& c, const std::string& make_it,
                 const std::string& objective, const std::string& coupling) {
  FC_CHECK(std::filesystem::exists(path), path << ": no " << name << " model; make it with " << make_it);
  Model m{name, path, app::load_mlp_checkpoint(path), {}};
  app::check_trained_on(m.loaded, path, c.dataset);
  const auto& meta = m.loaded.file.metadata;
  auto expect = [&](const char* key, const std::string& want) {
    auto it = meta.find(key);
    FC_CHECK(want.empty() || it == meta.end() || it->second == want,
             path << ": its " << key << " is '" << it->second << "', not the " << name << " row's '" << want
                  << "' (make it with " << make_it << ")");
  };
  expect("objective", objective);
  expect("coupling", coupling);
  m.loaded.mlp->to(c.device);
  m.velocity = app::velocity_on(c.device, app::mlp_velocity(*m.loaded.mlp));
  return m;
}

using app::fmt;

// CFM and reflow from the same x0, midpoint steps, one frame per time. Under mpirun every
// rank integrates its share of the points and rank 0 writes the GIF.
void comparison_gif(const Config& c, std::vector<Model>& models, const data::Toy2d& density) {
  app::Phase phase("making the GIF");
  NoGradGuard no_grad;
  Generator gen(static_cast<uint64_t>(c.seed) + 4000037);
  Tensor x0 = gen.normal(Shape{c.samples, 2});
  flow::OdeOptions ode;
  ode.method = flow::Method::Midpoint;
  ode.step_size = 1.f / static_cast<float>(c.steps);
  std::vector<float> times = app::linspace01(static_cast<int>(c.frames));
  std::vector<app::FlowPanel> panels;
  for (size_t k = 0; k < 2; ++k) {
    app::FlowPanel p;
    p.name = models[k].name;
    p.velocity = models[k].velocity;
    p.states = app::sample_flow_over_ranks(p.velocity, gen, c.samples, times, ode, nullptr, x0);
    panels.push_back(std::move(p));
  }
  if (!dist::is_root()) return;
  std::string gif = c.output + "/cfm_reflow_" + app::dataset_dir_name(c.dataset) + ".gif";
  std::fprintf(stderr, "compare2d: writing %s\n", gif.c_str());
  app::write_comparison_gif(gif, panels, times, "CFM vs reflow — " + c.dataset, data::plot_square(density));
}

// The models to compare: CFM and reflow always, OT-CFM and Sinkhorn-CFM when named.
std::vector<Model> load_models(const Config& c) {
  std::vector<Model> models;
  models.push_back(load_model("CFM", c.cfm, c, "./apps/cfm2d " + c.dataset, "cfm", "independent"));
  models.push_back(load_model("Reflow", c.reflow, c, "./apps/reflow2d " + c.dataset, "reflow", ""));
  if (!c.ot.empty()) models.push_back(load_model("OT-CFM", c.ot, c, "./apps/cfm2d --coupling ot", "cfm", "ot"));
  if (!c.sinkhorn.empty())
    models.push_back(load_model("Sinkhorn-CFM", c.sinkhorn, c, "./apps/cfm2d --coupling sinkhorn", "cfm", "sinkhorn"));
  return models;
}

// Every model from the same x0, scored against the same true samples: its line of
// out["models"] and its quality curve (rank 0; the other ranks integrate their share).
std::vector<app::QualityCurve> measure_models(const Config& c, std::vector<Model>& models, const data::Toy2d& density,
                                              nlohmann::json& out) {
  std::vector<app::QualityCurve> curves;
  app::RectificationOptions ro;
  ro.points = c.points;
  ro.seed = static_cast<uint64_t>(c.seed);
  for (Model& m : models) {
    if (dist::is_root()) std::fprintf(stderr, "compare2d: measuring %s (%s)\n", m.name.c_str(), m.path.c_str());
    app::Phase phase("measuring " + m.name);
    nlohmann::json r;
    try {
      r = app::rectification_metrics(m.velocity, density, ro);
    } catch (const Error& e) {  // name the model whose flow blew up
      FC_THROW(m.path << " (" << m.name << "): " << e.what());
    }
    if (!dist::is_root()) continue;
    r["checkpoint"] = m.path;
    out["models"][m.name] = r;
    app::QualityCurve q;
    q.name = m.name;
    q.straightness = r["straightness"].get<double>();
    for (const auto& row : r["few_step"]) {
      q.steps.push_back(row["steps"].get<double>());
      q.energy_distance.push_back(row["energy_distance"].get<double>());
      if (row.contains("in_square_fraction")) q.in_square.push_back(row["in_square_fraction"].get<double>());
    }
    curves.push_back(q);
  }
  return curves;
}

// The numbers as a markdown table: one row per model, energy distance (and in-square
// fraction) per step count, and the data's own noise under it.
std::string few_step_markdown(const std::vector<app::QualityCurve>& curves, int64_t points, double noise) {
  std::ostringstream md;
  md << "| model | straightness |";
  for (int k : app::few_step_counts()) md << " ED " << k << " step" << (k > 1 ? "s" : "") << " |";
  if (!curves.front().in_square.empty())
    for (int k : app::few_step_counts()) md << " in-square " << k << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < app::few_step_counts().size() * (curves.front().in_square.empty() ? 1 : 2); ++i) md << "---|";
  md << "\n";
  for (const app::QualityCurve& q : curves) {
    md << "| " << q.name << " | " << fmt(q.straightness) << " |";
    for (double e : q.energy_distance) md << " " << fmt(e, "%.3g") << " |";
    for (double f : q.in_square) md << " " << fmt(f, "%.3f") << " |";
    md << "\n";
  }
  md << "\nEnergy distance between two draws of the data (its noise at " << points << " points): "
     << fmt(noise, "%.2g") << "; values below it, even negative ones, are equal to the data within noise.\n";
  return md.str();
}

int run(int argc, char** argv) {
  Config c = parse(argc, argv);
  set_num_threads(static_cast<int>(c.threads));
  // Under mpirun every rank integrates its share of the points (rank_split.hpp) and
  // rank 0 scores and writes.
  app::init_ranks(c.device);  // under mpirun: MPI and the ranks' device check, once the options are known good
  data::Toy2d density(c.dataset);
  std::vector<Model> models = load_models(c);
  app::announce_device("compare2d", c.device);
  if (dist::is_root()) io::make_writable_dir(c.output);
  const std::string stem = c.output + "/few_step_" + app::dataset_dir_name(c.dataset);
  nlohmann::json out;
  out["dataset"] = c.dataset;
  out["points"] = c.points;
  const std::vector<app::QualityCurve> curves = measure_models(c, models, density, out);
  if (!dist::is_root()) {  // the others join in the GIF's sampling, then stop
    if (c.gif) comparison_gif(c, models, density);
    return 0;
  }
  const double noise = app::energy_distance_noise(density, static_cast<uint64_t>(c.seed), c.points);
  out["energy_distance_noise"] = noise;
  app::write_json(stem + ".json", out.dump(2));
  const std::string md = few_step_markdown(curves, c.points, noise);
  io::atomic_write_text(stem + ".md", md);
  app::plot_few_step_quality(stem + ".png", curves, "Sample quality vs Euler steps — " + c.dataset, noise);
  std::fprintf(stderr, "%s", md.c_str());
  if (c.gif) comparison_gif(c, models, density);
  std::fprintf(stderr, "compare2d: wrote %s.{json,md,png}\n", stem.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return app::main_guard("compare2d", [&] { return run(argc, argv); }); }
