// apps/cfm_image end to end on a tiny folder dataset the test draws: training and
// sampling write every output file; Ctrl-C (simulated) and --resume give the same
// checkpoint as an uninterrupted run; garbage options fail with one line naming them;
// guidance scale 0 is the conditional model itself.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "app_runner.hpp"
#include "apps/image/flow.hpp"
#include "datasets/npy.hpp"
#include "engine/ops.hpp"
#include "mpi_runner.hpp"
#include "nn/safetensors.hpp"
#include "tiny_image_dataset.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTiny =
    " --iterations 6 --batch-size 4 --channels 32 --res-blocks 1 --samples-per-class 2 --frames 4"
    " --steps 2 --eval-samples 8 --nll-images 2 --classifier-epochs 1 --threads 2 --checkpoint-every 0";

}  // namespace

TEST_CASE("cfm_image: a tiny run trains, samples and evaluates, writing every output", "[app][cfm_image]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  std::string ds = "folder:" + dir.path + "/pics";
  std::string out = " --output " + dir.path + "/out";
  AppRun r = run_app("./apps/cfm_image --train " + ds + " --sample " + ds + kTiny + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string d = dir.path + "/out/" + pics_folder(dir.path) + "/";
  for (const char* f : {"ckpt.safetensors", "losses.csv", "losses.png", "final_samples.png", "trajectory.gif",
                        "samples.npy", "labels.npy", "metrics.json"}) {
    INFO(f);
    CHECK(fs::exists(d + f));
    CHECK(fs::file_size(d + f) > 60);
  }
  std::string m = read_bytes(d + "metrics.json");
  for (const char* key : {"classifier_test_accuracy", "conditional_accuracy", "frechet_distance",
                          "bits_per_dim", "final_loss", "time_train_s", "nfe", "peak_memory_mb",
                          "dataset_train_images"}) {
    INFO(key);
    CHECK(m.find(key) != std::string::npos);
  }
  // What it learnt from, in the metrics and on the training line.
  CHECK(m.find("\"dataset_source\": \"the image files under " + dir.path + "/pics\"") != std::string::npos);
  CHECK(r.err.find(" classes (the image files under " + dir.path + "/pics)") != std::string::npos);
  // The checkpoint carries the EMA weights and the optimizer state.
  auto f = fc::nn::load_safetensors(d + "ckpt.safetensors");
  CHECK(f.find("ema.parameters") != nullptr);
  CHECK(f.find("optim.exp_avg") != nullptr);

  // --no-eval: the pictures only.
  AppRun pics = run_app("./apps/cfm_image --sample " + ds + kTiny + " --no-eval" + out);
  INFO(pics.err);
  REQUIRE(pics.exit_code == 0);
  CHECK(pics.err.find("conditional accuracy") == std::string::npos);

  // --eval alone reuses the cached classifier.
  AppRun e = run_app("./apps/cfm_image --eval " + ds + kTiny + out);
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  CHECK(e.err.find("training the classifier") == std::string::npos);
}

TEST_CASE("cfm_image: a one-iteration run draws its loss curve", "[app][cfm_image]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  AppRun r = run_app("./apps/cfm_image --train folder:" + dir.path + "/pics --iterations 1 --batch-size 2 "
                     "--channels 32 --res-blocks 1 --threads 2 --output " + dir.path + "/out");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(dir.path + "/out/" + pics_folder(dir.path) + "/losses.png"));
}

