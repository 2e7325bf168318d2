// What a checkpoint says it is, checked wherever it is used (issue 26, items 8 to 12):
// --resume refuses any change of what the run learns (coupling, σmin, the bridge's S,
// Sinkhorn's reg, the teacher and its settings), each with a positive control that the
// same options resume; --sample-only refuses a model of another density; compare2d refuses
// a model whose objective or coupling is not its row's; NaN weights are refused at load
// naming the file and the tensor; non-finite samples are an error, not a table of nulls;
// output folders of different files do not collide.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "app_runner.hpp"
#include "apps/cli/dataset_dir.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "datasets/npy.hpp"
#include "engine/random.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTrain = " --iterations 3 --batch-size 64 --hidden 16 --threads 2 --train-only";
const std::string kSample = " --samples 300 --no-plots --eval-points 20 --quality-points 200 --threads 2";

// A refusal: exit 1, and the last line (after the device and progress lines of a run
// that started) an error that names every one of `mentions`.
void check_refused(const AppRun& r, const std::vector<std::string>& mentions) {
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const std::string last = last_line(r.err);
  CHECK(last.find(": error: ") != std::string::npos);
  for (const std::string& m : mentions) CHECK(last.find(m) != std::string::npos);
}

}  // namespace

TEST_CASE("cfm2d --resume refuses a changed coupling, sigma-min, ot-block, sinkhorn-reg or sb-sigma",
          "[app][cfm2d][resume][hostile]") {
  TempDir dir;
  const std::string out = " --output " + dir.path + "/sinkhorn", ckpt = dir.path + "/sinkhorn/moons/ckpt.safetensors";
  AppRun first = run_app("./apps/cfm2d moons --coupling sinkhorn" + kTrain + out);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  struct Change {
    std::string options, mention;
  };
  for (const Change& c : std::vector<Change>{{" --coupling ot", "--coupling 'sinkhorn', this run 'ot'"},
                                             {" --coupling independent", "--coupling 'sinkhorn', this run 'independent'"},
                                             {" --coupling sinkhorn --sinkhorn-reg 0.1", "--sinkhorn-reg '0.05', this run '0.1'"},
                                             {" --coupling sinkhorn --sigma-min 0.01", "--sigma-min '0', this run '0.01'"},
                                             {" --coupling sinkhorn --ot-block 128", "--ot-block '256', this run '128'"}}) {
    AppRun r = run_app("./apps/cfm2d moons" + c.options + kTrain + " --iterations 5 --resume" + out);
    check_refused(r, {ckpt, c.mention});
  }
  // The checkpoint is untouched by the refusals, and the same options resume it.
  CHECK(fc::nn::load_safetensors(ckpt).metadata.at("iteration") == "3");
  AppRun same = run_app("./apps/cfm2d moons --coupling sinkhorn" + kTrain + " --iterations 5 --resume" + out);
  INFO(same.err);
  CHECK(same.exit_code == 0);
  CHECK(fc::nn::load_safetensors(ckpt).metadata.at("iteration") == "5");

  const std::string sb = " --output " + dir.path + "/sb";
  REQUIRE(run_app("./apps/cfm2d moons --coupling sb --sb-sigma 0.5" + kTrain + sb).exit_code == 0);
  check_refused(run_app("./apps/cfm2d moons --coupling sb --sb-sigma 1" + kTrain + " --iterations 5 --resume" + sb),
                {"--sb-sigma '0.5', this run '1'"});
  CHECK(run_app("./apps/cfm2d moons --coupling sb --sb-sigma 0.5" + kTrain + " --iterations 5 --resume" + sb).exit_code == 0);
}

TEST_CASE("reflow2d --resume refuses another teacher, --teacher-steps or --pairs; the same weights elsewhere resume",
          "[app][reflow2d][resume][hostile]") {
  TempDir dir;
  const std::string a = dir.path + "/a/moons/ckpt.safetensors", b = dir.path + "/b/moons/ckpt.safetensors";
  REQUIRE(run_app("./apps/cfm2d moons" + kTrain + " --output " + dir.path + "/a").exit_code == 0);
  REQUIRE(run_app("./apps/cfm2d moons" + kTrain + " --seed 1 --output " + dir.path + "/b").exit_code == 0);
  const std::string reflow = " --iterations 3 --batch-size 64 --threads 2 --train-only --output " + dir.path + "/r";
  AppRun first = run_app("./apps/reflow2d moons --pretrained " + a + reflow);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const std::string more = reflow + " --iterations 5 --resume";
  check_refused(run_app("./apps/reflow2d moons --pretrained " + b + more), {"--pretrained weights"});
  check_refused(run_app("./apps/reflow2d moons --pretrained " + a + " --teacher-steps 10" + more),
                {"--teacher-steps '20', this run '10'"});
  check_refused(run_app("./apps/reflow2d moons --pretrained " + a + " --pairs 1000" + more), {"--pairs '0', this run '1000'"});
  // The teacher is its weights, not its file name: a copy elsewhere resumes.
  fs::copy_file(a, dir.path + "/copy.safetensors");
  AppRun same = run_app("./apps/reflow2d moons --pretrained " + dir.path + "/copy.safetensors" + more);
  INFO(same.err);
  CHECK(same.exit_code == 0);
  CHECK(fc::nn::load_safetensors(dir.path + "/r/moons/ckpt.safetensors").metadata.at("iteration") == "5");
}

