// cfm_image: class-conditional flow matching on images with the reference's UNet.
//   ./apps/cfm_image --train mnist       fetch MNIST if missing, train (quick preset)
//   ./apps/cfm_image --train mnist --coupling ot
//                                        OT-CFM, into outputs/ot_cfm/mnist (the few-step table's row)
//   ./apps/cfm_image --sample mnist      samples, trajectory GIF, then the evaluation
//   ./apps/cfm_image --eval mnist        the evaluation alone
//   ./apps/cfm_image --fetch cifar10     download the dataset alone (scripts/get_data.sh uses it)
//   ./apps/cfm_image --sample mnist --sample-path cosine
//                                        the same model sampled under another path
//   ./apps/cfm_image --reflow mnist --distill mnist --few-step mnist
//                                        rectified flow from the CFM model, its one-step
//                                        distillation, and the few-step table of all three
//   ./apps/cfm_image --guidance-sweep mnist [--guidance-values 0,0.5,1,2,4]
//                                        accuracy and Fréchet distance against the guidance scale
// Datasets: mnist, fashion_mnist, cifar10, celeba, folder:PATH. Outputs go to OUTPUT/DATASET/.
#include <cxxopts.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/cli/dataset_dir.hpp"
#include "apps/cli/device.hpp"
#include "apps/cli/interrupt.hpp"
#include "apps/cli/main_guard.hpp"
#include "apps/cli/number_text.hpp"
#include "apps/cli/options.hpp"
#include "apps/cli/run_options.hpp"
#include "apps/cli/thread_count.hpp"
#include "apps/image/dataset_fetch.hpp"
#include "apps/image/eval.hpp"
#include "apps/image/few_step.hpp"
#include "apps/image/flow.hpp"
#include "apps/image/guidance.hpp"
#include "apps/image/plots.hpp"
#include "apps/image/reflow.hpp"
#include "apps/image/train.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/rank_split.hpp"
#include "apps/train/ranks.hpp"
#include "apps/train/run_metrics.hpp"
#include "apps/train/sampling.hpp"
#include "apps/train/state.hpp"
#include "datasets/image_batches.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/npy.hpp"
#include "datasets/remote_datasets.hpp"
#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/file_io.hpp"
#include "engine/ops.hpp"
#include "engine/threads.hpp"
#include "flow/path.hpp"
#include "flow/scheduler.hpp"
#include "nn/checkpoint.hpp"
#include "nn/ema.hpp"

using namespace fc;
using Clock = std::chrono::steady_clock;

