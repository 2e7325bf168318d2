// Rectified flow, one-step distillation and the few-step table on images
// (cfm_image --reflow / --distill / --few-step, apps/image/reflow), end to end
// on the tiny folder dataset with the smallest UNet: the pairs are written beside the
// teacher and reused, bad pairs files and pairs of another teacher or settings are
// refused on one line, the losses go down, the distilled one-step map lands nearer x1
// than its start, Ctrl-C + --resume equal an uninterrupted run (over two rounds, and
// from pairs a SIGTERM stopped), and the table has its rows.
#include <catch2/catch.hpp>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app_runner.hpp"
#include "mpi_runner.hpp"
#include "tiny_image_dataset.hpp"
#include "datasets/npy.hpp"
#include "engine/ops.hpp"
#include "nn/safetensors.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kModel = " --batch-size 4 --channels 32 --res-blocks 1 --threads 2 --checkpoint-every 0"
                           " --classifier-epochs 1 --eval-samples 4 --teacher-steps 2";

// A tiny dataset and a CFM model of it under ROOT/out/cfm, trained for 4 iterations.
struct TinyTeacher {
  TempDir dir;
  std::string ds, out, cfm;
  TinyTeacher() {
    write_tiny_dataset(dir.path + "/pics");
    ds = "folder:" + dir.path + "/pics";
    out = " --output " + dir.path + "/out/cfm";
    cfm = dir.path + "/out/cfm/" + pics_folder(dir.path) + "/";
    AppRun r = run_app("./apps/cfm_image --train " + ds + " --iterations 4" + kModel + out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  // A second output root ROOT/NAME/cfm with the same CFM model (and no pairs yet), for a
  // run to compare with; returns its --output option.
  std::string second_root(const std::string& name) const {
    fs::create_directories(dir.path + "/" + name + "/cfm/" + pics_folder(dir.path));
    fs::copy_file(cfm + "ckpt.safetensors", dir.path + "/" + name + "/cfm/" + pics_folder(dir.path) + "/ckpt.safetensors");
    return " --output " + dir.path + "/" + name + "/cfm";
  }
};

}  // namespace

TEST_CASE("cfm_image --reflow/--distill/--few-step: pairs written then reused, losses down, the table's rows",
          "[app][cfm_image][reflow]") {
  TinyTeacher t;
  const std::string reflow = " --pairs 8 --reflow-lr 1e-3";
  AppRun r = run_app("./apps/cfm_image --reflow " + t.ds + kModel + reflow + " --reflow-iterations 8" + t.out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("making 8 pairs") != std::string::npos);
  fc::Tensor x0 = fc::data::load_npy(t.cfm + "ckpt_pairs_x0.npy"), x1 = fc::data::load_npy(t.cfm + "ckpt_pairs_x1.npy");
  fc::Tensor labels = fc::data::load_npy(t.cfm + "ckpt_pairs_labels.npy");
  CHECK(x0.shape() == fc::Shape{8, 3, 12, 12});
  CHECK(x1.shape() == x0.shape());
  CHECK(labels.to_vector() == std::vector<float>{0, 1, 0, 1, 0, 1, 0, 1});  // balanced
  const std::string rdir = t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/";
  auto ck = fc::nn::load_safetensors(rdir + "ckpt.safetensors");
  CHECK(ck.metadata.at("objective") == "reflow");
  CHECK(ck.metadata.at("pairs") == t.cfm + "ckpt_pairs");
  CHECK(ck.find("ema.parameters") != nullptr);
  // The loss on the straight line goes down over the 8 iterations (first 3 vs last 3).
  std::vector<float> l = ck.find("train.losses")->to_vector();
  REQUIRE(l.size() == 8);
  CHECK(l[5] + l[6] + l[7] < l[0] + l[1] + l[2]);

  // A second run reuses the pairs: same bytes, no new ones made.
  const std::string before = read_bytes(t.cfm + "ckpt_pairs_x1.npy");
  AppRun again = run_app("./apps/cfm_image --reflow " + t.ds + kModel + reflow + " --reflow-iterations 1" + t.out);
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("using the pairs") != std::string::npos);
  CHECK(again.err.find("making") == std::string::npos);
  CHECK(read_bytes(t.cfm + "ckpt_pairs_x1.npy") == before);