TEST_CASE("--sample-only refuses a model of another density; a file without metadata is taken on trust",
          "[app][cfm2d][reflow2d][hostile]") {
  TempDir dir;
  REQUIRE(run_app("./apps/cfm2d moons" + kTrain + " --output " + dir.path + "/cfm").exit_code == 0);
  fs::create_directories(dir.path + "/cfm/circles");
  fs::copy_file(dir.path + "/cfm/moons/ckpt.safetensors", dir.path + "/cfm/circles/ckpt.safetensors");
  check_refused(run_app("./apps/cfm2d circles --sample-only" + kSample + " --output " + dir.path + "/cfm"),
                {dir.path + "/cfm/circles/ckpt.safetensors", "trained on 'moons', not 'circles'"});
  fs::create_directories(dir.path + "/reflow/circles");
  fs::copy_file(dir.path + "/cfm/moons/ckpt.safetensors", dir.path + "/reflow/circles/ckpt.safetensors");
  check_refused(run_app("./apps/reflow2d circles --sample-only" + kSample + " --output " + dir.path + "/reflow"),
                {"trained on 'moons', not 'circles'"});
  fs::create_directories(dir.path + "/plain/circles");
  write_plain_mlp(dir.path + "/plain/circles/ckpt.safetensors");  // control: no metadata, no check
  AppRun plain = run_app("./apps/cfm2d circles --sample-only" + kSample + " --output " + dir.path + "/plain");
  INFO(plain.err);
  CHECK(plain.exit_code == 0);
}

TEST_CASE("compare2d refuses a checkpoint whose objective or coupling is not its row's", "[app][compare2d][hostile]") {
  TempDir dir;
  const std::string cfm = dir.path + "/cfm/moons/ckpt.safetensors", ot = dir.path + "/ot/moons/ckpt.safetensors",
                    reflow = dir.path + "/reflow/moons/ckpt.safetensors";
  REQUIRE(run_app("./apps/cfm2d moons" + kTrain + " --output " + dir.path + "/cfm").exit_code == 0);
  REQUIRE(run_app("./apps/cfm2d moons --coupling ot" + kTrain + " --output " + dir.path + "/ot").exit_code == 0);
  REQUIRE(run_app("./apps/reflow2d moons --pretrained " + cfm + " --iterations 3 --batch-size 64 --threads 2"
                  " --train-only --output " + dir.path + "/reflow").exit_code == 0);
  const std::string opts = " --points 200 --no-gif --threads 2 --output " + dir.path + "/cmp";
  check_refused(run_app("./apps/compare2d moons --cfm " + reflow + " --reflow " + reflow + opts),
                {reflow, "objective is 'reflow', not the CFM row's 'cfm'"});
  check_refused(run_app("./apps/compare2d moons --cfm " + cfm + " --reflow " + cfm + opts),
                {cfm, "objective is 'cfm', not the Reflow row's 'reflow'"});
  check_refused(run_app("./apps/compare2d moons --cfm " + ot + " --reflow " + reflow + opts),
                {ot, "coupling is 'ot', not the CFM row's 'independent'"});
  check_refused(run_app("./apps/compare2d moons --cfm " + cfm + " --reflow " + reflow + " --sinkhorn " + ot + opts),
                {ot, "coupling is 'ot', not the Sinkhorn-CFM row's 'sinkhorn'"});
  AppRun right = run_app("./apps/compare2d moons --cfm " + cfm + " --reflow " + reflow + " --ot " + ot + opts);
  INFO(right.err);
  CHECK(right.exit_code == 0);
}