namespace {

// Every training program's options (output, seed, threads, checkpoint_every,
// interrupt_at, resume: apps/cli/run_options.hpp) and this program's.
struct Config : app::CommonRunOptions {
  std::string train, sample, eval, fetch, reflow, distill, few_step, guidance_sweep, dataset, preset = "quick";
  std::string data_root = "data", method = "midpoint", path = "condot", sample_path, device_choice = "auto";
  std::string coupling = "independent";
  Device device = Device::CPU;
  int64_t epochs = 0, iterations = 0, batch = 0, channels = 0, res_blocks = 0;
  int64_t steps = 20, per_class = 10, fps = 20, frames = 101;
  int64_t eval_samples = 0, nll_images = 0, classifier_epochs = 3;
  double lr = 1e-3, sigma_min = 0.0, ema_decay = 0.0, class_drop = 0.0, guidance = 0.0;
  double clip = 1.0;
  std::string guidance_values = "0,0.5,1,2,4";
  std::vector<double> sweep;  // guidance_values as numbers
  bool hflip = false, no_eval = false;
  // Rectified flow and distillation (apps/image/reflow.hpp).
  int64_t pairs = 0, teacher_steps = 20, rounds = 1, reflow_iterations = 0, distill_iterations = 0;
  double reflow_lr = 2e-4;
};

// quick trains on 2 CPU cores in well under 30 minutes; paper is the reference recipe
// (64 channels, 2 res blocks per level, attention at 16, batch 128, 10 epochs).
// The reflow and distillation part of quick (pairs, iterations of each) is sized so that
// CFM + pairs + reflow + distillation + the few-step table take about an hour on 2
// CPU cores for MNIST (docs/results-images.md, "Rectified flow and distillation on images");
// paper's is for a GPU.
struct Preset {
  int64_t iterations, batch, channels, res_blocks, eval_samples, nll_images;
  double ema_decay, class_drop, guidance;
  bool small_attention;  // attention only at the coarsest level (and the middle)
  int64_t pairs, reflow_iterations, distill_iterations;
};
const Preset kQuick{2000, 64, 32, 1, 1000, 100, 0.999, 0.1, 1.0, true, 3000, 1000, 500};
const Preset kPaper{0, 128, 64, 2, 10000, 1000, 0.9999, 0.0, 0.0, false, 50000, 20000, 10000};

// The modes, each naming the dataset it works on.
void add_mode_options(cxxopts::Options& o, Config& c) {
  o.add_options()
      ("train", "train on DATASET", cxxopts::value<std::string>(c.train))
      ("sample", "sample from the checkpoint of DATASET (then evaluate)", cxxopts::value<std::string>(c.sample))
      ("eval", "evaluate the checkpoint of DATASET", cxxopts::value<std::string>(c.eval))
      ("fetch", "download DATASET into DATA_ROOT/DATASET when it is missing, and stop (mnist, fashion_mnist, "
                "cifar10; offline, as --train would: docs/datasets.md)", cxxopts::value<std::string>(c.fetch))
      ("reflow", "rectified flow: fine-tune the CFM model of DATASET on pairs of its own flow, into "
                 "OUTPUT/../reflow/DATASET", cxxopts::value<std::string>(c.reflow))
      ("distill", "one-step distillation of the reflowed model of DATASET (the CFM model when there is "
                  "none), into OUTPUT/../distill/DATASET", cxxopts::value<std::string>(c.distill))
      ("few-step", "CFM, OT-CFM, reflow and distilled models of DATASET (those trained) after 1, 2, 4, 8, 20 Euler steps: "
                   "OUTPUT/../comparisons/few_step_DATASET.{json,md,png}", cxxopts::value<std::string>(c.few_step))
      ("guidance-sweep", "the CFM model of DATASET at each --guidance-values w: conditional accuracy and Fréchet "
                         "distance against w, OUTPUT/../comparisons/guidance_DATASET.{json,md,png}",
       cxxopts::value<std::string>(c.guidance_sweep))
      ("guidance-values", "the guidance scales of --guidance-sweep, comma-separated",
       cxxopts::value<std::string>(c.guidance_values)->default_value("0,0.5,1,2,4"));
}

// The model, its objective and its training.
void add_training_options(cxxopts::Options& o, Config& c) {
  o.add_options()
      ("preset", "quick (default: 2 CPU cores, under 30 minutes) or paper (the reference recipe)",
       cxxopts::value<std::string>(c.preset))
      ("epochs", "training epochs (paper 10; quick counts iterations)", cxxopts::value<int64_t>(c.epochs))
      ("iterations", "training iterations (overrides --epochs; quick 2000)", cxxopts::value<int64_t>(c.iterations))
      ("batch-size", "batch size (quick 64, paper 128)", cxxopts::value<int64_t>(c.batch))
      ("lr", "AdamW learning rate", cxxopts::value<double>(c.lr)->default_value("1e-3"))
      ("clip", "gradient-norm clipping (0: off)", cxxopts::value<double>(c.clip)->default_value("1.0"))
      ("channels", "UNet base channels, a multiple of 32 (quick 32, paper 64)", cxxopts::value<int64_t>(c.channels))
      ("res-blocks", "res blocks per level (quick 1, paper 2)", cxxopts::value<int64_t>(c.res_blocks))
      ("sigma-min", "σmin of the CFM path", cxxopts::value<double>(c.sigma_min)->default_value("0"))
      ("path", "probability path of training: condot, poly:N, linear-vp, cosine or vp (see cfm2d --help); "
               "sampling follows the checkpoint's", cxxopts::value<std::string>(c.path)->default_value("condot"))
      ("coupling", "pairing of each training batch: independent, or ot (OT-CFM: the exact minimum total squared "
                   "distance assignment of the batch's noise to its images, flattened); with ot the default "
                   "output root is outputs/ot_cfm", cxxopts::value<std::string>(c.coupling)->default_value("independent"))
      ("sample-path", "sample and evaluate under this path instead of the checkpoint's (the schedule-transformed "
                      "velocity, as cfm2d --sample-path; same forms as --path, sigma-min 0)",
       cxxopts::value<std::string>(c.sample_path))
      ("ema-decay", "EMA decay of the sampling weights (0: off; quick 0.999, paper 0.9999)",
       cxxopts::value<double>(c.ema_decay))
      ("class-drop", "probability of training with the 'no class' label, for guidance (quick 0.1, paper 0)",
       cxxopts::value<double>(c.class_drop))
      ("guidance", "classifier-free guidance scale w: v_c + w (v_c - v_none) (quick 1, paper 0)",
       cxxopts::value<double>(c.guidance))
      ("hflip", "random horizontal flips while training");
}

// Sampling, evaluation and the run itself (files, threads, checkpoints, device).
void add_sampling_and_run_options(cxxopts::Options& o, Config& c) {
  o.add_options()
      ("no-eval", "after --sample, skip the evaluation (pictures only)")
      ("method", "ODE solver: euler, midpoint, heun, rk4, dopri5",
       cxxopts::value<std::string>(c.method)->default_value("midpoint"))
      ("steps", "solver steps over [0, 1]", cxxopts::value<int64_t>(c.steps)->default_value("20"))
      ("samples-per-class", "samples per class in the grid and GIF",
       cxxopts::value<int64_t>(c.per_class)->default_value("10"))
      ("fps", "GIF frames per second", cxxopts::value<int64_t>(c.fps)->default_value("20"))
      ("frames", "GIF frames", cxxopts::value<int64_t>(c.frames)->default_value("101"))
      ("eval-samples", "generated images for the evaluation (quick 1000, paper 10000)",
       cxxopts::value<int64_t>(c.eval_samples))
      ("nll-images", "test images for the bits/dim estimate (quick 100, paper 1000)",
       cxxopts::value<int64_t>(c.nll_images))
      ("classifier-epochs", "epochs of the evaluation classifier's training (cached per dataset)",
       cxxopts::value<int64_t>(c.classifier_epochs)->default_value("3"))
      ("data-root", "where the datasets live (a missing mnist or fashion_mnist is downloaded there, "
                    "MD5-checked; docs/datasets.md)",
       cxxopts::value<std::string>(c.data_root)->default_value("data"));
  app::add_common_run_options(
      o, c, {"42", "500", "outputs/cfm", "output root; files go to OUTPUT/DATASET/",
             "continue the training mode's run (--train, --reflow or --distill) from its checkpoint"});
  app::add_device_option(o, c.device_choice);
}

void add_reflow_options(cxxopts::Options& o, Config& c) {
  o.add_options("rectified flow and distillation")
      ("pairs", "pairs (x0, x1) made once by the teacher and kept beside its checkpoint as "
                "STEM_pairs_{x0,x1,labels}.npy, reused when present (quick 3000, paper 50000)",
       cxxopts::value<int64_t>(c.pairs))
      ("teacher-steps", "midpoint steps of the teacher's flow that make a pair",
       cxxopts::value<int64_t>(c.teacher_steps)->default_value("20"))
      ("rounds", "k-rectified flow: reflow the reflowed model k - 1 more times (new pairs each round)",
       cxxopts::value<int64_t>(c.rounds)->default_value("1"))
      ("reflow-iterations", "iterations of each reflow round (quick 1000, paper 20000)",
       cxxopts::value<int64_t>(c.reflow_iterations))
      ("distill-iterations", "iterations of the distillation (quick 500, paper 10000)",
       cxxopts::value<int64_t>(c.distill_iterations))
      ("reflow-lr", "AdamW learning rate of reflow and distillation",
       cxxopts::value<double>(c.reflow_lr)->default_value("2e-4"));
}

// The one dataset the modes name (a UsageError when they name two, or none).
std::string dataset_of_modes(const Config& c) {
  std::string dataset;
  for (const std::string* d : {&c.train, &c.sample, &c.eval, &c.fetch, &c.reflow, &c.distill, &c.few_step, &c.guidance_sweep}) {
    if (d->empty()) continue;
    if (!dataset.empty() && dataset != *d)
      throw app::UsageError("the modes name different datasets ('" + dataset + "' and '" + *d + "')");
    dataset = *d;
  }
  if (dataset.empty())
    throw app::UsageError("give --train DATASET (or --sample, --eval, --fetch, --reflow, --distill, --few-step, "
                          "--guidance-sweep DATASET; try --help)");
  return dataset;
}

// The preset's value of every sizing option the user did not give.
Preset apply_presets(Config& c, const cxxopts::ParseResult& r) {
  const Preset& q = kQuick;
  const Preset& p = kPaper;
  app::apply_preset(c.preset, {{"iterations", &c.iterations, q.iterations, p.iterations},
                               {"epochs", &c.epochs, 0, 10},
                               {"batch-size", &c.batch, q.batch, p.batch},
                               {"channels", &c.channels, q.channels, p.channels},
                               {"res-blocks", &c.res_blocks, q.res_blocks, p.res_blocks},
                               {"eval-samples", &c.eval_samples, q.eval_samples, p.eval_samples},
                               {"nll-images", &c.nll_images, q.nll_images, p.nll_images},
                               {"pairs", &c.pairs, q.pairs, p.pairs},
                               {"reflow-iterations", &c.reflow_iterations, q.reflow_iterations, p.reflow_iterations},
                               {"distill-iterations", &c.distill_iterations, q.distill_iterations, p.distill_iterations}},
                    r);
  if (r.count("epochs") && !r.count("iterations")) c.iterations = 0;  // epochs decide
  const Preset& preset = c.preset == "quick" ? q : p;
  if (!r.count("ema-decay")) c.ema_decay = preset.ema_decay;
  if (!r.count("class-drop")) c.class_drop = preset.class_drop;
  if (!r.count("guidance")) c.guidance = preset.guidance;
  c.hflip = r.count("hflip") > 0;
  c.no_eval = r.count("no-eval") > 0;
  return preset;
}

// A path option's canonical name, or a UsageError naming the option.
std::string checked_path(const char* option, const std::string& spec, double sigma_min) {
  try {
    return flow::Scheduler::parse(spec, sigma_min).name();
  } catch (const Error& e) {
    throw app::UsageError(std::string("option '--") + option + "': " + e.what());
  }
}

void check_training_options(Config& c, const cxxopts::ParseResult& r) {
  using app::Interval;
  if (r.count("iterations")) app::require_positive("iterations", c.iterations);
  if (c.iterations == 0 && c.epochs == 0) throw app::UsageError("option '--epochs': must be positive");
  if (c.epochs < 0) throw app::UsageError("option '--epochs': must be positive");
  app::require_positive("batch-size", c.batch);
  if (!c.train.empty()) app::require_batch_split("batch-size", c.batch);
  app::require_positive("channels", c.channels);
  if (c.channels % 32) throw app::UsageError("option '--channels': must be a multiple of 32 (GroupNorm(32))");
  app::require_range("res-blocks", c.res_blocks, 1, 8);
  app::check_common_run_options(c, r);
  app::require_nonempty("data-root", c.data_root);
  if (!(c.lr > 0 && std::isfinite(c.lr))) throw app::UsageError("option '--lr': must be positive");
  app::require_real("clip", c.clip, 0, 1e9);
  app::require_real("sigma-min", c.sigma_min, 0, 1, Interval::OpenAbove);
  c.path = checked_path("path", c.path, c.sigma_min);
  if (r.count("coupling")) {
    if (c.train.empty()) throw app::UsageError("option '--coupling' needs --train (it is how a model trains)");
    if (c.coupling != "independent" && c.coupling != "ot")
      throw app::UsageError("option '--coupling': images take independent or ot, got '" + c.coupling + "'");
    // OT-CFM beside CFM, where the few-step table looks for it.
    if (c.coupling == "ot" && !r.count("output")) c.output = "outputs/ot_cfm";
  }
  app::require_real("ema-decay", c.ema_decay, 0, 1, Interval::OpenAbove);
  app::require_real("class-drop", c.class_drop, 0, 1, Interval::OpenAbove);
}

void check_sampling_options(Config& c, const cxxopts::ParseResult& r) {
  app::require_positive("steps", c.steps);
  app::require_range("samples-per-class", c.per_class, 1, 1000);
  app::require_range("fps", c.fps, 1, 100);
  app::require_range("frames", c.frames, 2, 1000);
  app::require_positive("eval-samples", c.eval_samples);
  app::require_range("nll-images", c.nll_images, 0, 1000000);
  app::require_range("classifier-epochs", c.classifier_epochs, 1, 1000);
  if (r.count("sample-path")) {
    if (c.sample.empty() && c.eval.empty() && c.guidance_sweep.empty())
      throw app::UsageError(
          "option '--sample-path' needs --sample, --eval or --guidance-sweep (it changes how a model samples)");
    c.sample_path = checked_path("sample-path", c.sample_path, 0.0);
  }
  app::require_real("guidance", c.guidance, -1e3, 1e3);
  if (r.count("guidance-values") && c.guidance_sweep.empty())
    throw app::UsageError("option '--guidance-values' needs --guidance-sweep DATASET");
  c.sweep = app::parse_guidance_values("guidance-values", c.guidance_values);
  try {
    flow::parse_method(c.method);
  } catch (const Error& e) {
    throw app::UsageError(std::string("option '--method': ") + e.what());
  }
}

void check_reflow_options(const Config& c) {
  app::require_range("pairs", c.pairs, 1, 1 << 24);  // ids travel as float32
  app::require_range("teacher-steps", c.teacher_steps, 1, 10000);
  app::require_range("rounds", c.rounds, 1, 100);
  app::require_positive("reflow-iterations", c.reflow_iterations);
  app::require_positive("distill-iterations", c.distill_iterations);
  if (!(c.reflow_lr > 0 && std::isfinite(c.reflow_lr))) throw app::UsageError("option '--reflow-lr': must be positive");
  const int training_modes = !c.train.empty() + !c.reflow.empty() + !c.distill.empty();
  if (c.resume && training_modes != 1)
    throw app::UsageError("option '--resume' needs exactly one of --train, --reflow and --distill");
  if (!c.reflow.empty() || !c.distill.empty()) app::require_batch_split("batch-size", c.batch);
}

Config parse(int argc, char** argv, Preset& preset) {
  cxxopts::Options o("cfm_image",
                     "Class-conditional flow matching on images: train the UNet, sample, evaluate;\n"
                     "rectified flow and one-step distillation from it, and their few-step table.\n"
                     "Several modes may be given at once; they run in the order train, reflow,\n"
                     "distill, few-step, guidance-sweep, sample, eval.\n"
                     "DATASET: " + app::join(data::image_dataset_names(), ", "));
  Config c;
  add_mode_options(o, c);
  add_training_options(o, c);
  add_sampling_and_run_options(o, c);
  add_reflow_options(o, c);
  const cxxopts::ParseResult r = app::parse_with_help(o, argc, argv);
  c.dataset = dataset_of_modes(c);
  if (!c.fetch.empty() && data::find_remote_dataset(c.fetch) == nullptr)
    throw app::UsageError("option '--fetch': '" + c.fetch + "' is not downloaded by flowcpp (it downloads " +
                          app::join(data::remote_dataset_names(), ", ") + "; docs/datasets.md says where the others come from)");
  preset = apply_presets(c, r);
  check_training_options(c, r);
  check_sampling_options(c, r);
  check_reflow_options(c);
  c.device = app::resolve_device(c.device_choice);
  return c;
}

using app::fmt;

flow::OdeOptions sampling_ode(const Config& c) {
  flow::OdeOptions ode;
  ode.method = flow::parse_method(c.method);
  ode.step_size = 1.f / static_cast<float>(c.steps);
  return ode;
}

nn::UNetConfig model_config(const Config& c, const Preset& p, const data::ImageDataset& ds) {
  FC_CHECK(ds.height == ds.width, ds.name << ": images are " << ds.height << "x" << ds.width
                                          << "; the UNet needs square images");
  // The reference picks channel_mult by image size (its UNetModelWrapper): 64 as for
  // CelebA, 32 as for CIFAR-10 (grey 32 x 32 keeps MNIST's, as before), else MNIST's.
  nn::UNetConfig m = ds.height == 64                       ? nn::UNetConfig::celeba64(c.channels)
                     : ds.height == 32 && ds.channels == 3 ? nn::UNetConfig::cifar10(c.channels)
                                                           : nn::UNetConfig::mnist(c.channels);
  m.in_channels = m.out_channels = ds.channels;
  m.image_size = ds.height;
  m.num_classes = ds.num_classes();
  m.num_res_blocks = c.res_blocks;
  m.null_class = c.class_drop > 0;
  // The quick preset keeps attention off the full-resolution levels, where its cost
  // grows with the square of the pixel count; the middle block keeps its attention.
  if (p.small_attention) m.attention_resolutions = {1 << (m.channel_mult.size() - 1)};
  return m;
}

struct Model {
  std::unique_ptr<nn::UNet> unet;
  std::unique_ptr<nn::EMA> ema;
};

void save(const std::string& path, const Config& c, Model& m, nn::AdamW& opt, const Generator& gen,
          const app::TrainState& state) {
  app::save_unet_checkpoint(path, *m.unet, opt, m.ema.get(), gen, state,
                            {{"dataset", c.dataset}, {"objective", "cfm"}, {"sigma_min", fmt(c.sigma_min, 9)},
                             {"path", c.path}, {"coupling", c.coupling}, {"class_drop", fmt(c.class_drop, 9)},
                             {"batch_size", std::to_string(c.batch)}});
}

// The folder of another kind of model beside the CFM output root: outputs/cfm ->
// outputs/KIND/DATASET (KIND: reflow, distill; comparisons holds the few-step table).
std::string sibling_dir(const Config& c, const std::string& kind, bool with_dataset = true) {
  std::filesystem::path p = std::filesystem::path(c.output).parent_path() / kind;
  if (with_dataset) p /= app::dataset_dir_name(c.dataset);
  return p.string();
}

// --reflow or --distill: the rectified-flow training of apps/image/reflow.
int train_reflow(const Config& c, bool distill, const std::string& cfm_ckpt) {
  app::ImageReflowOptions o;
  o.dataset = c.dataset;
  o.dir = sibling_dir(c, distill ? "distill" : "reflow");
  const std::string reflowed = sibling_dir(c, "reflow") + "/ckpt.safetensors";
  o.teacher = distill && std::filesystem::exists(reflowed) ? reflowed : cfm_ckpt;
  FC_CHECK(std::filesystem::exists(o.teacher),
           o.teacher << ": no CFM model to start from; train one first with ./apps/cfm_image --train " << c.dataset);
  o.distill = distill;
  o.resume = c.resume;
  o.pairs = c.pairs;
  o.teacher_steps = c.teacher_steps;
  o.rounds = distill ? 1 : c.rounds;
  o.iterations = distill ? c.distill_iterations : c.reflow_iterations;
  o.batch = c.batch;
  o.checkpoint_every = c.checkpoint_every;
  o.interrupt_at = c.interrupt_at;
  o.seed = static_cast<uint64_t>(c.seed);
  o.lr = c.reflow_lr;
  o.clip = c.clip;
  o.ema_decay = c.ema_decay;
  o.class_drop = c.class_drop;
  o.guidance = static_cast<float>(c.guidance);
  o.device = c.device;
  if (dist::is_root())
    std::fprintf(stderr, "cfm_image: %s from %s: %lld iterations of batch %lld%s\n",
                 distill ? "one-step distillation" : "rectified flow", o.teacher.c_str(),
                 static_cast<long long>(o.iterations), static_cast<long long>(o.batch),
                 o.rounds > 1 ? (" in each of " + std::to_string(o.rounds) + " rounds").c_str() : "");
  nlohmann::json metrics;
  metrics["dataset"] = c.dataset;
  if (!app::train_image_reflow(o, metrics)) return 130;
  if (!dist::is_root()) return 0;
  app::record_peak_memory(metrics, c.device);
  app::write_json(o.dir + "/metrics.json", metrics.dump(2));
  const nlohmann::json& last = metrics["rounds"].back();
  std::fprintf(stderr, "cfm_image: wrote %s/ (one-step endpoint MSE on the pairs %s -> %s)\n", o.dir.c_str(),
               fmt(last["one_step_endpoint_mse_before"].get<double>()).c_str(),
               fmt(last["one_step_endpoint_mse_after"].get<double>()).c_str());
  return 0;
}

// The sampling weights of a checkpoint (its EMA average when it has one).
Model load_for_sampling(const std::string& path, const Config& c, int64_t image_size) {
  FC_CHECK(std::filesystem::exists(path),
           path << ": no checkpoint; train first with ./apps/cfm_image --train " << c.dataset);
  Model m;
  m.unet = app::load_unet_for_sampling(path, image_size, c.dataset);
  m.unet->to(c.device);
  return m;
}

// The coupling a checkpoint of cfm_image trained with (independent before --coupling).
std::string checkpoint_coupling(const std::string& path) {
  nn::SafetensorsFile f = nn::load_safetensors(path);
  auto it = f.metadata.find("coupling");
  return it == f.metadata.end() ? "independent" : it->second;
}

// --few-step: the CFM model and, when trained, OT-CFM (outputs/ot_cfm) and the reflowed
// and distilled ones.
void few_step_table(const Config& c, const std::string& cfm_ckpt) {
  FC_CHECK(std::filesystem::exists(cfm_ckpt),
           cfm_ckpt << ": no CFM model; train one first with ./apps/cfm_image --train " << c.dataset);
  data::ImageDataset test = app::read_image_dataset(c.dataset, data::Split::Test, c.data_root);
  const float w = static_cast<float>(c.guidance);
  std::vector<app::FewStepImageModel> models{{checkpoint_coupling(cfm_ckpt) == "ot" ? "OT-CFM" : "CFM", cfm_ckpt, w}};
  for (const char* kind : {"ot_cfm", "reflow", "distill"}) {
    const std::string path = sibling_dir(c, kind) + "/ckpt.safetensors";
    if (!std::filesystem::exists(path) || std::filesystem::equivalent(path, cfm_ckpt)) continue;
    const std::string k = kind;
    if (k == "ot_cfm" && checkpoint_coupling(path) != "ot") continue;
    models.push_back({k == "ot_cfm" ? "OT-CFM" : k == "reflow" ? "Reflow" : "Distilled", path,
                      app::sampling_guidance(path, w)});
  }
  app::FewStepImageOptions o;
  o.dataset = c.dataset;
  const std::string dir = sibling_dir(c, "comparisons", false);
  std::filesystem::create_directories(dir);
  o.stem = dir + "/few_step_" + app::dataset_dir_name(c.dataset);
  o.device = c.device;
  o.samples = c.eval_samples;
  o.eval.classifier_epochs = c.classifier_epochs;
  o.eval.seed = static_cast<uint64_t>(c.seed);
  o.eval.data_root = c.data_root;
  o.eval.classifier_dir = sibling_dir(c, "classifier");
  app::write_image_few_step(models, test, o);
  if (dist::is_root()) std::fprintf(stderr, "cfm_image: wrote %s.{json,md,png}\n", o.stem.c_str());
}

// --guidance-sweep: the CFM model at each guidance scale, scored as the evaluation.
void guidance_sweep(const Config& c, const std::string& cfm_ckpt) {
  data::ImageDataset test = app::read_image_dataset(c.dataset, data::Split::Test, c.data_root);
  Model m = load_for_sampling(cfm_ckpt, c, test.height);
  app::GuidanceSweepOptions o;
  o.dataset = c.dataset;
  o.values = c.sweep;
  const std::string dir = sibling_dir(c, "comparisons", false);
  std::filesystem::create_directories(dir);
  o.stem = dir + "/guidance_" + app::dataset_dir_name(c.dataset);
  o.eval.samples = c.eval_samples;
  o.eval.classifier_epochs = c.classifier_epochs;
  o.eval.ode = sampling_ode(c);
  o.eval.path = app::checkpoint_sample_path(cfm_ckpt, c.sample_path);
  o.eval.seed = static_cast<uint64_t>(c.seed);
  o.eval.data_root = c.data_root;
  o.eval.classifier_dir = sibling_dir(c, "classifier");
  app::write_guidance_sweep(*m.unet, test, o);
  if (dist::is_root()) std::fprintf(stderr, "cfm_image: wrote %s.{json,md,png} and %s_samples.png\n", o.stem.c_str(), o.stem.c_str());
}

// Every folder this run writes in: checked before any work, so that a read-only one is
// one line now rather than an error after the training. DIR holds the CFM model, its
// metrics and the pairs made by it.
// --fetch alone: the download, and nothing written under OUTPUT.
bool only_fetch(const Config& c) {
  for (const std::string* d : {&c.train, &c.sample, &c.eval, &c.reflow, &c.distill, &c.few_step, &c.guidance_sweep})
    if (!d->empty()) return false;
  return true;
}

int fetch_only(const Config& c) {
  app::fetch_dataset_if_missing(c.fetch, c.data_root, "cfm_image");
  std::fprintf(stderr, "cfm_image: %s is in %s/%s (%s)\n", c.fetch.c_str(), c.data_root.c_str(), c.fetch.c_str(),
               app::dataset_source(c.fetch, c.data_root).c_str());
  return 0;
}

std::vector<std::string> output_dirs(const Config& c, const std::string& dir) {
  std::vector<std::string> out{dir};
  if (!c.reflow.empty()) out.push_back(sibling_dir(c, "reflow"));
  if (!c.distill.empty()) out.push_back(sibling_dir(c, "distill"));
  if (!c.few_step.empty() || !c.guidance_sweep.empty()) out.push_back(sibling_dir(c, "comparisons", false));
  const bool evaluates = !c.eval.empty() || (!c.sample.empty() && !c.no_eval) || !c.few_step.empty() ||
                         !c.guidance_sweep.empty();
  if (evaluates) out.push_back(sibling_dir(c, "classifier"));  // its cached classifier
  return out;
}

// The device is named once, when the inputs have been read: an error about them stays
// one line.
class DeviceNotice {
 public:
  explicit DeviceNotice(Device device) : device_(device) {}
  void announce() {
    if (!announced_) app::announce_device("cfm_image", device_);
    announced_ = true;
  }

