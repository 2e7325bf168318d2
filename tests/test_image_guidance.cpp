// cfm_image --guidance-sweep on the tiny test dataset: the table, the plot and the
// samples exist, one row per w, finite values, the w = 0 row equals an ordinary
// evaluation with --guidance 0 on the same samples and seed, and w changes the images;
// garbage --guidance-values fail with one line naming the option.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app_runner.hpp"
#include "apps/cli/options.hpp"
#include "apps/image/guidance.hpp"
#include "mpi_runner.hpp"
#include "tiny_image_dataset.hpp"

namespace fs = std::filesystem;

TEST_CASE("cfm_image --guidance-sweep: one row per w, the w = 0 row is the evaluation at --guidance 0",
          "[app][cfm_image][guidance]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string ds = "folder:" + dir.path + "/pics";
  const std::string common = " --channels 32 --res-blocks 1 --threads 2 --checkpoint-every 0 --steps 2"
                             " --eval-samples 8 --classifier-epochs 1 --output " + dir.path + "/cfm";
  // Class dropout gives the model the null class that guidance needs.
  AppRun t = run_app("./apps/cfm_image --train " + ds + " --iterations 6 --batch-size 4 --class-drop 0.5" + common);
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  AppRun s = run_app("./apps/cfm_image --guidance-sweep " + ds + " --guidance-values 0,2,0.5" + common);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  const std::string stem = dir.path + "/comparisons/guidance_" + pics_folder(dir.path);
  for (const char* ext : {".json", ".md", ".png", "_samples.png"}) {
    INFO(ext);
    REQUIRE(fs::exists(stem + ext));
    CHECK(fs::file_size(stem + ext) > 100);
  }
  const nlohmann::json j = nlohmann::json::parse(read_bytes(stem + ".json"));
  REQUIRE(j["rows"].size() == 3);
  const std::vector<double> ws = {0, 2, 0.5};
  for (size_t i = 0; i < ws.size(); ++i) {
    const nlohmann::json& row = j["rows"][i];
    INFO(row.dump());
    CHECK(row["guidance"].get<double>() == ws[i]);
    for (const char* key : {"conditional_accuracy", "frechet_distance"}) {
      REQUIRE(row[key].is_number());  // NaN would have been written as null
      CHECK(std::isfinite(row[key].get<double>()));
    }
    CHECK(row["conditional_accuracy"].get<double>() >= 0);
    CHECK(row["conditional_accuracy"].get<double>() <= 1);
  }
  // The guidance scale reaches the sampler: w = 2 draws other images than w = 0.
  CHECK(j["rows"][1]["frechet_distance"].get<double>() != j["rows"][0]["frechet_distance"].get<double>());
  // The table: a header, its rule and one line per w.
  const std::string md = read_bytes(stem + ".md");
  size_t table_lines = 0;
  for (size_t at = 0; (at = md.find("\n|", at)) != std::string::npos; ++at) ++table_lines;
  CHECK(md.rfind("| guidance w |", 0) == 0);
  CHECK(table_lines == 1 + 3);  // the rule and three rows (the header starts the file)
  CHECK(md.find("| 0.5 |") != std::string::npos);

  // An ordinary evaluation at --guidance 0 with the same seed and sample count scores
  // the same images: the same numbers.
  AppRun e = run_app("./apps/cfm_image --eval " + ds + " --guidance 0 --nll-images 0" + common);
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  const nlohmann::json m = nlohmann::json::parse(read_bytes(dir.path + "/cfm/" + pics_folder(dir.path) + "/metrics.json"));
  CHECK(m["eval"]["conditional_accuracy"].get<double>() == j["rows"][0]["conditional_accuracy"].get<double>());
  CHECK(m["eval"]["frechet_distance"].get<double>() == j["rows"][0]["frechet_distance"].get<double>());
  CHECK(m["eval"]["frechet_distance_test_vs_test"].get<double>() ==
        j["frechet_distance_test_vs_test"].get<double>());

  // A model without the null class sweeps w = 0 alone; any other w is refused on one line.
  const std::string plain = " --channels 32 --res-blocks 1 --threads 2 --checkpoint-every 0 --steps 2"
                            " --eval-samples 8 --classifier-epochs 1 --output " + dir.path + "/plain/cfm";
  REQUIRE(run_app("./apps/cfm_image --train " + ds + " --iterations 1 --batch-size 2 --class-drop 0" + plain)
              .exit_code == 0);
  AppRun refused = run_app("./apps/cfm_image --guidance-sweep " + ds + " --guidance-values 0,1" + plain);
  CHECK(refused.exit_code == 1);
  CHECK(count_lines(refused.err) == 1);
  CHECK(refused.err.find("class dropout") != std::string::npos);
}

