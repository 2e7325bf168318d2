// The example programs of examples/, built by `make test` against a staged install
// (DESTDIR, headers under include/flowcpp/, `pkg-config --cflags --libs flowcpp`), run
// with tiny settings as a user would run them; and make install / uninstall themselves.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "app_runner.hpp"
#include "datasets/npy.hpp"
#include "tiny_image_dataset.hpp"

namespace fs = std::filesystem;

namespace {

// The examples are built by `make test` (and `make examples`); a missing one is a failure
// that says how to build it, not a skip.
std::string example(const char* name) {
  std::string path = std::string("build/examples/") + name;
  INFO(path << " is missing: build it with `make examples` (make test does)");
  REQUIRE(fs::exists(path));
  return path;
}

}  // namespace

TEST_CASE("examples: a CFM on a density written in the example learns it", "[examples]") {
  TempDir dir;
  std::string out = dir.file("ring.npy");
  AppRun r = run_app(example("cfm_custom_density") +
                     " --iterations 400 --hidden 64 --batch-size 512 --samples 4000 --threads 2 --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  fc::Tensor x = fc::data::load_npy(out);
  REQUIRE(x.shape() == fc::Shape{4000, 2});
  // The ring has radius 3 (+- 0.1); N(0, I), where sampling starts, has mean radius 1.25.
  std::vector<float> v = x.to_vector();
  double mean_radius = 0;
  for (int64_t i = 0; i < 4000; ++i) mean_radius += std::hypot(v[2 * i], v[2 * i + 1]) / 4000;
  CHECK(mean_radius == Approx(3.0).margin(0.3));

  AppRun bad = run_app(example("cfm_custom_density") + " --iterations 0");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--iterations") != std::string::npos);
  CHECK(count_lines(bad.err) == 1);
}

TEST_CASE("examples: sample_class draws one class from a cfm_image checkpoint", "[examples]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  AppRun train = run_app("./apps/cfm_image --train folder:" + dir.path + "/pics --output " + dir.path +
                         "/out --iterations 4 --batch-size 4 --channels 32 --res-blocks 1"
                         " --threads 2 --checkpoint-every 0 --no-eval");
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  std::string ckpt = dir.path + "/out/" + pics_folder(dir.path) + "/ckpt.safetensors";
  REQUIRE(fs::exists(ckpt));

  std::string png = dir.file("rights.png");
  AppRun r = run_app(example("sample_class") + " " + ckpt + " --class 1 --count 3 --steps 2 --threads 2 --out " + png);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::file_size(png) > 60);
  fc::Tensor images = fc::data::load_npy(dir.file("rights.npy"));
  CHECK(images.shape() == fc::Shape{3, 3, 12, 12});  // folder: pictures load as RGB
  int non_finite = 0;
  for (float p : images.to_vector()) non_finite += !std::isfinite(p);
  CHECK(non_finite == 0);

  AppRun bad_class = run_app(example("sample_class") + " " + ckpt + " --class 2");
  CHECK(bad_class.exit_code == 2);
  CHECK(bad_class.err.find("--class") != std::string::npos);
  CHECK(count_lines(bad_class.err) == 1);

  AppRun missing = run_app(example("sample_class") + " " + dir.file("nope.safetensors"));
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.safetensors") != std::string::npos);
  CHECK(count_lines(missing.err) == 1);
}

TEST_CASE("make install puts the library, headers and flowcpp.pc under DESTDIR; uninstall removes them",
          "[examples][install]") {
  TempDir dir;
  // A make of its own, not a job of the make that runs the tests.
  const std::string make = "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory ";
  AppRun install = run_app(make + "install PREFIX=/opt/fc DESTDIR=" + dir.path);
  INFO(install.err);
  REQUIRE(install.exit_code == 0);
  const std::string root = dir.path + "/opt/fc";
  CHECK(fs::exists(root + "/lib/libflowcpp.a"));
  CHECK(fs::exists(root + "/include/flowcpp/engine/tensor.hpp"));
  CHECK(fs::exists(root + "/include/flowcpp/apps/image/flow.hpp"));
  std::string pc = read_bytes(root + "/lib/pkgconfig/flowcpp.pc");
  CHECK(pc.find("prefix=/opt/fc") != std::string::npos);
  CHECK(pc.find("-lflowcpp") != std::string::npos);
  CHECK(pc.find("-lopenblas") != std::string::npos);

  AppRun uninstall = run_app(make + "uninstall PREFIX=/opt/fc DESTDIR=" + dir.path);
  INFO(uninstall.err);
  REQUIRE(uninstall.exit_code == 0);
  CHECK_FALSE(fs::exists(root + "/lib/libflowcpp.a"));
  CHECK_FALSE(fs::exists(root + "/lib/pkgconfig/flowcpp.pc"));
  CHECK_FALSE(fs::exists(root + "/include/flowcpp"));
}