TEST_CASE("cfm_image: interrupt and --resume equal an uninterrupted run", "[app][cfm_image]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  std::string ds = "folder:" + dir.path + "/pics";
  const std::string opts = " --iterations 7 --batch-size 4 --channels 32 --res-blocks 1 --threads 2"
                           " --checkpoint-every 0 --class-drop 0.5 --ema-decay 0.9";
  AppRun whole = run_app("./apps/cfm_image --train " + ds + opts + " --output " + dir.path + "/a");
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  AppRun cut = run_app("./apps/cfm_image --train " + ds + opts + " --output " + dir.path + "/b --interrupt-at 3");
  INFO(cut.err);
  REQUIRE(cut.exit_code == 130);
  AppRun rest = run_app("./apps/cfm_image --train " + ds + opts + " --output " + dir.path + "/b --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  auto fa = fc::nn::load_safetensors(dir.path + "/a/" + pics_folder(dir.path) + "/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(dir.path + "/b/" + pics_folder(dir.path) + "/ckpt.safetensors");
  require_same_tensors(fa, fb);
  CHECK(fa.metadata.at("iteration") == "7");
}

TEST_CASE("mpi: 2 ranks of cfm_image equal one process (each rank its slice of the epoch's order)",
          "[mpi][cfm_image]") {
  if (!mpi_ready()) return;
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  std::string ds = "folder:" + dir.path + "/pics";
  // 8 iterations of batch 4 over 16 images: two epochs, two orders; class dropout, EMA
  // and gradient clipping (after the average) all in play. 64 channels, not 32: with 32,
  // GroupNorm(32) has one channel per group, so the bias of a res block's last conv
  // before it has a gradient of exactly zero, and both runs' values there are Adam's
  // amplification of rounding noise, equal in neither order.
  const std::string opts = " --iterations 8 --batch-size 4 --channels 64 --res-blocks 1 --threads 1"
                           " --checkpoint-every 0 --class-drop 0.5 --ema-decay 0.9 --clip 0.5";
  // The losses to 1e-5 relative (in the helper), and the weights (with the EMA's) as a whole. Tensor by
  // tensor the zero-initialised layers (attention's proj_out, each res block's last
  // conv) differ more: Adam divides each gradient by its own size, so where a
  // gradient is near zero its rounding-level difference (the ranks sum their halves
  // in another order) becomes a step of up to lr; the number is printed.
  const OneAndTwoRanks runs = train_cfm_image_on_one_and_two_ranks(ds, opts, dir.path);
  const fc::nn::SafetensorsFile &fa = runs.one, &fb = runs.two;
  double whole = relative_l2_difference(fa, fb, "optim.");
  std::string where;
  double worst = max_relative_difference(fa, fb, &where);
  std::printf("[mpi] cfm_image 8 iterations, 1 process vs 2 ranks: weights %.3g relative (L2), "
              "worst tensor %.3g (%s)\n", whole, worst, where.c_str());
  CHECK(whole <= 1e-5);
  CHECK(fa.metadata.at("rng_offset") == fb.metadata.at("rng_offset"));
  CHECK(fa.metadata.at("iteration") == "8");
  // Sampling and evaluating one checkpoint: the 2 ranks split the images, rank 0
  // gathers, scores (with the classifier the first run trained) and writes.
  const std::string sample = "./apps/cfm_image --sample " + ds + " --steps 3 --frames 3 --samples-per-class 2 --eval-samples 12"
                             " --classifier-epochs 1 --nll-images 0 --threads 1 --output " + dir.path + "/a";
  const std::string out = dir.path + "/a/" + pics_folder(dir.path) + "/";
  AppRun s1 = run_app(sample);
  INFO(s1.err);
  REQUIRE(s1.exit_code == 0);
  fc::Tensor images_one = fc::data::load_npy(out + "samples.npy");
  nlohmann::json eval_one = read_json(out + "metrics.json")["eval"];
  AppRun s2 = run_app(mpirun(2) + sample);
  INFO(s2.err);
  REQUIRE(s2.exit_code == 0);
  CHECK(s2.err.find("over 2 ranks") != std::string::npos);
  fc::Tensor images_two = fc::data::load_npy(out + "samples.npy");
  REQUIRE(images_one.shape() == images_two.shape());
  std::vector<float> ia = images_one.to_vector(), ib = images_two.to_vector();
  double diff = 0;
  for (size_t i = 0; i < ia.size(); ++i) diff = std::max(diff, std::abs(static_cast<double>(ia[i]) - ib[i]));
  std::printf("[mpi] cfm_image --sample, 1 process vs 2 ranks: largest pixel difference %.3g\n", diff);
  CHECK(diff <= 1e-5);
  nlohmann::json eval_two = read_json(out + "metrics.json")["eval"];
  CHECK(eval_two["conditional_accuracy"].get<double>() == eval_one["conditional_accuracy"].get<double>());
  CHECK(eval_two["frechet_distance"].get<double>() ==
        Approx(eval_one["frechet_distance"].get<double>()).epsilon(1e-4));
  // A batch the ranks cannot share is refused on one line.
  AppRun bad = run_app(mpirun(2) + "./apps/cfm_image --train " + ds + " --batch-size 3 --output " + dir.path + "/c");
  CHECK(bad.exit_code == 2);
  CHECK(count_lines(bad.err) == 1);
  CHECK(bad.err.find("batch-size") != std::string::npos);
}

TEST_CASE("cfm_image --path: trains under the cosine path, records it, resumes only under it",
          "[app][cfm_image][scheduler]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  std::string ds = "folder:" + dir.path + "/pics";
  const std::string opts = " --iterations 3 --batch-size 4 --channels 32 --res-blocks 1 --threads 2"
                           " --checkpoint-every 0 --output " + dir.path;
  AppRun r = run_app("./apps/cfm_image --train " + ds + opts + " --path cosine");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto f = fc::nn::load_safetensors(dir.path + "/" + pics_folder(dir.path) + "/ckpt.safetensors");
  CHECK(f.metadata.at("path") == "cosine");
  AppRun wrong = run_app("./apps/cfm_image --train " + ds + opts + " --resume --iterations 4");
  CHECK(wrong.exit_code == 1);
  // (after the dataset's one-line summary) one line naming the checkpoint's path
  const std::string last = wrong.err.substr(wrong.err.rfind('\n', wrong.err.size() - 2) + 1);
  CHECK(last.find("cfm_image: error:") == 0);
  CHECK(last.find("trained with --path 'cosine'") != std::string::npos);
  // Every setting of the objective is checked, not the path alone.
  for (const auto& [option, mention] : std::vector<std::pair<std::string, std::string>>{
           {" --sigma-min 0.1", "--sigma-min '0', this run '0.1'"},
           {" --class-drop 0.3", "--class-drop '0.1', this run '0.3'"}}) {  // the quick preset's 0.1
    AppRun changed = run_app("./apps/cfm_image --train " + ds + opts + " --resume --iterations 4 --path cosine" + option);
    INFO(changed.err);
    CHECK(changed.exit_code == 1);
    CHECK(last_line(changed.err).find(mention) != std::string::npos);
  }
  AppRun right = run_app("./apps/cfm_image --train " + ds + opts + " --resume --iterations 4 --path cosine");
  INFO(right.err);
  CHECK(right.exit_code == 0);
}

TEST_CASE("cfm_image --sample refuses a model of another dataset and NaN weights, naming the file",
          "[app][cfm_image][hostile]") {
  TempDir dir, other;
  write_tiny_dataset(dir.path + "/pics");
  write_tiny_dataset(other.path + "/pics");
  const std::string opts = " --iterations 2 --batch-size 4 --channels 32 --res-blocks 1 --threads 2"
                           " --checkpoint-every 0 --output " + dir.path + "/out";
  AppRun train = run_app("./apps/cfm_image --train folder:" + dir.path + "/pics" + opts);
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  const std::string ckpt = dir.path + "/out/" + pics_folder(dir.path) + "/ckpt.safetensors",
                    foreign = dir.path + "/out/" + pics_folder(other.path) + "/ckpt.safetensors";
  fs::create_directories(fs::path(foreign).parent_path());
  fs::copy_file(ckpt, foreign);
  AppRun wrong = run_app("./apps/cfm_image --sample folder:" + other.path + "/pics" + opts);
  INFO(wrong.err);
  CHECK(wrong.exit_code == 1);
  CHECK(last_line(wrong.err).find(foreign + ": trained on 'folder:" + dir.path + "/pics', not") != std::string::npos);
  write_poisoned_checkpoint(ckpt, ckpt, "ema.parameters");
  AppRun nan = run_app("./apps/cfm_image --sample folder:" + dir.path + "/pics" + opts);
  INFO(nan.err);
  CHECK(nan.exit_code == 1);
  CHECK(last_line(nan.err).find(ckpt + ": tensor 'ema.parameters' holds nan") != std::string::npos);
}

TEST_CASE("cfm_image: garbage options give one line naming the option", "[app][cfm_image]") {
  struct Bad {
    std::string args, mention;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"--train mnist --epochs abc", "epochs"},
           {"mnist", "mnist"},
           {"--train mnist --iterations -3", "iterations"},
           {"--train mnist --batch-size 0", "batch-size"},
           {"--train mnist --channels 48", "channels"},
           {"--train mnist --res-blocks 0", "res-blocks"},
           {"--train mnist --lr 0", "lr"},
           {"--train mnist --ema-decay 1.5", "ema-decay"},
           {"--train mnist --class-drop -0.1", "class-drop"},
           {"--train mnist --guidance nan", "guidance"},
           {"--train mnist --sigma-min 1", "sigma-min"},
           {"--train mnist --path cosin", "--path"},
           {"--train mnist --path poly:-1", "--path"},
           {"--train mnist --method rk45", "method"},
           {"--train mnist --preset slow", "preset"},
           {"--train mnist --steps 0", "steps"},
           {"--train mnist --fps 0", "fps"},
           {"--train mnist --samples-per-class 0", "samples-per-class"},
           {"--train mnist --threads -1", "threads"},
           {"--train mnist --sample cifar10", "different datasets"},
           {"--sample mnist --resume", "resume"},
           {"--train mnist --bogus 1", "bogus"},
           {"", "--train DATASET"},
           {"--train nosuchset", "mnist"},  // the error lists the valid names
           {"--train folder:/nonexistent/dir", "/nonexistent/dir"},
       }) {
    TempDir dir;
    AppRun r = run_app("./apps/cfm_image " + bad.args + " --data-root " + dir.path + "/data --output " + dir.path);
    INFO(bad.args << " -> " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != 130);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(bad.mention) != std::string::npos);
    CHECK(r.err.find("cfm_image: error:") == 0);
  }
}