  // Distillation starts from the reflowed model, on its pairs, and brings the one-step
  // map x0 + v(x0, 0 | y) nearer x1.
  AppRun d = run_app("./apps/cfm_image --distill " + t.ds + kModel + " --pairs 8 --distill-iterations 8 --reflow-lr 1e-3" +
                     t.out);
  INFO(d.err);
  REQUIRE(d.exit_code == 0);
  nlohmann::json dm = read_json(t.dir.path + "/out/distill/" + pics_folder(t.dir.path) + "/metrics.json");
  CHECK(dm["rounds"][0]["teacher"] == rdir + "ckpt.safetensors");
  const double mse0 = dm["rounds"][0]["one_step_endpoint_mse_before"], mse1 = dm["rounds"][0]["one_step_endpoint_mse_after"];
  std::printf("[reflow] tiny distillation: one-step endpoint MSE %.4g -> %.4g\n", mse0, mse1);
  CHECK(mse1 < mse0);

  // The few-step table: three models, five step counts each, from the same x0.
  AppRun f = run_app("./apps/cfm_image --few-step " + t.ds + kModel + t.out);
  INFO(f.err);
  REQUIRE(f.exit_code == 0);
  const std::string stem = t.dir.path + "/out/comparisons/few_step_" + pics_folder(t.dir.path);
  nlohmann::json j = read_json(stem + ".json");
  for (const char* m : {"CFM", "Reflow", "Distilled"}) {
    INFO(m);
    REQUIRE(j["models"].contains(m));
    std::vector<int> steps;
    for (const auto& row : j["models"][m]["few_step"]) {
      steps.push_back(row["steps"]);
      CHECK(row["conditional_accuracy"].get<double>() >= 0);
      CHECK(row["conditional_accuracy"].get<double>() <= 1);
      CHECK(row.contains("frechet_distance"));
    }
    CHECK(steps == std::vector<int>{1, 2, 4, 8, 20});
  }
  CHECK(j["models"]["CFM"]["guidance"] == 1.0);  // the quick preset's
  CHECK(j["models"]["Reflow"]["guidance"] == 0);
  std::string md = read_bytes(stem + ".md");
  CHECK(md.find("| CFM |") != std::string::npos);
  CHECK(md.find("| Reflow |") != std::string::npos);
  CHECK(md.find("| Distilled |") != std::string::npos);
  CHECK(fs::file_size(stem + ".png") > 1000);
}

TEST_CASE("cfm_image --reflow: a pairs file of another size, shape or garbage is refused on one line",
          "[app][cfm_image][reflow]") {
  TinyTeacher t;
  const std::string reflow = " --reflow " + t.ds + kModel + " --reflow-iterations 1" + t.out;
  AppRun ok = run_app("./apps/cfm_image --pairs 8" + reflow);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  struct Case {
    std::string what, part, mention;
    std::function<void()> spoil;
    std::string pairs = "8";
  };
  const std::string stem = t.cfm + "ckpt_pairs";
  const std::string x1 = read_bytes(stem + "_x1.npy"), lab = read_bytes(stem + "_labels.npy");
  auto restore = [&] {
    std::ofstream(stem + "_x1.npy", std::ios::binary) << x1;
    std::ofstream(stem + "_labels.npy", std::ios::binary) << lab;
  };
  std::vector<Case> cases{
      {"another count", "_x0.npy", "--pairs 8", [] {}, "6"},
      {"garbage bytes", "_x1.npy", "_x1.npy", [&] { std::ofstream(stem + "_x1.npy") << "not an npy file"; }},
      {"another image shape", "_x1.npy", "not pairs of",
       [&] { fc::data::save_npy(stem + "_x1.npy", fc::Tensor::zeros(fc::Shape{8, 1, 12, 12})); }},
      {"a label of no class", "_labels.npy", "not a class",
       [&] { fc::data::save_npy(stem + "_labels.npy", fc::Tensor::full(fc::Shape{8}, 5.f)); }},
      {"a missing value", "_x1.npy", "not finite",
       [&] { fc::data::save_npy(stem + "_x1.npy", fc::Tensor::full(fc::Shape{8, 3, 12, 12}, NAN)); }},
  };
  for (const Case& c : cases) {
    restore();
    c.spoil();
    AppRun r = run_app("./apps/cfm_image --pairs " + c.pairs + reflow);
    INFO(c.what << " -> " << r.err);
    CHECK(r.exit_code == 1);
    const std::string line = last_line(r.err);
    CHECK(line.find("cfm_image: error: " + stem + c.part) == 0);
    CHECK(line.find(c.mention) != std::string::npos);
  }
}