TEST_CASE("NaN weights are refused at load naming file and tensor; non-finite samples are an error",
          "[app][cfm2d][reflow2d][compare2d][hostile]") {
  TempDir dir;
  const std::string good = dir.path + "/cfm/moons/ckpt.safetensors", bad = dir.path + "/nan/moons/ckpt.safetensors";
  REQUIRE(run_app("./apps/cfm2d moons" + kTrain + " --output " + dir.path + "/cfm").exit_code == 0);
  write_poisoned_checkpoint(good, bad, "layers.2.weight");
  const std::vector<std::string> names = {bad, "tensor 'layers.2.weight' holds nan"};
  check_refused(run_app("./apps/cfm2d moons --sample-only" + kSample + " --output " + dir.path + "/nan"), names);
  check_refused(run_app("./apps/cfm2d moons" + kTrain + " --iterations 5 --resume --output " + dir.path + "/nan"), names);
  check_refused(run_app("./apps/reflow2d moons --pretrained " + bad + " --iterations 3 --threads 2 --output " + dir.path + "/r"),
                names);
  check_refused(run_app("./apps/compare2d moons --cfm " + bad + " --reflow " + bad + " --points 200 --no-gif --output " +
                        dir.path + "/cmp"),
                names);

  // --score of a file with a NaN point: an error naming the file, not "null".
  fc::Tensor points = fc::Generator(5).normal(fc::Shape{100, 2});
  points.data()[37] = std::nanf("");
  fc::data::save_npy(dir.path + "/nan.npy", points);
  check_refused(run_app("./apps/cfm2d moons --score " + dir.path + "/nan.npy"),
                {dir.path + "/nan.npy", "1 of 100 points are not finite"});
  points.data()[37] = 0.5f;  // control: the same file finite scores
  fc::data::save_npy(dir.path + "/ok.npy", points);
  CHECK(run_app("./apps/cfm2d moons --score " + dir.path + "/ok.npy").exit_code == 0);

  // A model that loads (finite weights) but whose flow overflows: an error naming the
  // cause, where NaN metrics came with exit 0.
  write_poisoned_checkpoint(good, dir.path + "/huge/moons/ckpt.safetensors", "layers.0.weight", 3e38f);
  check_refused(run_app("./apps/cfm2d moons --sample-only" + kSample + " --output " + dir.path + "/huge"),
                {"not finite", "the flow blew up"});
}

TEST_CASE("output folders: different files never share one; named datasets keep their name",
          "[app][cfm2d][hostile]") {
  using fc::app::dataset_dir_name;
  CHECK(dataset_dir_name("checkerboard") == "checkerboard");
  CHECK(dataset_dir_name("points:a/ok.csv") != dataset_dir_name("points:b/ok.csv"));
  CHECK(dataset_dir_name("points:a/ok.csv").rfind("points_ok_csv_", 0) == 0);
  CHECK(dataset_dir_name("folder:pics/") == dataset_dir_name("folder:pics"));
  CHECK(dataset_dir_name("folder:\xc3\xa9t\xc3\xa9") != dataset_dir_name("folder:\xc3\xa8t\xc3\xa8"));
  CHECK(dataset_dir_name("folder:my pics") != dataset_dir_name("folder:my_pics"));
  CHECK(dataset_dir_name("image:a/ok.csv") != dataset_dir_name("points:a/ok.csv"));

  // End to end: two files of one base name train into two folders.
  TempDir dir;
  for (const char* sub : {"a", "b"}) {
    fs::create_directories(dir.path + "/" + sub);
    std::ofstream f(dir.path + "/" + sub + "/ok.csv");
    for (int i = 0; i < 50; ++i) f << i * 0.1 << "," << (sub[0] == 'a' ? 1 : -1) * i * 0.05 << "\n";
  }
  for (const char* sub : {"a", "b"}) {
    AppRun r = run_app(std::string("./apps/cfm2d points:") + dir.path + "/" + sub + "/ok.csv" + kTrain +
                       " --output " + dir.path + "/out");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  const std::string fa = dir.path + "/out/" + dataset_dir_name("points:" + dir.path + "/a/ok.csv"),
                    fb = dir.path + "/out/" + dataset_dir_name("points:" + dir.path + "/b/ok.csv");
  CHECK(fa != fb);
  CHECK(fc::nn::load_safetensors(fa + "/ckpt.safetensors").metadata.at("dataset") == "points:" + dir.path + "/a/ok.csv");
  CHECK(fc::nn::load_safetensors(fb + "/ckpt.safetensors").metadata.at("dataset") == "points:" + dir.path + "/b/ok.csv");
}
