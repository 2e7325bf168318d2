// cfm_image --sample-path: an image model sampled under another path than it was
// trained under, through the schedule transform (flow/scheduler.hpp) that cfm2d's
// --sample-path uses. The transform changes the path in between but not where it ends:
// from the same x0 the images at t = 1 agree to solver tolerance, those at t = 0.5 do not.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "app_runner.hpp"
#include "apps/image/flow.hpp"
#include "datasets/npy.hpp"
#include "engine/ops.hpp"
#include "tiny_image_dataset.hpp"

namespace {

double max_abs_difference(const fc::Tensor& a, const fc::Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(static_cast<double>(x[i]) - y[i]));
  return m;
}

}  // namespace

TEST_CASE("a UNet's images under the cosine path by the transform end where the condot path's do",
          "[cfm_image][scheduler]") {
  fc::Generator gen(11);
  fc::nn::UNetConfig cfg = fc::nn::UNetConfig::mnist(32);
  cfg.image_size = 8;
  cfg.num_res_blocks = 1;
  cfg.attention_resolutions = {4};
  fc::nn::UNet model(cfg, gen);
  model.train(false);
  // The zero-initialised output layer would make every velocity 0 (and any transform
  // of it too): perturb every weight, so that the field moves the images.
  for (auto& [name, p] : model.named_parameters()) p->copy_(gen.normal(p->shape(), 0.f, 0.1f));
  fc::Tensor labels = fc::Tensor::from_vector({1, 7}, fc::Shape{2});
  fc::Tensor x0 = gen.normal(fc::Shape{2, 1, 8, 8});
  fc::flow::OdeOptions ode;
  ode.method = fc::flow::Method::RK4;
  ode.step_size = 1.f / 50;
  fc::app::SamplePath own;  // condot under condot: the model's own velocity
  REQUIRE_FALSE(own.changes());
  auto run = [&](const fc::app::SamplePath& path) {
    fc::Generator unused(0);
    return fc::app::sample_images(model, unused, labels, {0.f, 0.5f, 1.f}, ode, 0.f, 100, nullptr, "", x0, path);
  };
  std::vector<fc::Tensor> condot = run(own);
  const double moved = max_abs_difference(condot[2], x0);
  INFO("the field moves the images by " << moved);
  REQUIRE(moved > 0.2);
  // (vp and linear-vp are left out: their σ goes to 0 like a square root at t = 1, so the
  // transform's ṡ grows like 1/(1 - t) there and a fixed-step solver that evaluates t = 1,
  // as rk4 does, lands far off; tests/test_scheduler.cpp checks their transform inside.)
  for (const char* target : {"cosine", "poly:2"}) {
    fc::app::SamplePath p;
    p.sampled = fc::flow::Scheduler::parse(target);
    REQUIRE(p.changes());
    std::vector<fc::Tensor> other = run(p);
    const double end = max_abs_difference(other[2], condot[2]), middle = max_abs_difference(other[1], condot[1]);
    INFO(target << ": at t = 1 the images differ by " << end << ", at t = 0.5 by " << middle);
    CHECK(end < 2e-3 * moved);
    CHECK(middle > 0.05 * moved);  // another path in between: the transform is not the identity
  }
}

TEST_CASE("cfm_image --sample-path cosine on a condot model: the same images; the checkpoint's path by default",
          "[app][cfm_image][scheduler]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string ds = "folder:" + dir.path + "/pics";
  const std::string common = " --channels 32 --res-blocks 1 --samples-per-class 2 --frames 2 --threads 2"
                             " --checkpoint-every 0 --output " + dir.path + "/out";
  // Enough training (lr 5e-3) that the model moves its images well away from x0.
  AppRun t = run_app("./apps/cfm_image --train " + ds + " --iterations 20 --batch-size 4 --lr 5e-3" + common);
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  const std::string d = dir.path + "/out/" + pics_folder(dir.path) + "/";
  auto sample = [&](const std::string& opts) {
    AppRun r = run_app("./apps/cfm_image --sample " + ds + " --no-eval" + opts + common);
    INFO(opts << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    return std::make_pair(fc::data::load_npy(d + "samples.npy"), read_bytes(d + "metrics.json"));
  };
  const std::string fine = " --method rk4 --steps 16", coarse = " --method euler --steps 2";
  auto [own, own_metrics] = sample(fine);
  CHECK(own_metrics.find("\"sample_path\": \"condot\"") != std::string::npos);  // the default
  auto [cosine, cosine_metrics] = sample(fine + " --sample-path cosine");
  CHECK(cosine_metrics.find("\"sample_path\": \"cosine\"") != std::string::npos);
  const double fine_gap = max_abs_difference(cosine, own);
  // Two coarse Euler steps see the two paths' curvature: the gap the fine solver closes.
  auto [coarse_own, m1] = sample(coarse);
  auto [coarse_cosine, m2] = sample(coarse + " --sample-path cosine");
  const double coarse_gap = max_abs_difference(coarse_cosine, coarse_own);
  INFO("cosine vs condot: " << fine_gap << " (rk4, 16 steps), " << coarse_gap << " (euler, 2 steps)");
  CHECK(fine_gap < 1e-3);
  CHECK(coarse_gap > 20 * fine_gap);
  CHECK(coarse_gap > 0.01);
  // Naming the checkpoint's own path is the default, bit for bit.
  auto [named, m3] = sample(coarse + " --sample-path condot");
  CHECK(named.to_vector() == coarse_own.to_vector());

  // The evaluation (samples and bits/dim) runs under the transformed path too.
  AppRun e = run_app("./apps/cfm_image --eval " + ds + " --sample-path cosine --steps 4 --eval-samples 6"
                     " --nll-images 2 --classifier-epochs 1" + common);
  INFO(e.err);
  REQUIRE(e.exit_code == 0);
  const std::string m = read_bytes(d + "metrics.json");
  CHECK(m.find("\"sample_path\": \"cosine\"") != std::string::npos);
  CHECK(m.find("\"bits_per_dim\"") != std::string::npos);
  CHECK(m.find("null") == std::string::npos);  // every number finite (nlohmann writes NaN as null)

  // A condot model with σmin > 0 has no transform to another path: one line naming it.
  const std::string smin = " --channels 32 --res-blocks 1 --threads 2 --checkpoint-every 0 --output " + dir.path + "/smin";
  REQUIRE(run_app("./apps/cfm_image --train " + ds + " --iterations 1 --batch-size 2 --sigma-min 0.1" + smin).exit_code == 0);
  AppRun refused = run_app("./apps/cfm_image --sample " + ds + " --no-eval --sample-path cosine" + smin);
  CHECK(refused.exit_code == 1);
  CHECK(count_lines(refused.err) == 1);
  CHECK(refused.err.find("sigma_min 0.1") != std::string::npos);
}

TEST_CASE("cfm_image --sample-path: garbage and misplaced values give one line naming the option",
          "[app][cfm_image][scheduler]") {
  for (const std::string& args :
       {std::string("--sample mnist --sample-path cosin"), std::string("--sample mnist --sample-path poly:0"),
        std::string("--sample mnist --sample-path ''"), std::string("--train mnist --sample-path cosine")}) {
    TempDir dir;
    AppRun r = run_app("./apps/cfm_image " + args + " --data-root " + dir.path + "/data --output " + dir.path);
    INFO(args << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("--sample-path") != std::string::npos);
  }
}