TEST_CASE("--guidance-values: garbage, duplicates and a misplaced option give one line naming it",
          "[app][cfm_image][guidance]") {
  for (const char* values : {"''", "abc", "1,,2", "0,1,", ",0", "0,1,0", "1,1.0", "nan", "inf", "1e9",
                                    "0.5x", "'0;1'"}) {
    TempDir dir;
    AppRun r = run_app(std::string("./apps/cfm_image --guidance-sweep mnist --guidance-values ") + values + " --data-root " +
                       dir.path + "/data --output " + dir.path);
    INFO(values << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("--guidance-values") != std::string::npos);
  }
  TempDir dir;
  AppRun r = run_app("./apps/cfm_image --train mnist --guidance-values 0,1 --data-root " + dir.path +
                     "/data --output " + dir.path);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find("--guidance-values") != std::string::npos);
  // The parser itself: the default list, order kept, and more than 32 values refused.
  CHECK(fc::app::parse_guidance_values("guidance-values", "0,0.5,1,2,4") == std::vector<double>{0, 0.5, 1, 2, 4});
  CHECK(fc::app::parse_guidance_values("guidance-values", "-1,3") == std::vector<double>{-1, 3});
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? "," : "") + std::to_string(i);
  CHECK_THROWS_AS(fc::app::parse_guidance_values("guidance-values", many), fc::app::UsageError);
}

TEST_CASE("mpi: the guidance sweep and the few-step table over 2 ranks equal one process's",
          "[mpi][cfm_image][guidance]") {
  if (!mpi_ready()) return;
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string ds = "folder:" + dir.path + "/pics";
  const std::string common = " --channels 32 --res-blocks 1 --threads 1 --checkpoint-every 0 --steps 2"
                             " --eval-samples 10 --classifier-epochs 1 --output " + dir.path + "/cfm";
  REQUIRE(run_app("./apps/cfm_image --train " + ds + " --iterations 4 --batch-size 4 --class-drop 0.5" + common)
              .exit_code == 0);
  const std::string modes = " --guidance-sweep " + ds + " --guidance-values 0,2 --few-step " + ds;
  const std::string stem = dir.path + "/comparisons/";
  AppRun one = run_app("./apps/cfm_image" + modes + common);
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  const nlohmann::json g1 = nlohmann::json::parse(read_bytes(stem + "guidance_" + pics_folder(dir.path) + ".json"));
  const nlohmann::json f1 = nlohmann::json::parse(read_bytes(stem + "few_step_" + pics_folder(dir.path) + ".json"));
  fs::remove(stem + "guidance_" + pics_folder(dir.path) + ".json");
  fs::remove(stem + "few_step_" + pics_folder(dir.path) + ".json");
  // The second run loads the classifier the first one trained: the scores differ only
  // by the images, each rank integrating its rows (10 images: 5 a rank).
  AppRun two = run_app(mpirun(2) + "./apps/cfm_image" + modes + common);
  INFO(two.err);
  REQUIRE(two.exit_code == 0);
  CHECK(two.err.find("wrote " + stem + "few_step_" + pics_folder(dir.path)) == two.err.rfind("wrote " + stem + "few_step"));
  const nlohmann::json g2 = nlohmann::json::parse(read_bytes(stem + "guidance_" + pics_folder(dir.path) + ".json"));
  const nlohmann::json f2 = nlohmann::json::parse(read_bytes(stem + "few_step_" + pics_folder(dir.path) + ".json"));
  double worst = 0;
  auto same = [&](const nlohmann::json& a, const nlohmann::json& b, const std::string& what) {
    INFO(what << ": 1 process " << a << ", 2 ranks " << b);
    REQUIRE(a.is_number());
    REQUIRE(b.is_number());
    const double x = a.get<double>(), y = b.get<double>();
    worst = std::max(worst, std::abs(x - y) / std::max(1e-12, std::abs(x)));
    CHECK(y == Approx(x).epsilon(1e-3).margin(1e-6));
  };
  REQUIRE(g1["rows"].size() == 2);
  REQUIRE(g2["rows"].size() == 2);
  for (size_t i = 0; i < 2; ++i)
    for (const char* key : {"conditional_accuracy", "frechet_distance"})
      same(g1["rows"][i][key], g2["rows"][i][key], "guidance row " + std::to_string(i) + " " + key);
  const nlohmann::json& c1 = f1["models"]["CFM"]["few_step"];
  const nlohmann::json& c2 = f2["models"]["CFM"]["few_step"];
  REQUIRE(c1.size() == 5);
  REQUIRE(c2.size() == 5);
  for (size_t i = 0; i < 5; ++i)
    for (const char* key : {"conditional_accuracy", "frechet_distance"})
      same(c1[i][key], c2[i][key], "few-step row " + std::to_string(i) + " " + key);
  std::printf("[mpi] cfm_image --guidance-sweep and --few-step, 1 process vs 2 ranks: largest relative score "
              "difference %.3g\n", worst);
}
