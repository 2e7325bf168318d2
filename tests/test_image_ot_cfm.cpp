// OT-CFM on images (cfm_image --train --coupling ot): the coupling pairs each noise
// image with a permutation of the batch's images (labels moving with them) of minimum
// total squared distance; a tiny training run records it, --resume keeps it, the
// few-step table gains its row; garbage values fail with one line naming the option.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <nlohmann/json.hpp>

#include "app_runner.hpp"
#include "apps/image/train.hpp"
#include "engine/ops.hpp"
#include "mpi_runner.hpp"
#include "tiny_image_dataset.hpp"

namespace fs = std::filesystem;

namespace {

double row_distance(const std::vector<float>& a, size_t i, const std::vector<float>& b, size_t j, size_t d) {
  double s = 0;
  for (size_t k = 0; k < d; ++k) s += (double(a[i * d + k]) - b[j * d + k]) * (double(a[i * d + k]) - b[j * d + k]);
  return s;
}

}  // namespace

TEST_CASE("couple_images ot: a permutation of the batch, labels with their images, the least total distance",
          "[cfm_image][coupling]") {
  fc::Generator gen(21);
  const size_t n = 7, d = 2 * 5 * 5;
  fc::Tensor x0 = gen.normal(fc::Shape{7, 2, 5, 5}), x1 = gen.normal(fc::Shape{7, 2, 5, 5}, 0.5f, 1.f);
  std::vector<float> ids(n);
  std::iota(ids.begin(), ids.end(), 0.f);  // label i marks image i
  fc::Tensor y = fc::Tensor::from_vector(ids, fc::Shape{7});
  fc::Tensor x1c = x1, yc = y;
  fc::flow::CouplingOptions ot;
  ot.kind = fc::flow::Coupling::ot;
  fc::app::couple_images(x0, x1c, yc, ot, gen);
  REQUIRE(x1c.shape() == x1.shape());
  std::vector<float> a = x0.to_vector(), b = x1.to_vector(), bc = x1c.to_vector(), p = yc.to_vector();
  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = static_cast<size_t>(p[i]);
  // A permutation, and each row is the image its label names.
  std::vector<size_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < n; ++i) CHECK(sorted[i] == i);
  for (size_t i = 0; i < n; ++i)
    CHECK(std::equal(bc.begin() + i * d, bc.begin() + (i + 1) * d, b.begin() + perm[i] * d));
  // Its total squared distance is below the identity's and the least of all 7! pairings.
  double coupled = 0, identity = 0;
  for (size_t i = 0; i < n; ++i) {
    coupled += row_distance(a, i, b, perm[i], d);
    identity += row_distance(a, i, b, i, d);
  }
  std::vector<size_t> q(n);
  std::iota(q.begin(), q.end(), size_t{0});
  double best = INFINITY;
  do {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += row_distance(a, i, b, q[i], d);
    best = std::min(best, s);
  } while (std::next_permutation(q.begin(), q.end()));
  INFO("total squared distance: coupled " << coupled << ", identity " << identity << ", best " << best);
  CHECK(coupled < identity);
  CHECK(coupled == Approx(best).epsilon(1e-12));
  // independent leaves both alone.
  fc::Tensor x1i = x1, yi = y;
  fc::app::couple_images(x0, x1i, yi, fc::flow::CouplingOptions(), gen);
  CHECK(x1i.to_vector() == b);
  CHECK(yi.to_vector() == ids);
}

TEST_CASE("cfm_image --coupling ot: trains into outputs/ot_cfm, resumes only as ot, a row of the few-step table",
          "[app][cfm_image][coupling]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string exe = (fs::current_path() / "apps/cfm_image").string();
  const std::string ds = "folder:" + dir.path + "/pics";
  // In the scratch folder, so that the default output roots (outputs/cfm, outputs/ot_cfm) are its own.
  const std::string in_dir = "cd " + dir.path + " && " + exe;
  const std::string opts = " --iterations 3 --batch-size 4 --channels 32 --res-blocks 1 --threads 2 --checkpoint-every 0";
  AppRun ot = run_app(in_dir + " --train " + ds + " --coupling ot" + opts);
  INFO(ot.err);
  REQUIRE(ot.exit_code == 0);
  const std::string ot_ckpt = dir.path + "/outputs/ot_cfm/" + pics_folder(dir.path) + "/ckpt.safetensors";
  REQUIRE(fs::exists(ot_ckpt));
  CHECK(fc::nn::load_safetensors(ot_ckpt).metadata.at("coupling") == "ot");
  CHECK(fc::nn::load_safetensors(ot_ckpt).find("train.losses")->numel() == 3);
  // --resume under the other coupling is refused on one line; under ot it continues.
  AppRun wrong = run_app(in_dir + " --train " + ds + opts + " --output outputs/ot_cfm --resume --iterations 4");
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("coupling 'ot'") != std::string::npos);
  AppRun right = run_app(in_dir + " --train " + ds + " --coupling ot" + opts + " --resume --iterations 4");
  INFO(right.err);
  CHECK(right.exit_code == 0);
  // The CFM model, then the few-step table: a row for each.
  AppRun cfm = run_app(in_dir + " --train " + ds + opts);
  INFO(cfm.err);
  REQUIRE(cfm.exit_code == 0);
  CHECK(fc::nn::load_safetensors(dir.path + "/outputs/cfm/" + pics_folder(dir.path) + "/ckpt.safetensors").metadata.at("coupling") ==
        "independent");
  AppRun table = run_app(in_dir + " --few-step " + ds + " --eval-samples 4 --classifier-epochs 1 --threads 2");
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(read_bytes(dir.path + "/outputs/comparisons/few_step_" + pics_folder(dir.path) + ".json"));
  REQUIRE(j["models"].contains("CFM"));
  REQUIRE(j["models"].contains("OT-CFM"));
  CHECK(j["models"]["OT-CFM"]["checkpoint"].get<std::string>().find("ot_cfm") != std::string::npos);
  CHECK(j["models"]["OT-CFM"]["few_step"].size() == 5);
  CHECK(read_bytes(dir.path + "/outputs/comparisons/few_step_" + pics_folder(dir.path) + ".md").find("| OT-CFM |") != std::string::npos);
}

TEST_CASE("mpi: 2 ranks of cfm_image --coupling ot equal one process (the whole batch paired on every rank)",
          "[mpi][cfm_image][coupling]") {
  if (!mpi_ready()) return;
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string ds = "folder:" + dir.path + "/pics";
  // 64 channels for the reason given in test_cfm_image.cpp's MPI test.
  const std::string opts = " --coupling ot --iterations 4 --batch-size 4 --channels 64 --res-blocks 1 --threads 1"
                           " --checkpoint-every 0 --class-drop 0.5";
  const OneAndTwoRanks runs = train_cfm_image_on_one_and_two_ranks(ds, opts, dir.path);
  CHECK(relative_l2_difference(runs.one, runs.two, "optim.") <= 1e-5);
}

TEST_CASE("cfm_image --coupling: garbage and misplaced values give one line naming the option",
          "[app][cfm_image][coupling]") {
  for (const char* args : {"--train mnist --coupling sinkhorn", "--train mnist --coupling sb",
                           "--train mnist --coupling OT", "--train mnist --coupling ''",
                           "--sample mnist --coupling ot"}) {
    TempDir dir;
    AppRun r = run_app(std::string("./apps/cfm_image ") + args + " --data-root " + dir.path + "/data --output " +
                       dir.path);
    INFO(args << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("--coupling") != std::string::npos);
  }
}
