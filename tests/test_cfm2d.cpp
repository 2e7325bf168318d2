// apps/cfm2d end to end: a tiny run writes every output file; Ctrl-C (simulated) and
// --resume give the same model as an uninterrupted run; every option given garbage
// fails with one line naming it; a corrupt checkpoint is refused; an unwritable output
// folder fails before any work, and the temps of killed runs are removed.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "app_runner.hpp"
#include "apps/flow2d/quality.hpp"
#include "engine/random.hpp"
#include "nn/safetensors.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTiny =
    " --iterations 30 --batch-size 64 --hidden 16 --samples 500 --gif-samples 200 --frames 5"
    " --grid 8 --eval-points 50 --quality-points 300 --steps 4 --threads 2";

}  // namespace

TEST_CASE("cfm2d: a tiny run writes every output", "[app][cfm2d]") {
  TempDir dir;
  AppRun r = run_app("./apps/cfm2d checkerboard" + kTiny + " --output " + dir.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string d = dir.path + "/checkerboard/";
  for (const char* f : {"ckpt.safetensors", "losses.csv", "losses.png", "samples.npy", "metrics.json",
                        "ode_sampling_evolution_checkerboard.png",
                        "vector_field_and_samples_checkerboard.gif", "likelihood_checkerboard.png"}) {
    INFO(f);
    CHECK(fs::exists(d + f));
    CHECK(fs::file_size(d + f) > 100);
  }
  std::ifstream m(d + "metrics.json");
  std::string text((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  for (const char* key : {"energy_distance", "energy_distance_all_points", "in_square_fraction", "heldout_mean_log_likelihood",
                          "nfe", "peak_memory_mb", "time_train_s", "final_loss", "straightness", "few_step"})
    CHECK(text.find(key) != std::string::npos);

  // Sampling only: the plots again from the checkpoint, no training.
  fs::remove(d + "losses.png");
  AppRun s = run_app("./apps/cfm2d checkerboard" + kTiny + " --sample-only --output " + dir.path);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  CHECK(s.err.find("train [") == std::string::npos);
  CHECK(fs::exists(d + "likelihood_checkerboard.png"));
}

TEST_CASE("cfm2d: interrupt and --resume equal an uninterrupted run", "[app][cfm2d]") {
  TempDir a, b;
  const std::string opts = " --iterations 40 --batch-size 64 --hidden 16 --no-plots --samples 200"
                           " --eval-points 20 --quality-points 100 --checkpoint-every 0 --threads 2 --output ";
  AppRun whole = run_app("./apps/cfm2d moons" + opts + a.path);
  REQUIRE(whole.exit_code == 0);
  AppRun cut = run_app("./apps/cfm2d moons" + opts + b.path + " --interrupt-at 17");
  INFO(cut.err);
  REQUIRE(cut.exit_code == 130);
  CHECK(cut.err.find("--resume") != std::string::npos);
  AppRun rest = run_app("./apps/cfm2d moons" + opts + b.path + " --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  auto fa = fc::nn::load_safetensors(a.path + "/moons/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(b.path + "/moons/ckpt.safetensors");
  require_same_tensors(fa, fb);
  CHECK(fa.metadata.at("rng_offset") == fb.metadata.at("rng_offset"));
  CHECK(fa.metadata.at("iteration") == "40");
}

TEST_CASE("cfm2d: garbage options give one line naming the option", "[app][cfm2d]") {
  struct Bad {
    std::string args, mention;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"checkerboard --iterations abc", "iterations"},
           {"checkerboard moons", "moons"},
           {"checkerboard --iterations -5", "iterations"},
           {"checkerboard --batch-size 0", "batch-size"},
           {"checkerboard --hidden 0", "hidden"},
           {"checkerboard --lr -1", "lr"},
           {"checkerboard --lr nan", "lr"},
           {"checkerboard --sigma-min 1.5", "sigma-min"},
           {"checkerboard --method rk45", "method"},
           {"checkerboard --preset fast", "preset"},
           {"checkerboard --steps 0", "steps"},
           {"checkerboard --frames 1", "frames"},
           {"checkerboard --probes 0", "probes"},
           {"checkerboard --threads -2", "threads"},
           {"checkerboard --samples -1", "samples"},
           {"checkerboard --no-such-option", "no-such-option"},
           {"checkerboard --resume --sample-only", "resume"},
           {"checkerboard --train-only --sample-only", "train-only"},
           {"checkerboard --coupling exact", "coupling"},
           {"checkerboard --quality-points 1", "quality-points"},
           {"checkerboard --ot-block 0", "ot-block"},
           {"checkerboard --sinkhorn-reg 0", "sinkhorn-reg"},
           {"checkerboard --sinkhorn-reg inf", "sinkhorn-reg"},
           {"checkerboard --path bogus", "--path"},
           {"checkerboard --path poly:0", "--path"},
           {"checkerboard --path poly:two", "--path"},
           {"checkerboard --sample-path nope", "--sample-path"},
           {"checkerboard --sb-sigma 0", "--sb-sigma"},
           {"checkerboard --sb-sigma -1", "--sb-sigma"},
           {"checkerboard --coupling sb --path cosine", "--coupling sb"},
           {"checkerboard --coupling sb --sigma-min 0.1", "--coupling sb"},
           {"", "DATASET"},
           {"nosuchdensity", "checkerboard"},  // the error lists the valid names
           {"points:/nonexistent/file.csv", "/nonexistent/file.csv"},
           {"image:/nonexistent/pic.png", "/nonexistent/pic.png"},
       }) {
    TempDir dir;
    AppRun r = run_app("./apps/cfm2d " + bad.args + " --output " + dir.path);
    INFO(bad.args << " -> " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != 130);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(bad.mention) != std::string::npos);
    CHECK(r.err.find("cfm2d: error:") == 0);
  }
}

TEST_CASE("cfm2d: an unwritable output folder fails before any work; temps of killed runs are removed",
          "[app][cfm2d]") {
  TempDir dir;
  // 100,000 iterations: minutes of training before the first save, had the folder not
  // been checked first.
  const std::string run = "./apps/cfm2d moons --iterations 100000" + kTiny + " --output ";
  auto require_refused = [&](const AppRun& r, const std::string& folder, const std::string& why) {
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("cfm2d: error: " + folder + ": " + why) == 0);
    CHECK(r.err.find("train [") == std::string::npos);
  };
  // The tests run as root, which writes into any folder whatever its permission bits; a
  // path under a regular file (ENOTDIR) and an immutable folder (chattr +i, which binds
  // root too) are unwritable for root as well.
  write_bytes(dir.file("file"), "not a folder");
  require_refused(run_app(run + dir.path + "/file/out"), dir.path + "/file/out/moons",
                  "cannot make the output folder");
  const std::string ro = dir.path + "/ro/moons";
  fs::create_directories(ro);
  const bool root = ::geteuid() == 0;
  const std::string lock = root ? "chattr +i " + ro + " 2>/dev/null" : "chmod 555 " + ro;
  if (std::system(lock.c_str()) != 0) {
    WARN("skipped the read-only folder: " << lock << " failed here");
  } else {
    AppRun r = run_app(run + dir.path + "/ro");
    std::system((root ? "chattr -i " + ro : "chmod 755 " + ro).c_str());
    require_refused(r, ro, "cannot write in the output folder");
  }

  // A checkpoint write killed by SIGKILL left its temp; the next run removes it, and
  // leaves a live process's (init's, pid 1).
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const std::string d = dir.path + "/ok/moons/";
  fs::create_directories(d);
  write_bytes(d + "ckpt.safetensors.tmp." + std::to_string(dead), std::string(1 << 20, 'x'));
  write_bytes(d + "samples.npy.tmp.1", "a live process's");
  AppRun ok = run_app("./apps/cfm2d moons --iterations 5 --train-only" + kTiny + " --output " + dir.path + "/ok");
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK(!fs::exists(d + "ckpt.safetensors.tmp." + std::to_string(dead)));
  CHECK(fs::exists(d + "samples.npy.tmp.1"));
}