TEST_CASE("cfm_image: sampling without a checkpoint names the command that makes one", "[app][cfm_image]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  AppRun r = run_app("./apps/cfm_image --sample folder:" + dir.path + "/pics --output " + dir.path + "/out");
  CHECK(r.exit_code == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("--train folder:") != std::string::npos);
}

TEST_CASE("guidance scale 0 is the conditional model; w mixes in the unconditional one", "[cfm_image]") {
  fc::Generator gen(3);
  fc::nn::UNetConfig cfg = fc::nn::UNetConfig::mnist(32);
  cfg.image_size = 8;
  cfg.num_res_blocks = 1;
  cfg.attention_resolutions = {4};
  cfg.null_class = true;
  fc::nn::UNet model(cfg, gen);
  model.train(false);
  // The zero-initialised output layer would make every velocity 0: perturb it.
  for (auto& [name, p] : model.named_parameters()) p->copy_(gen.normal(p->shape(), 0.f, 0.1f));
  fc::Tensor x = gen.normal(fc::Shape{3, 1, 8, 8}), y = fc::Tensor::from_vector({1, 7, 4}, fc::Shape{3});
  fc::Tensor t = fc::Tensor::full(fc::Shape{3}, 0.3f);
  fc::Tensor cond = model.forward(x, t, y);
  fc::Tensor uncond = model.forward(x, t, fc::Tensor::full(fc::Shape{3}, 10.f));
  CHECK(fc::app::unet_velocity(model, y, 0.f)(x, 0.3f).to_vector() == cond.to_vector());
  std::vector<float> g = fc::app::unet_velocity(model, y, 2.f)(x, 0.3f).to_vector();
  std::vector<float> c = cond.to_vector(), u = uncond.to_vector();
  REQUIRE(g.size() == c.size());
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(c[i] + 2.f * (c[i] - u[i])).margin(1e-5));
  // A model without a null class refuses guidance.
  cfg.null_class = false;
  fc::nn::UNet plain(cfg, gen);
  CHECK_THROWS_WITH(fc::app::unet_velocity(plain, y, 1.f), Catch::Matchers::Contains("class dropout"));
}