TEST_CASE("cfm_image --reflow --rounds 2: interrupt and --resume equal an uninterrupted run",
          "[app][cfm_image][reflow]") {
  TinyTeacher t;
  const std::string b = t.second_root("b");
  const std::string opts = " --reflow " + t.ds + kModel + " --pairs 8 --reflow-iterations 3 --rounds 2";
  AppRun whole = run_app("./apps/cfm_image" + opts + t.out);
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  AppRun cut = run_app("./apps/cfm_image" + opts + b + " --interrupt-at 1");
  INFO(cut.err);
  REQUIRE(cut.exit_code == 130);
  AppRun rest = run_app("./apps/cfm_image" + opts + b + " --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  CHECK(rest.err.find("resuming round 2 at iteration 1") != std::string::npos);
  auto fa = fc::nn::load_safetensors(t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(t.dir.path + "/b/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors");
  require_same_tensors(fa, fb);
  CHECK(fa.metadata.at("round") == "2");
  // Round 2's teacher is round 1's model, whose pairs lie beside it.
  CHECK(fa.metadata.at("teacher") == t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/round1.safetensors");
  CHECK(fs::exists(t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/round1_pairs_x1.npy"));
}

TEST_CASE("cfm_image --reflow: pairs of another teacher or other settings are refused, naming what changed",
          "[app][cfm_image][reflow]") {
  TinyTeacher t;
  const std::string reflow = "./apps/cfm_image --reflow " + t.ds + kModel + " --pairs 8 --reflow-iterations 1" + t.out;
  AppRun ok = run_app(reflow);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  const std::string stem = t.cfm + "ckpt_pairs";
  nlohmann::json record = read_json(stem + ".json");
  CHECK(record["made"] == 8);
  CHECK(record["pairs"] == 8);
  CHECK(record["teacher_steps"] == 2);
  CHECK(record["teacher"] == t.cfm + "ckpt.safetensors");

  // Another --teacher-steps: the pairs would be another flow's endpoints.
  AppRun steps = run_app(reflow + " --teacher-steps 3");
  INFO(steps.err);
  CHECK(steps.exit_code == 1);
  CHECK(last_line(steps.err).find("cfm_image: error: " + stem + ".json: ") == 0);
  CHECK(last_line(steps.err).find("--teacher-steps 2 (this run 3)") != std::string::npos);
  CHECK(last_line(steps.err).find("remove " + stem + "_*.npy") != std::string::npos);
  // A teacher trained anew (issue 26: --train after the pairs were made) is another teacher.
  AppRun retrain = run_app("./apps/cfm_image --train " + t.ds + " --iterations 5" + kModel + t.out);
  REQUIRE(retrain.exit_code == 0);
  AppRun stale = run_app(reflow);
  INFO(stale.err);
  CHECK(stale.exit_code == 1);
  CHECK(last_line(stale.err).find("cfm_image: error: " + stem + ".json: ") == 0);
  CHECK(last_line(stale.err).find("the teacher's weights") != std::string::npos);
  // Pairs without a record (made before pairs had one) say no teacher: refused too.
  fs::remove(stem + ".json");
  AppRun unknown = run_app(reflow);
  INFO(unknown.err);
  CHECK(unknown.exit_code == 1);
  CHECK(last_line(unknown.err).find("cfm_image: error: " + stem + ".json: missing") == 0);
  // Removing them, as the messages say, makes new ones.
  for (const char* part : {"_x0.npy", "_x1.npy", "_labels.npy"}) fs::remove(stem + part);
  AppRun fresh = run_app(reflow);
  INFO(fresh.err);
  REQUIRE(fresh.exit_code == 0);
  CHECK(fresh.err.find("making 8 pairs") != std::string::npos);
}

TEST_CASE("cfm_image --reflow: SIGTERM while making pairs keeps them; --resume continues to the same pairs",
          "[app][cfm_image][reflow][signals]") {
  TinyTeacher t;
  const std::string b = t.second_root("b");
  // Two batches of pairs (100 and 50), about a second each; no guidance halves the work.
  const std::string opts = " --reflow " + t.ds + kModel + " --pairs 150 --guidance 0 --reflow-iterations 1";
  AppRun whole = run_app("./apps/cfm_image" + opts + t.out);
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  const std::string stem = t.dir.path + "/b/cfm/" + pics_folder(t.dir.path) + "/ckpt_pairs";
  // Stopped once the first batch is made.
  AppRun cut = stop_in_phase("./apps/cfm_image" + opts + b, "pairs [", SIGTERM, "cfm_image pairs");
  INFO(cut.err);
  CHECK(last_line(cut.err) == "cfm_image: interrupted by SIGTERM while making pairs; kept 100 of 150 pairs in " +
                                  stem + "_*.npy; --resume continues them");
  CHECK(read_json(stem + ".json")["made"] == 100);
  CHECK(fc::data::load_npy(stem + "_x1.npy").shape() == fc::Shape{100, 3, 12, 12});
  CHECK(!fs::exists(t.dir.path + "/b/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors"));
  AppRun rest = run_app("./apps/cfm_image" + opts + b + " --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  CHECK(rest.err.find("continuing the 150 pairs") != std::string::npos);
  for (const char* part : {"_x0.npy", "_x1.npy", "_labels.npy"}) {
    INFO(part);
    CHECK(read_bytes(stem + part) == read_bytes(t.cfm + "ckpt_pairs" + part));
  }
  require_same_tensors(fc::nn::load_safetensors(t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors"),
                       fc::nn::load_safetensors(t.dir.path + "/b/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors"));
}

TEST_CASE("mpi: 2 ranks of cfm_image --reflow --rounds 2 equal one process", "[mpi][cfm_image][reflow]") {
  if (!mpi_ready()) return;
  TinyTeacher t;
  const std::string b = t.second_root("b");
  const std::string opts = " --reflow " + t.ds + kModel + " --pairs 8 --reflow-iterations 3 --rounds 2 --threads 1";
  AppRun one = run_app("./apps/cfm_image" + opts + t.out);
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  AppRun two = run_app(mpirun(2) + "./apps/cfm_image" + opts + b);
  INFO(two.err);
  REQUIRE(two.exit_code == 0);
  auto fa = fc::nn::load_safetensors(t.dir.path + "/out/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(t.dir.path + "/b/reflow/" + pics_folder(t.dir.path) + "/ckpt.safetensors");
  // Each rank regresses its rows of the same batch; the gradients are averaged (see the
  // cfm_image MPI test for why the comparison is of the whole weights).
  const double whole = relative_l2_difference(fa, fb, "optim.");
  std::printf("[mpi] cfm_image --reflow 2 rounds of 3 iterations, 1 process vs 2 ranks: weights %.3g relative (L2)\n",
              whole);
  CHECK(whole <= 1e-5);
  CHECK(fa.metadata.at("rng_offset") == fb.metadata.at("rng_offset"));
  // The pairs were made once, by rank 0, the same as one process's.
  CHECK(read_bytes(t.cfm + "ckpt_pairs_x1.npy") ==
        read_bytes(t.dir.path + "/b/cfm/" + pics_folder(t.dir.path) + "/ckpt_pairs_x1.npy"));
}

TEST_CASE("cfm_image: garbage reflow options and a missing teacher give one line", "[app][cfm_image][reflow]") {
  struct Bad {
    std::string args, mention;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"--reflow mnist --pairs 0", "pairs"},
           {"--reflow mnist --rounds 0", "rounds"},
           {"--reflow mnist --teacher-steps 0", "teacher-steps"},
           {"--reflow mnist --reflow-iterations -1", "reflow-iterations"},
           {"--distill mnist --distill-iterations 0", "distill-iterations"},
           {"--reflow mnist --reflow-lr 0", "reflow-lr"},
           {"--reflow mnist --distill mnist --resume", "resume"},
           {"--reflow mnist --few-step cifar10", "different datasets"},
       }) {
    TempDir dir;
    AppRun r = run_app("./apps/cfm_image " + bad.args + " --data-root " + dir.path + "/data --output " + dir.path);
    INFO(bad.args << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(bad.mention) != std::string::npos);
  }
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  for (const char* mode : {"--reflow", "--distill", "--few-step"}) {
    AppRun r = run_app(std::string("./apps/cfm_image ") + mode + " folder:" + dir.path + "/pics --output " + dir.path +
                       "/out/cfm");
    INFO(mode << " -> " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("--train folder:") != std::string::npos);
  }
}