TEST_CASE("cfm2d: a corrupt or missing checkpoint is refused", "[app][cfm2d]") {
  TempDir dir;
  fs::create_directories(dir.path + "/checkerboard");
  std::string ckpt = dir.path + "/checkerboard/ckpt.safetensors";
  AppRun missing = run_app("./apps/cfm2d checkerboard" + kTiny + " --sample-only --output " + dir.path);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find(ckpt) != std::string::npos);
  CHECK(count_lines(missing.err) == 1);
  {
    std::ofstream f(ckpt, std::ios::binary);
    f << "this is not a checkpoint at all, just some text";
  }
  for (const char* mode : {" --sample-only", " --resume"}) {
    AppRun r = run_app("./apps/cfm2d checkerboard" + kTiny + mode + " --output " + dir.path);
    INFO(mode << " -> " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(ckpt) != std::string::npos);
    CHECK(count_lines(r.err) == 1);
  }
}

TEST_CASE("cfm2d --score: the energy distance over every 20,000-point block", "[cfm2d][metrics]") {
  fc::data::Toy2d density("checkerboard");
  fc::Generator gen(7);
  // True samples: 2 whole blocks (the 5,000 left over are dropped), near zero.
  fc::app::BlockedEnergyDistance same =
      fc::app::blocked_energy_distance(density.sample(45000, gen), density, 0);
  CHECK(same.blocks == 2);
  CHECK(same.standard_error > 0);
  CHECK(std::abs(same.mean) < 2e-3);
  // A standard normal is far from it, by many standard errors of one block; one short
  // block is score_samples' estimate exactly (the same truth draw).
  fc::Tensor normal = gen.normal(fc::Shape{10000, 2});
  fc::app::BlockedEnergyDistance far = fc::app::blocked_energy_distance(normal, density, 0);
  nlohmann::json m;
  fc::app::score_samples(m, normal, density, 0);
  CHECK(far.blocks == 1);
  CHECK(far.standard_error == 0);
  CHECK(far.mean == m["energy_distance"].get<double>());
  CHECK(far.mean > 0.1);
  REQUIRE_THROWS_AS(fc::app::blocked_energy_distance(fc::Tensor::zeros(fc::Shape{10, 3}), density, 0),
                    fc::Error);
}