 private:
  Device device_;
  bool announced_ = false;
};

// What an earlier phase (training, sampling) measured, kept in metrics.json.
nlohmann::json earlier_metrics(const std::string& dir) {
  if (!std::filesystem::exists(dir + "/metrics.json")) return nlohmann::json();
  try {
    std::ifstream in(dir + "/metrics.json");
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

// One line on what the model learns from, so that a run on the 10,000-digit subset is
// never mistaken for one on MNIST; metrics.json keeps the same.
void describe_training_data(const Config& c, const data::ImageDataset& ds, nlohmann::json& metrics) {
  const std::string source = app::dataset_source(c.dataset, c.data_root);
  metrics["dataset_source"] = source;
  metrics["dataset_train_images"] = ds.size();
  if (!dist::is_root()) return;
  std::fprintf(stderr, "cfm_image: %s: %lld training images, %lldx%lldx%lld, %lld classes (%s)\n", c.dataset.c_str(),
               static_cast<long long>(ds.size()), static_cast<long long>(ds.channels),
               static_cast<long long>(ds.height), static_cast<long long>(ds.width),
               static_cast<long long>(ds.num_classes()), source.c_str());
}

// --resume of --train: the same objective (checkpoints written before a key was
// recorded were trained with its default), then the model's and optimizer's state.
void resume_cfm(const Config& c, const std::string& ckpt, Model& m, nn::AdamW& opt, Generator& gen,
                app::TrainState& state, int64_t total) {
  FC_CHECK(std::filesystem::exists(ckpt), ckpt << ": nothing to resume (no checkpoint)");
  app::require_same_objective(nn::load_safetensors(ckpt), ckpt,
                              {{"path", "--path", c.path, "condot"},
                               {"coupling", "--coupling", c.coupling, "independent"},
                               {"sigma_min", "--sigma-min", app::fmt(c.sigma_min, 9), "0"},
                               {"class_drop", "--class-drop", app::fmt(c.class_drop, 9), "0"}});
  app::resume_unet_training(ckpt, c.dataset, "cfm", *m.unet, opt, m.ema.get(), gen, state);
  if (dist::is_root())
    std::fprintf(stderr, "cfm_image: resuming at iteration %lld of %lld\n", static_cast<long long>(state.iteration),
                 static_cast<long long>(total));
}

// The CFM loss of one batch: ‖v(x_t, t, y) − u_t(x0, x1)‖² on the training path.
// Under mpirun each rank takes its rows of the batch one process would take (the same
// epoch order), draws the whole batch's noise and times from the same generator and
// keeps its rows; gradients are averaged before clipping, so every rank clips and steps
// as one process would. OT-CFM pairs the whole batch on every rank (the same assignment
// everywhere), then keeps its rows. The references must outlive the function.
app::LossFn cfm_loss(const Config& c, nn::UNet& unet, data::ImageBatches& batches, Generator& gen) {
  const flow::Scheduler path = flow::Scheduler::parse(c.path, c.sigma_min);
  flow::CouplingOptions coupling;
  coupling.kind = flow::parse_coupling(c.coupling);
  const bool ot = coupling.kind != flow::Coupling::independent;
  const int64_t per_epoch = batches.batches_per_epoch(), classes = unet.config().num_classes;
  return [&c, &unet, &batches, &gen, path, coupling, ot, per_epoch, classes](int64_t iteration, const dist::Rows& rows) {
    const bool split = rows.count() != c.batch;
    auto mine = [&](const Tensor& whole) { return split ? slice(whole, 0, rows.begin, rows.end) : whole; };
    Tensor x1, y;
    batches.batch_rows(iteration / per_epoch, iteration % per_epoch, ot ? 0 : rows.begin, ot ? c.batch : rows.end,
                       x1, y);
    // (Batches are gathered on the host. OT-CFM pairs on the host too, before the
    // upload, so that the host never reads back from the device.)
    Tensor x0 = gen.normal(Shape{c.batch, x1.dim(1), x1.dim(2), x1.dim(3)}, 0.f, 1.f, ot ? Device::CPU : c.device);
    // (t on the host, the same numbers as on the device: the path's coefficients are
    // computed from it there, with no wait for the device)
    Tensor t = mine(gen.uniform(Shape{c.batch}, 0.f, 1.f));
    if (ot) {
      app::couple_images(x0, x1, y, coupling, gen);
      x1 = mine(x1);
      y = mine(y);
    }
    x0 = mine(x0).to(c.device);
    x1 = x1.to(c.device);
    Tensor t4 = reshape(t, Shape{rows.count(), 1, 1, 1});
    Tensor labels = app::drop_labels(y, static_cast<float>(c.class_drop), classes, c.batch, rows, gen).to(c.device);
    return mse_loss(unet.forward(flow::affine_interpolate(x0, x1, t4, path), t.to(c.device), labels),
                    flow::affine_target(x0, x1, t4, path));
  };
}

app::TrainLoopOptions cfm_loop_options(const Config& c, const std::string& dir, int64_t total, int64_t per_epoch) {
  app::TrainLoopOptions to;
  to.iterations = total;
  to.batch = c.batch;
  to.per_epoch = per_epoch;
  to.checkpoint_every = c.checkpoint_every;
  to.interrupt_at = c.interrupt_at;
  to.clip = c.clip;
  to.program = "cfm_image";
  to.checkpoint = dir + "/ckpt.safetensors";
  to.losses_csv = dir + "/losses.csv";
  return to;
}

// After --train, on rank 0: the checkpoint, the losses and what training measured.
void record_training(const Config& c, const std::string& dir, Model& m, const app::TrainState& state,
                     double smooth, const app::HostWaits& waits, Clock::time_point t0, int64_t total,
                     nlohmann::json& metrics) {
  app::write_losses_csv(dir + "/losses.csv", state.losses);
  app::plot_loss_curve(dir + "/losses.png", state.losses, "CFM training loss — " + c.dataset);
  metrics["final_loss"] = smooth;
  app::record_host_waits("cfm_image", metrics, waits, c.device);
  metrics["time_train_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics["parameters"] = m.unet->num_parameters();
  metrics["train_config"] = {{"iterations", total}, {"batch_size", c.batch}, {"lr", c.lr},
                             {"channels", c.channels}, {"res_blocks", c.res_blocks},
                             {"ema_decay", c.ema_decay}, {"class_drop", c.class_drop},
                             {"sigma_min", c.sigma_min}, {"path", c.path}, {"coupling", c.coupling},
                             {"seed", c.seed}, {"threads", num_threads()}};
  std::fprintf(stderr, "cfm_image: trained; wrote %s/ckpt.safetensors\n", dir.c_str());
}

// --train: the CFM model into DIR/ckpt.safetensors; false when interrupted (saved).
bool train_cfm(const Config& c, const Preset& preset, const std::string& dir, nlohmann::json& metrics,
               DeviceNotice& notice) {
  const std::string ckpt = dir + "/ckpt.safetensors";
  data::ImageDataset ds = app::read_image_dataset(c.dataset, data::Split::Train, c.data_root);
  describe_training_data(c, ds, metrics);
  notice.announce();
  data::ImageBatches batches(ds, c.batch, static_cast<uint64_t>(c.seed), c.hflip);
  const int64_t per_epoch = batches.batches_per_epoch();
  const int64_t total = c.iterations > 0 ? c.iterations : c.epochs * per_epoch;
  Generator gen(static_cast<uint64_t>(c.seed));
  Model m;
  m.unet = std::make_unique<nn::UNet>(model_config(c, preset, ds), gen);  // on the host: the same on every device
  m.unet->to(c.device);
  m.unet->flatten_parameters();
  nn::AdamWOptions ao;
  ao.lr = static_cast<float>(c.lr);
  nn::AdamW opt(*m.unet, ao);
  if (c.ema_decay > 0) m.ema = std::make_unique<nn::EMA>(*m.unet, static_cast<float>(c.ema_decay));
  app::TrainState state;
  if (c.resume) resume_cfm(c, ckpt, m, opt, gen, state, total);
  if (dist::is_root())
    std::fprintf(stderr, "cfm_image: UNet with %lld parameters; %lld iterations of batch %lld (%.2f epochs%s)\n",
                 static_cast<long long>(m.unet->num_parameters()), static_cast<long long>(total),
                 static_cast<long long>(c.batch), double(total) / per_epoch,
                 dist::size() > 1 ? (", " + std::to_string(dist::size()) + " ranks").c_str() : "");
  const auto t0 = Clock::now();
  const app::LossFn loss = cfm_loss(c, *m.unet, batches, gen);
  app::TrainLoopOptions to = cfm_loop_options(c, dir, total, per_epoch);
  app::HostWaits waits;
  to.host_waits = &waits;
  double smooth = 0;
  auto save_now = [&] { save(ckpt, c, m, opt, gen, state); };
  if (!app::train_loop(*m.unet, opt, m.ema.get(), state, loss, to, save_now, &smooth)) return false;
  // Rank 0 writes; the others go on to reflow or stop.
  if (dist::is_root()) {
    save_now();
    record_training(c, dir, m, state, smooth, waits, t0, total, metrics);
  }
  return true;
}

// --sample: the class grid, its trajectory GIF and the samples' files (rank 0 writes).
void draw_samples(const Config& c, const std::string& dir, nn::UNet& unet, const data::ImageDataset& test,
                  const app::SamplePath& path, nlohmann::json& metrics) {
  app::Phase phase("sampling", "the model is saved in " + dir + "/ckpt.safetensors; --sample draws the samples from it");
  Generator gen(static_cast<uint64_t>(c.seed) + 1);
  const int64_t classes = unet.config().num_classes;
  const float w = static_cast<float>(c.guidance);
  Tensor labels = app::class_grid_labels(classes, c.per_class);
  std::vector<float> times = app::linspace01(static_cast<int>(c.frames));
  int64_t nfe = 0;
  auto t0 = Clock::now();
  if (dist::is_root())
    std::fprintf(stderr, "cfm_image: sampling %lld images (%s, %lld steps, guidance %s%s%s)\n",
                 static_cast<long long>(labels.dim(0)), c.method.c_str(), static_cast<long long>(c.steps),
                 fmt(w).c_str(),
                 path.changes() ? (", " + path.trained.name() + " model under " + path.sampled.name()).c_str() : "",
                 app::split_over_ranks(labels.dim(0)) ? (", over " + std::to_string(dist::size()) + " ranks").c_str()
                                                      : "");
  std::vector<Tensor> states =
      app::sample_images_over_ranks(unet, gen, labels, times, sampling_ode(c), w, 100, &nfe, "sampling", Tensor(), path);
  if (!dist::is_root()) return;
  metrics["time_sample_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics["nfe"] = nfe;
  data::save_npy(dir + "/samples.npy", states.back());
  data::save_npy(dir + "/labels.npy", labels);
  std::string caption = c.dataset + " — " + c.method + ", " + std::to_string(c.steps) + " steps";
  if (w != 0.f) caption += ", guidance " + fmt(w);
  if (path.changes()) caption += ", sampled under " + path.sampled.name();
  app::write_sample_grid(dir + "/final_samples.png", states.back(), classes, test.class_names, caption);
  app::write_trajectory_gif(dir + "/trajectory.gif", states, times, classes, test.class_names, caption,
                            static_cast<int>(c.fps));
}

// --sample and --eval of the CFM model; the ranks split the images, rank 0 scores.
// False when --no-eval skipped the evaluation.
bool sample_and_evaluate(const Config& c, const std::string& dir, nlohmann::json& metrics, DeviceNotice& notice) {
  const std::string ckpt = dir + "/ckpt.safetensors";
  data::ImageDataset test = app::read_image_dataset(c.dataset, data::Split::Test, c.data_root);
  dist::barrier();  // every rank samples the checkpoint rank 0 has finished writing
  Model m = load_for_sampling(ckpt, c, test.height);
  const app::SamplePath path = app::checkpoint_sample_path(ckpt, c.sample_path);
  notice.announce();
  metrics["sample_path"] = path.sampled.name();
  if (!c.sample.empty()) draw_samples(c, dir, *m.unet, test, path, metrics);
  if (c.no_eval && c.eval.empty()) return false;
  app::EvalOptions eo;
  eo.samples = c.eval_samples;
  eo.nll_images = c.nll_images;
  eo.classifier_epochs = c.classifier_epochs;
  eo.guidance = static_cast<float>(c.guidance);
  eo.ode = sampling_ode(c);
  eo.path = path;
  eo.seed = static_cast<uint64_t>(c.seed);
  eo.data_root = c.data_root;
  eo.classifier_dir = sibling_dir(c, "classifier");  // outputs/cfm -> outputs/classifier/DATASET
  app::Phase phase("evaluating", "the model is saved in " + ckpt + "; --eval evaluates it");
  metrics["eval"] = app::evaluate(*m.unet, c.dataset, test, eo);
  return true;
}

// The modes, in the order of --help: fetch, train, reflow, distill, few-step,
// guidance-sweep, sample, eval.
int run(int argc, char** argv) {
  Preset preset;
  Config c = parse(argc, argv, preset);
  if (only_fetch(c)) return fetch_only(c);
  set_num_threads(static_cast<int>(c.threads));
  const std::string dir = c.output + "/" + app::dataset_dir_name(c.dataset);
  const std::string ckpt = dir + "/ckpt.safetensors";
  if (dist::is_root())
    for (const std::string& d : output_dirs(c, dir)) io::make_writable_dir(d);
  nlohmann::json metrics = earlier_metrics(dir);
  metrics["dataset"] = c.dataset;
  metrics["device"] = app::describe_device(c.device);
  DeviceNotice notice(c.device);
  app::init_ranks(c.device);  // under mpirun: MPI and the ranks' device check, once the options are known good
  if (dist::is_root()) app::fetch_dataset_if_missing(c.dataset, c.data_root, "cfm_image");
  dist::barrier();  // the other ranks read what rank 0 fetched
  if (!c.train.empty() && !train_cfm(c, preset, dir, metrics, notice)) return 130;
  for (bool distill : {false, true})
    if (!(distill ? c.distill : c.reflow).empty())
      if (int rc = train_reflow(c, distill, ckpt)) return rc;
  if (!c.few_step.empty()) {
    app::Phase phase("making the few-step table");
    few_step_table(c, ckpt);
  }
  if (!c.guidance_sweep.empty()) {
    app::Phase phase("sweeping the guidance");
    guidance_sweep(c, ckpt);
  }
  if (c.train.empty() && c.sample.empty() && c.eval.empty()) return 0;  // the CFM model's metrics stay as they are
  const bool evaluated = (c.sample.empty() && c.eval.empty()) || sample_and_evaluate(c, dir, metrics, notice);
  if (!dist::is_root()) return 0;  // the ranks sampled together; rank 0 writes
  if (evaluated) app::record_peak_memory(metrics, c.device);
  app::write_json(dir + "/metrics.json", metrics.dump(2));
  std::fprintf(stderr, "cfm_image: wrote %s/%s\n", dir.c_str(), evaluated ? "" : " (no evaluation)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return app::main_guard("cfm_image", [&] { return run(argc, argv); }); }
