#include "apps/image/reflow.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/progress.hpp"
#include "apps/image/flow.hpp"
#include "apps/image/train.hpp"
#include "apps/train/losses.hpp"
#include "apps/train/pairs_record.hpp"
#include "apps/train/reflow_rounds.hpp"
#include "datasets/npy.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "flow/path.hpp"
#include "flow/scheduler.hpp"
#include "nn/checkpoint.hpp"
#include "nn/data_parallel.hpp"
#include "nn/safetensors.hpp"

namespace fc::app {

namespace {

using Clock = std::chrono::steady_clock;

std::string objective_of(const nn::SafetensorsFile& f) {
  auto it = f.metadata.find("objective");
  return it == f.metadata.end() ? "cfm" : it->second;
}

// The one-step map's endpoint error ‖x0 + v(x0, 0 | y) - x1‖² (mean over pixels) on the
// first pairs, conditional, without guidance: what distillation minimises.
double one_step_endpoint_mse(nn::UNet& model, const ImagePairs& p, int64_t count) {
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.train(false);
  const int64_t n = std::min(count, p.size());
  double sum = 0;
  for (int64_t s = 0; s < n; s += 100) {
    const int64_t e = std::min(n, s + 100);
    const Device d = model.device();  // the pairs are on the host
    Tensor x0 = slice(p.x0, 0, s, e).to(d), x1 = slice(p.x1, 0, s, e).to(d);
    Tensor v = model.forward(x0, Tensor::zeros(Shape{e - s}, d), slice(p.labels, 0, s, e).to(d));
    sum += static_cast<double>(mse_loss(x0 + v, x1).item()) * static_cast<double>(e - s);
  }
  model.train(was_training);
  return sum / static_cast<double>(n);
}

// Makes the pairs of `want` into STEM_*.npy, continues an interrupted set there, or
// checks that the set there is want's (any teacher's when `reused` and whole). Writes
// what it made so far when a signal stops it.
void ensure_image_pairs(nn::UNet& teacher, const std::string& stem, PairsRecord want, bool reused,
                        const std::string& program, nlohmann::json& metrics) {
  std::optional<PairsRecord> found = read_pairs_record(stem);
  FC_CHECK(found || !image_pairs_exist(stem),
           stem << ".json: missing, so the pairs in " << stem << "_*.npy do not say which teacher made them; remove "
                << stem << "_*.npy to make them anew");
  if (found && !(reused && found->complete())) check_pairs_record(stem, *found, want);
  if (found && found->complete()) {
    std::fprintf(stderr, "%s: using the pairs in %s_*.npy\n", program.c_str(), stem.c_str());
    return;
  }
  ImagePairs pairs;
  if (found && found->made > 0) pairs = load_image_pairs(stem, found->made, teacher.config());
  std::fprintf(stderr, "%s: %s %lld pairs with %s (midpoint, %lld steps, guidance %g) into %s_*.npy%s\n",
               program.c_str(), pairs.size() ? "continuing the" : "making", static_cast<long long>(want.pairs),
               want.teacher.c_str(), static_cast<long long>(want.teacher_steps), want.guidance, stem.c_str(),
               pairs.size() ? (" (" + std::to_string(pairs.size()) + " made)").c_str() : "");
  Phase phase("making pairs");
  auto tp = Clock::now();
  try {
    make_image_pairs(teacher, want.pairs, want.teacher_steps, static_cast<float>(want.guidance), want.seed, pairs);
  } catch (const Interrupted&) {
    want.made = pairs.size();
    if (want.made > (found ? found->made : 0)) {
      save_image_pairs(stem, pairs);
      write_pairs_record(stem, want);
    }
    throw interrupted_error(kept_pairs(stem, want));
  }
  save_image_pairs(stem, pairs);
  want.made = want.pairs;
  write_pairs_record(stem, want);
  metrics["time_pairs_s"] = std::chrono::duration<double>(Clock::now() - tp).count();
}

}  // namespace

void make_image_pairs(nn::UNet& teacher, int64_t n, int64_t steps, float guidance, uint64_t seed,
                      ImagePairs& pairs) {
  const nn::UNetConfig& cfg = teacher.config();
  const int64_t done = pairs.size();
  FC_CHECK(done % kPairBatch == 0 || done == n, "make_image_pairs: " << done << " pairs are not whole batches");
  Tensor labels = slice(class_grid_labels(cfg.num_classes, (n + cfg.num_classes - 1) / cfg.num_classes), 0, 0, n);
  flow::OdeOptions ode;
  ode.method = flow::Method::Midpoint;
  ode.step_size = 1.f / static_cast<float>(steps);
  Generator gen(seed);
  std::vector<Tensor> x0s, x1s;
  if (done > 0) {
    x0s.push_back(pairs.x0);
    x1s.push_back(pairs.x1);
  }
  int64_t made = done;
  auto assemble = [&] {
    if (made == 0) return;
    pairs.x0 = x0s.size() == 1 ? x0s[0] : concat(x0s, 0);
    pairs.x1 = x1s.size() == 1 ? x1s[0] : concat(x1s, 0);
    pairs.labels = slice(labels, 0, 0, made);
  };
  ProgressBar bar(n, "pairs", done);
  try {
    for (int64_t s = 0; s < n; s += kPairBatch) {
      const int64_t e = std::min(n, s + kPairBatch);
      // Drawn for the batches made before too: the numbers of one uninterrupted run.
      Tensor x0 = gen.normal(Shape{e - s, cfg.in_channels, cfg.image_size, cfg.image_size});
      if (s < done) continue;
      std::vector<Tensor> ends = sample_images(teacher, gen, slice(labels, 0, s, e), {0.f, 1.f}, ode, guidance,
                                               kPairBatch, nullptr, "", x0);
      x0s.push_back(ends[0]);
      x1s.push_back(ends[1]);
      made = e;
      bar.update(e);  // a signal stops here or in the solver's steps
    }
  } catch (const Interrupted&) {
    assemble();  // the whole batches
    throw;
  }
  bar.finish();
  assemble();
}

std::string pairs_stem(const std::string& checkpoint) {
  std::filesystem::path p(checkpoint);
  return (p.parent_path() / p.stem()).string() + "_pairs";
}

bool image_pairs_exist(const std::string& stem) {
  for (const char* part : {"_x0.npy", "_x1.npy", "_labels.npy"})
    if (!std::filesystem::exists(stem + part)) return false;
  return true;
}

void save_image_pairs(const std::string& stem, const ImagePairs& p) {
  data::save_npy(stem + "_x0.npy", p.x0);
  data::save_npy(stem + "_x1.npy", p.x1);
  data::save_npy(stem + "_labels.npy", p.labels);
}

ImagePairs load_image_pairs(const std::string& stem, int64_t n, const nn::UNetConfig& m) {
  ImagePairs p{data::load_npy(stem + "_x0.npy"), data::load_npy(stem + "_x1.npy"),
               data::load_npy(stem + "_labels.npy")};
  const Shape image{m.in_channels, m.image_size, m.image_size};
  auto check_images = [&](const Tensor& x, const char* part) {
    const std::string file = stem + part;
    const bool same = x.ndim() == 4 && x.dim(1) == image[0] && x.dim(2) == image[1] && x.dim(3) == image[2];
    FC_CHECK(same,
             file << ": holds an array of shape " << x.shape() << ", not pairs of " << image << " images");
    FC_CHECK(x.dim(0) == n, file << ": holds " << x.dim(0) << " pairs, this run asks for " << n
                                 << " (pass --pairs " << x.dim(0) << ", or remove " << stem << "_*.npy)");
    for (float v : x.to_vector()) FC_CHECK(std::isfinite(v), file << ": holds a value that is not finite");
  };
  check_images(p.x0, "_x0.npy");
  check_images(p.x1, "_x1.npy");
  FC_CHECK(p.labels.ndim() == 1 && p.labels.dim(0) == n,
           stem << "_labels.npy: holds an array of shape " << p.labels.shape() << ", not " << n << " labels");
  for (float y : p.labels.to_vector())
    FC_CHECK(y >= 0 && y < static_cast<float>(m.num_classes) && y == std::floor(y),
             stem << "_labels.npy: label " << y << " is not a class of the model (0.." << m.num_classes - 1 << ")");
  return p;
}

float sampling_guidance(const std::string& checkpoint, float cfm) {
  return objective_of(nn::load_safetensors(checkpoint)) == "cfm" ? cfm : 0.f;
}

namespace {

// Distillation fits the pairs its starting model was trained on (a reflowed model's);
// everything else makes its pairs with its teacher.
std::string stem_for(const ImageReflowOptions& o, const nn::SafetensorsFile& teacher_file,
                     const std::string& teacher_path) {
  auto trained_on = teacher_file.metadata.find("pairs");
  return o.distill && trained_on != teacher_file.metadata.end() ? trained_on->second : pairs_stem(teacher_path);
}

// A round's teacher, loaded as its student's start (the teacher's sampling weights, as
// in the reference), and the pairs the student learns from.
struct Round {
  std::string teacher_path, stem;
  float pair_guidance = 0;  // the CFM teacher's guidance; a reflowed teacher takes none
  std::unique_ptr<nn::UNet> student;
  ImagePairs pairs;
  double mse_before = 0;  // the one-step endpoint error before training (rank 0)
};

// Loads round `round`'s teacher and its pairs: rank 0 makes them (or finds them made),
// every rank reads them.
Round prepare_round(const ImageReflowOptions& o, const ReflowRounds& round_plan, int64_t round,
                    nlohmann::json& metrics) {
  Round r;
  r.teacher_path = round_plan.teacher_of(round);
  FC_CHECK(std::filesystem::exists(r.teacher_path),
           r.teacher_path << ": the model of round " << round - 1 << " is missing; rerun without --resume");
  const nn::SafetensorsFile teacher_file = nn::load_safetensors(r.teacher_path);
  r.stem = stem_for(o, teacher_file, r.teacher_path);
  r.pair_guidance = objective_of(teacher_file) == "cfm" ? o.guidance : 0.f;
  r.student = load_unet_for_sampling(r.teacher_path, 0, o.dataset);
  r.student->to(o.device);
  const nn::UNetConfig cfg = r.student->config();
  FC_CHECK(o.class_drop == 0 || cfg.null_class,
           r.teacher_path << ": the model has no null class, so labels cannot be dropped (pass --class-drop 0)");
  if (dist::is_root()) {
    PairsRecord want{r.teacher_path, nn::parameter_checksum(*r.student), o.teacher_steps, r.pair_guidance,
                     o.seed + 5000011 + static_cast<uint64_t>(round), o.pairs, 0};
    // (Distillation's pairs, made by the reflowed model's teacher, are checked by the
    // reflow run that made them; an unfinished set must be this teacher's.)
    const bool reused = r.stem != pairs_stem(r.teacher_path);
    ensure_image_pairs(*r.student, r.stem, want, reused, o.program, metrics);
  }
  dist::barrier();  // every rank reads what rank 0 made
  r.pairs = load_image_pairs(r.stem, o.pairs, cfg);
  r.mse_before = dist::is_root() ? one_step_endpoint_mse(*r.student, r.pairs, 500) : 0;
  return r;
}

// The pairs as rows on the device, sent once; each batch gathers its rows there.
struct PairRows {
  int64_t n = 0;
  Tensor x0, x1, labels;  // [n, C*H*W], [n, C*H*W], [n, 1]
};

PairRows pair_rows(const ImagePairs& pairs, const nn::UNetConfig& cfg, Device device) {
  const int64_t n = pairs.size(), d = cfg.in_channels * cfg.image_size * cfg.image_size;
  return {n, reshape(pairs.x0, Shape{n, d}).to(device), reshape(pairs.x1, Shape{n, d}).to(device),
          reshape(pairs.labels, Shape{n, 1}).to(device)};
}

// A batch's loss: x_t on the straight line from x0 to x1 at t ~ U(0, 1) (t = 0 when
// distilling: the one-step map), the velocity x1 - x0, labels dropped at --class-drop.
LossFn pairs_loss(const ImageReflowOptions& o, nn::UNet& student, const PairRows& rows_of, Generator& gen) {
  const nn::UNetConfig cfg = student.config();
  const flow::Scheduler line = flow::Scheduler::parse("condot", 0.0);
  return [&o, &student, &rows_of, &gen, cfg, line](int64_t, const dist::Rows& rows) {
    const int64_t b = rows.count();
    const Shape image{b, cfg.in_channels, cfg.image_size, cfg.image_size};
    Tensor ids = slice(gen.randint(Shape{o.batch}, 0, rows_of.n, o.device), 0, rows.begin, rows.end);
    Tensor x0 = reshape(embedding(rows_of.x0, ids), image), x1 = reshape(embedding(rows_of.x1, ids), image);
    Tensor y = reshape(embedding(rows_of.labels, ids), Shape{b});
    Tensor t = o.distill ? Tensor::zeros(Shape{b}, o.device)
                         : slice(gen.uniform(Shape{o.batch}, 0.f, 1.f, o.device), 0, rows.begin, rows.end);
    Tensor t4 = reshape(t, Shape{b, 1, 1, 1});
    Tensor labels = drop_labels(y, static_cast<float>(o.class_drop), cfg.num_classes, o.batch, rows, gen).to(o.device);
    return mse_loss(student.forward(flow::affine_interpolate(x0, x1, t4, line), t, labels),
                    flow::affine_target(x0, x1, t4, line));
  };
}

// One round, resuming the checkpoint when `resuming`; rank 0 adds the round's line to
// `rounds` and keeps its model as the next round's teacher. False when a signal stopped it.
bool train_round(const ImageReflowOptions& o, const ReflowRounds& round_plan, int64_t round, bool resuming,
                 Generator& gen, TrainState& state, nlohmann::json& rounds, nlohmann::json& metrics) {
  const std::string ckpt = o.dir + "/ckpt.safetensors", objective = o.distill ? "distill" : "reflow";
  Round r = prepare_round(o, round_plan, round, metrics);
  nn::UNet& student = *r.student;
  student.train(true);
  nn::AdamWOptions ao;
  ao.lr = static_cast<float>(o.lr);
  nn::AdamW opt(student, ao);
  std::unique_ptr<nn::EMA> ema;
  if (o.ema_decay > 0) ema = std::make_unique<nn::EMA>(student, static_cast<float>(o.ema_decay));
  if (resuming) {
    resume_unet_training(ckpt, o.dataset, objective, student, opt, ema.get(), gen, state);
    round_plan.announce_resume(round, state.iteration, o.iterations);
  } else {
    state = TrainState{};
  }
  round_plan.announce(round, r.teacher_path);
  const PairRows rows = pair_rows(r.pairs, student.config(), o.device);
  auto save = [&] {
    char drop[32];
    std::snprintf(drop, sizeof drop, "%.9g", o.class_drop);
    save_unet_checkpoint(ckpt, student, opt, ema.get(), gen, state,
                         {{"dataset", o.dataset}, {"objective", objective}, {"round", std::to_string(round)},
                          {"teacher", r.teacher_path}, {"pairs", r.stem},
                          {"pairs_guidance", std::to_string(r.pair_guidance)},
                          {"teacher_steps", std::to_string(o.teacher_steps)}, {"class_drop", drop},
                          {"batch_size", std::to_string(o.batch)}, {"sigma_min", "0"}, {"path", "condot"}});
  };
  TrainLoopOptions to;
  to.iterations = o.iterations;
  to.batch = o.batch;
  to.checkpoint_every = o.checkpoint_every;
  to.interrupt_at = round == o.rounds ? o.interrupt_at : -1;
  to.clip = o.clip;
  to.program = o.program;
  to.checkpoint = ckpt;
  to.losses_csv = o.dir + "/losses.csv";
  to.label = o.distill ? "distill" : o.rounds > 1 ? "reflow " + std::to_string(round) : "reflow";
  double final_loss = 0;
  if (!train_loop(student, opt, ema.get(), state, pairs_loss(o, student, rows, gen), to, save, &final_loss))
    return false;
  if (dist::is_root()) {
    save();
    // The sampling weights (the EMA average) after training, on the same pairs.
    std::unique_ptr<nn::UNet> trained = load_unet_for_sampling(ckpt, 0);
    trained->to(o.device);
    rounds.push_back({{"round", round}, {"teacher", r.teacher_path}, {"pairs", r.stem}, {"final_loss", final_loss},
                      {"one_step_endpoint_mse_before", r.mse_before},
                      {"one_step_endpoint_mse_after", one_step_endpoint_mse(*trained, r.pairs, 500)}});
    round_plan.keep_as_teacher(ckpt, round);
  }
  dist::barrier();  // the other ranks read round k's model as round k+1's teacher
  return true;
}

}  // namespace

bool train_image_reflow(const ImageReflowOptions& o, nlohmann::json& metrics) {
  const std::string ckpt = o.dir + "/ckpt.safetensors";
  const ReflowRounds round_plan(o.program, o.dir, o.rounds, o.teacher);
  // A signal before the first checkpoint (while the pairs are made) leaves no checkpoint
  // but the pairs' record: --resume then continues the pairs and starts the training.
  const bool from_checkpoint = o.resume && std::filesystem::exists(ckpt);
  if (o.resume && !from_checkpoint) {
    const bool pairs_begun = std::filesystem::exists(o.teacher) &&
                             read_pairs_record(stem_for(o, nn::load_safetensors(o.teacher), o.teacher));
    FC_CHECK(pairs_begun, ckpt << ": nothing to resume (no checkpoint)");
    if (dist::is_root())
      std::fprintf(stderr, "%s: no checkpoint yet: starting the training, on the pairs begun before\n",
                   o.program.c_str());
  }
  const int64_t first_round = round_plan.first_round(ckpt, from_checkpoint);
  std::filesystem::create_directories(o.dir);
  const auto t0 = Clock::now();
  Generator gen(o.seed);
  TrainState state;
  nlohmann::json rounds = nlohmann::json::array();
  for (int64_t round = first_round; round <= o.rounds; ++round)
    if (!train_round(o, round_plan, round, from_checkpoint && round == first_round, gen, state, rounds, metrics))
      return false;
  if (!dist::is_root()) return true;
  write_losses_csv(o.dir + "/losses.csv", state.losses);
  plot_loss_curve(o.dir + "/losses.png", state.losses,
                  (o.distill ? "One-step distillation loss — " : "Reflow loss — ") + o.dataset);
  metrics["objective"] = o.distill ? "distill" : "reflow";
  metrics["rounds"] = rounds;
  metrics["final_loss"] = rounds.back()["final_loss"];
  metrics["time_train_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics["train_config"] = {{"pairs", o.pairs},       {"teacher_steps", o.teacher_steps}, {"rounds", o.rounds},
                             {"iterations", o.iterations}, {"batch_size", o.batch},      {"lr", o.lr},
                             {"ema_decay", o.ema_decay}, {"class_drop", o.class_drop},  {"seed", o.seed},
                             {"teacher", o.teacher},   {"guidance", o.guidance}};
  return true;
}

}  // namespace fc::app