TEST_CASE("cfm2d --path and --sample-path: trained under one path, sampled under another", "[app][cfm2d][scheduler]") {
  TempDir dir;
  const std::string out = " --output " + dir.path;
  AppRun r = run_app("./apps/cfm2d moons --path poly:2.0" + kTiny + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto f = fc::nn::load_safetensors(dir.path + "/moons/ckpt.safetensors");
  CHECK(f.metadata.at("path") == "poly:2");  // the canonical name
  std::string m = read_bytes(dir.path + "/moons/metrics.json");
  CHECK(m.find("\"sample_path\": \"poly:2\"") != std::string::npos);

  AppRun s = run_app("./apps/cfm2d moons --sample-only --sample-path cosine" + kTiny + out);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  m = read_bytes(dir.path + "/moons/metrics.json");
  CHECK(m.find("\"path\": \"poly:2\"") != std::string::npos);
  CHECK(m.find("\"sample_path\": \"cosine\"") != std::string::npos);

  // A resumed run must be under the checkpoint's own path.
  AppRun wrong = run_app("./apps/cfm2d moons --resume --path cosine" + kTiny + out);
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("poly:2") != std::string::npos);
  CHECK(count_lines(wrong.err) == 1);
}

TEST_CASE("cfm2d --coupling sb: Schrödinger-bridge CFM trains and samples", "[app][cfm2d][sb]") {
  TempDir dir;
  const std::string out = " --output " + dir.path;
  AppRun r = run_app("./apps/cfm2d moons --coupling sb --sb-sigma 0.5" + kTiny + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto f = fc::nn::load_safetensors(dir.path + "/moons/ckpt.safetensors");
  CHECK(f.metadata.at("path") == "sb");
  CHECK(f.metadata.at("sb_sigma") == "0.5");
  CHECK(fs::exists(dir.path + "/moons/samples.npy"));
  // The bridge is no affine path: there is nothing to transform.
  AppRun s = run_app("./apps/cfm2d moons --sample-only --sample-path cosine" + kTiny + out);
  CHECK(s.exit_code == 1);
  CHECK(s.err.find("SB-CFM") != std::string::npos);
  CHECK(count_lines(s.err) == 1);
}

namespace {

const std::string kSampleOnly = " --sample-only --samples 300 --no-plots --eval-points 50 --quality-points 200 --threads 2";

}  // namespace

TEST_CASE("cfm2d --sample-only: a checkpoint without metadata samples, reporting its own settings",
          "[app][cfm2d][checkpoint]") {
  TempDir dir;
  fs::create_directories(dir.path + "/moons");
  write_plain_mlp(dir.path + "/moons/ckpt.safetensors");
  // One Euler step: one evaluation; the likelihood still by the reference's solver.
  AppRun r = run_app("./apps/cfm2d moons --method euler --steps 1" + kSampleOnly + " --output " + dir.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  nlohmann::json m = read_json(dir.path + "/moons/metrics.json");
  const nlohmann::json& c = m["config"];
  INFO(c.dump());
  CHECK(c["architecture_from"] == "parameter shapes");
  CHECK(c["hidden"] == 16);
  CHECK(c["hidden_layers"] == 3);
  CHECK(c["path"] == "condot");
  CHECK(c["sigma_min"] == 0.0);
  CHECK(c["iterations"].is_null());  // not the quick preset's 12000
  CHECK(c["batch_size"].is_null());
  CHECK(c["lr"].is_null());
  CHECK(c["method"] == "euler");
  CHECK(c["steps"] == 1);
  CHECK(m["nfe"] == 1);
  CHECK(m["likelihood_solver"] == "midpoint, 20 steps");
  const double few_step_likelihood = m["heldout_mean_log_likelihood"].get<double>();

  AppRun mid = run_app("./apps/cfm2d moons" + kSampleOnly + " --output " + dir.path);
  INFO(mid.err);
  REQUIRE(mid.exit_code == 0);
  m = read_json(dir.path + "/moons/metrics.json");
  CHECK(m["nfe"] == 40);  // midpoint, 20 steps
  CHECK(m["heldout_mean_log_likelihood"].get<double>() == Approx(few_step_likelihood).epsilon(1e-9));
}

TEST_CASE("cfm2d --sample-only reports the training settings of its own checkpoint", "[app][cfm2d][checkpoint]") {
  TempDir dir;
  AppRun r = run_app("./apps/cfm2d moons --iterations 30 --batch-size 64 --hidden 16 --train-only --threads 2 --output " +
                     dir.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  AppRun s = run_app("./apps/cfm2d moons" + kSampleOnly + " --output " + dir.path);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  const nlohmann::json c = read_json(dir.path + "/moons/metrics.json")["config"];
  INFO(c.dump());
  CHECK(c["architecture_from"] == "metadata");
  CHECK(c["iterations"] == 30.0);
  CHECK(c["hidden"] == 16);
  CHECK(c["coupling"] == "independent");
  CHECK(c["dataset"] == "moons");
  CHECK(c["batch_size"].is_null());  // the checkpoint does not record it
}
