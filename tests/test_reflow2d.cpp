// apps/reflow2d, apps/compare2d and cfm2d's OT couplings end to end: tiny runs write
// every output; reflowing makes the flow straighter than its teacher; Ctrl-C and
// --resume (also in a later round) equal an uninterrupted run; offline pairs are
// deterministic for a seed; a missing or mismatched pretrained model and garbage options
// give one line.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app_runner.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kPlots = " --samples 500 --gif-samples 200 --frames 5 --grid 8 --eval-points 50 --quality-points 300 --steps 4 --threads 2";
const std::string kNoPlots = " --no-plots --samples 200 --eval-points 20 --quality-points 200 --threads 2";

// A small CFM teacher on moons in dir/cfm/moons/ckpt.safetensors.
void train_teacher(const std::string& dir, int iterations = 300) {
  AppRun r = run_app("./apps/cfm2d moons --iterations " + std::to_string(iterations) +
                     " --batch-size 256 --hidden 32" + kNoPlots + " --output " + dir + "/cfm");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::string pretrained(const std::string& dir) { return " --pretrained " + dir + "/cfm/moons/ckpt.safetensors"; }

}  // namespace

TEST_CASE("reflow2d and compare2d: tiny runs write every output; reflow is straighter", "[app][reflow2d]") {
  TempDir dir;
  train_teacher(dir.path);
  AppRun r = run_app("./apps/reflow2d moons --iterations 300 --batch-size 256" + kPlots + pretrained(dir.path) +
                     " --output " + dir.path + "/reflow");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string d = dir.path + "/reflow/moons/";
  for (const char* f : {"ckpt.safetensors", "losses.csv", "losses.png", "samples.npy", "metrics.json",
                        "ode_sampling_evolution_moons.png", "vector_field_and_samples_moons.gif",
                        "likelihood_moons.png"}) {
    INFO(f);
    CHECK(fs::exists(d + f));
  }
  nlohmann::json reflow = read_json(d + "metrics.json");
  nlohmann::json cfm = read_json(dir.path + "/cfm/moons/metrics.json");
  REQUIRE(reflow["few_step"].size() == 5);
  // Distilling the teacher's coupling straightens the paths and makes one Euler step good.
  double s_cfm = cfm["straightness"], s_reflow = reflow["straightness"];
  CHECK(s_reflow < 0.5 * s_cfm);
  CHECK(reflow["few_step"][0]["energy_distance"].get<double>() <
        cfm["few_step"][0]["energy_distance"].get<double>());

  AppRun c = run_app("./apps/compare2d moons --samples 300 --frames 4 --points 500 --threads 2 --cfm " + dir.path +
                     "/cfm/moons/ckpt.safetensors --reflow " + d + "ckpt.safetensors --output " + dir.path + "/cmp");
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  for (const char* f : {"cfm_reflow_moons.gif", "few_step_moons.png", "few_step_moons.json", "few_step_moons.md"}) {
    INFO(f);
    CHECK(fs::file_size(dir.path + "/cmp/" + f) > 100);
  }
  nlohmann::json table = read_json(dir.path + "/cmp/few_step_moons.json");
  CHECK(table["models"].contains("CFM"));
  CHECK(table["models"]["Reflow"]["straightness"].get<double>() < table["models"]["CFM"]["straightness"].get<double>());
}

TEST_CASE("reflow2d: interrupt and --resume equal an uninterrupted run, also in round 2", "[app][reflow2d]") {
  TempDir dir;
  train_teacher(dir.path, 20);
  const std::string opts = " --iterations 12 --batch-size 64 --rounds 2 --teacher-steps 3 --checkpoint-every 0" +
                           kNoPlots + pretrained(dir.path) + " --output ";
  AppRun whole = run_app("./apps/reflow2d moons" + opts + dir.path + "/a");
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  AppRun cut = run_app("./apps/reflow2d moons" + opts + dir.path + "/b --interrupt-at 5");
  INFO(cut.err);
  REQUIRE(cut.exit_code == 130);
  CHECK(fs::exists(dir.path + "/b/moons/round1.safetensors"));
  AppRun rest = run_app("./apps/reflow2d moons" + opts + dir.path + "/b --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  auto fa = fc::nn::load_safetensors(dir.path + "/a/moons/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(dir.path + "/b/moons/ckpt.safetensors");
  require_same_tensors(fa, fb);
  CHECK(fa.metadata.at("round") == "2");
  CHECK(fb.metadata.at("round") == "2");
}

TEST_CASE("reflow2d: offline pairs are deterministic for a seed", "[app][reflow2d]") {
  TempDir dir;
  train_teacher(dir.path, 20);
  const std::string opts = " --iterations 10 --batch-size 64 --pairs 500 --teacher-steps 3" + kNoPlots +
                           pretrained(dir.path) + " --output ";
  for (const char* out : {"/a", "/b"}) {
    AppRun r = run_app("./apps/reflow2d moons" + opts + dir.path + out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  AppRun other = run_app("./apps/reflow2d moons --seed 3" + opts + dir.path + "/c");
  REQUIRE(other.exit_code == 0);
  auto a = fc::nn::load_safetensors(dir.path + "/a/moons/ckpt.safetensors");
  require_same_tensors(a, fc::nn::load_safetensors(dir.path + "/b/moons/ckpt.safetensors"));
  auto c = fc::nn::load_safetensors(dir.path + "/c/moons/ckpt.safetensors");
  CHECK(a.tensors[0].tensor.to_vector() != c.tensors[0].tensor.to_vector());
}

TEST_CASE("reflow2d: a missing or mismatched pretrained model gives one line", "[app][reflow2d]") {
  TempDir dir;
  AppRun missing = run_app("./apps/reflow2d moons" + kNoPlots + " --pretrained " + dir.path + "/none.safetensors");
  CHECK(missing.exit_code == 1);
  CHECK(count_lines(missing.err) == 1);
  CHECK(missing.err.find("none.safetensors") != std::string::npos);
  CHECK(missing.err.find("./apps/cfm2d moons") != std::string::npos);  // names the command that makes it

  train_teacher(dir.path, 5);
  AppRun other = run_app("./apps/reflow2d checkerboard" + kNoPlots + pretrained(dir.path));
  CHECK(other.exit_code == 1);
  CHECK(count_lines(other.err) == 1);
  CHECK(other.err.find("trained on 'moons'") != std::string::npos);

  write_bytes(dir.path + "/junk.safetensors", "not a checkpoint");
  AppRun junk = run_app("./apps/reflow2d moons" + kNoPlots + " --pretrained " + dir.path + "/junk.safetensors");
  CHECK(junk.exit_code == 1);
  CHECK(count_lines(junk.err) == 1);
  CHECK(junk.err.find("junk.safetensors") != std::string::npos);

  AppRun cmp = run_app("./apps/compare2d moons --cfm " + dir.path + "/cfm/moons/ckpt.safetensors --reflow " +
                       dir.path + "/none.safetensors --output " + dir.path + "/cmp");
  CHECK(cmp.exit_code == 1);
  CHECK(count_lines(cmp.err) == 1);
  CHECK(cmp.err.find("./apps/reflow2d moons") != std::string::npos);
}

TEST_CASE("reflow2d and compare2d take checkpoints without metadata (the reference's, converted)",
          "[app][reflow2d][checkpoint]") {
  TempDir dir;
  const std::string teacher = dir.file("teacher.safetensors");
  write_plain_mlp(teacher);
  AppRun r = run_app("./apps/reflow2d moons --iterations 20 --batch-size 64" + kNoPlots + " --pretrained " + teacher +
                     " --output " + dir.path + "/reflow");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string student = dir.path + "/reflow/moons/ckpt.safetensors";
  auto f = fc::nn::load_safetensors(student);
  CHECK(f.metadata.at("hidden") == "16");  // the teacher's width, read off its shapes
  CHECK(f.metadata.at("teacher_path") == "condot");
  AppRun cmp = run_app("./apps/compare2d moons --no-gif --points 200 --threads 2 --cfm " + teacher + " --reflow " +
                       student + " --output " + dir.path + "/cmp");
  INFO(cmp.err);
  REQUIRE(cmp.exit_code == 0);
  nlohmann::json out = read_json(dir.path + "/cmp/few_step_moons.json");
  CHECK(out["models"]["CFM"]["checkpoint"] == teacher);
  CHECK(out["models"]["Reflow"]["few_step"].size() == 5);
}

TEST_CASE("reflow2d and compare2d: garbage options give one line naming the option", "[app][reflow2d]") {
  struct Bad {
    std::string program, args, mention;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"reflow2d", "moons --pairs -1", "pairs"},
           {"reflow2d", "moons --pairs lots", "pairs"},
           {"reflow2d", "moons --rounds 0", "rounds"},
           {"reflow2d", "moons --teacher-steps 0", "teacher-steps"},
           {"reflow2d", "moons --iterations 0", "iterations"},
           {"reflow2d", "moons --batch-size -3", "batch-size"},
           {"reflow2d", "moons --lr 0", "lr"},
           {"reflow2d", "moons --preset slow", "preset"},
           {"reflow2d", "moons --method leapfrog", "method"},
           {"reflow2d", "moons --resume --sample-only", "resume"},
           {"reflow2d", "", "DATASET"},
           {"reflow2d", "nosuchdensity", "checkerboard"},
           {"compare2d", "moons --frames 1", "frames"},
           {"compare2d", "moons --points 1", "points"},
           {"compare2d", "moons --ot /nonexistent/ot.safetensors", "ot"},
           {"compare2d", "moons --bogus", "bogus"},
           {"compare2d", "", "DATASET"},
       }) {
    TempDir dir;
    AppRun r = run_app("./apps/" + bad.program + " " + bad.args + " --output " + dir.path);
    INFO(bad.program << " " << bad.args << " -> " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find(bad.mention) != std::string::npos);
    CHECK(r.err.find(bad.program + ": error:") == 0);
  }
}

TEST_CASE("cfm2d --coupling ot and sinkhorn train and say so", "[app][cfm2d][coupling]") {
  TempDir dir;
  for (const char* coupling : {"ot", "sinkhorn"}) {
    AppRun r = run_app(std::string("./apps/cfm2d moons --iterations 5 --batch-size 128 --ot-block 64 --hidden 16 --coupling ") +
                       coupling + kNoPlots + " --output " + dir.path + "/" + coupling);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    nlohmann::json m = read_json(dir.path + "/" + coupling + "/moons/metrics.json");
    CHECK(m["config"]["coupling"] == coupling);
    auto f = fc::nn::load_safetensors(dir.path + "/" + coupling + "/moons/ckpt.safetensors");
    CHECK(f.metadata.at("coupling") == coupling);
  }
}
