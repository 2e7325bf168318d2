// Data-parallel training under mpirun (engine/dist.hpp, nn/data_parallel.hpp): the
// comm layer with one rank; 2 ranks of cfm2d equal one process at the same global
// batch; resuming across rank counts; bad batch splits refused before any work; a
// killed rank ends the run; SIGTERM stops every rank at one iteration with one
// checkpoint; replicas that drift apart stop the run. The mpirun tests skip, saying
// so, where mpirun or this build's MPI is missing.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app_runner.hpp"
#include "mpi_runner.hpp"
#include "apps/common/options.hpp"
#include "engine/dist.hpp"
#include "nn/data_parallel.hpp"
#include "nn/mlp.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kOpts =
    " --batch-size 64 --hidden 16 --no-plots --samples 200 --eval-points 20 --quality-points 100"
    " --checkpoint-every 0 --threads 1 --train-only --output ";

void require_same_run(const std::string& dir_a, const std::string& dir_b, const char* what,
                      double tolerance = 1e-5) {
  auto fa = fc::nn::load_safetensors(dir_a + "/moons/ckpt.safetensors");
  auto fb = fc::nn::load_safetensors(dir_b + "/moons/ckpt.safetensors");
  std::string where;
  double d = max_relative_difference(fa, fb, &where);  // parameters, AdamW moments and losses
  std::printf("[mpi] %s: largest relative difference of weights, moments and losses %.3g (%s)\n", what, d,
              where.c_str());
  CHECK(d <= tolerance);
  CHECK(fa.metadata.at("rng_offset") == fb.metadata.at("rng_offset"));
  CHECK(fa.metadata.at("iteration") == fb.metadata.at("iteration"));
}

}  // namespace

TEST_CASE("dist: one process is one rank and every collective the identity", "[dist]") {
  REQUIRE(fc::dist::size() == 1);
  REQUIRE(fc::dist::rank() == 0);
  REQUIRE(fc::dist::is_root());
  fc::dist::init();  // no launcher: starts nothing
  float f[3] = {1, 2, 3};
  fc::dist::all_reduce_sum(f, 3);
  CHECK(f[2] == 3);
  double m = 4;
  fc::dist::all_reduce_max(&m, 1);
  CHECK(m == 4);
  float g[3] = {0, 0, 0};
  fc::dist::gather(f, 3, g);
  CHECK(g[1] == 2);
  CHECK(fc::dist::any(true));
  CHECK_FALSE(fc::dist::any(false));
  fc::dist::Rows r = fc::dist::my_rows(10);
  CHECK(r.begin == 0);
  CHECK(r.end == 10);
  CHECK_NOTHROW(fc::app::require_batch_split("batch-size", 7));
}

TEST_CASE("data_parallel: the checksum sees one changed bit; one rank agrees with itself", "[dist]") {
  fc::Generator gen(3);
  fc::nn::MLPConfig c;
  c.hidden = 8;
  fc::nn::MLP mlp(c, gen);
  mlp.flatten_parameters();
  uint64_t before = fc::nn::parameter_checksum(mlp);
  CHECK(fc::nn::parameter_checksum(mlp) == before);
  float* p = mlp.flat_parameters().cpu_data();
  p[5] = std::nextafter(p[5], 1e9f);
  CHECK(fc::nn::parameter_checksum(mlp) != before);
  CHECK_NOTHROW(fc::nn::check_replicas_agree(mlp, 0));
  float* g = mlp.flat_gradients().cpu_data();
  g[0] = 2;
  fc::nn::average_gradients(mlp);  // one rank: unchanged
  CHECK(g[0] == 2);
}

TEST_CASE("mpi: 2 ranks of cfm2d equal one process at the same global batch", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir one, two;
  AppRun a = run_app("./apps/cfm2d moons --iterations 50" + kOpts + one.path);
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  // The 2-rank run goes on to sample and write everything (on rank 0).
  std::string full = kOpts.substr(0, kOpts.find(" --train-only")) + " --output ";
  AppRun b = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 50" + full + two.path);
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  require_same_run(one.path, two.path, "cfm2d 50 iterations, 1 process vs 2 ranks");
  // Rank 0 alone draws the bar and writes: one progress line, one "wrote".
  CHECK(b.err.find(" took ") == b.err.rfind(" took "));
  CHECK(b.err.find("cfm2d: wrote") == b.err.rfind("cfm2d: wrote"));
  CHECK(fs::exists(two.path + "/moons/samples.npy"));
}

TEST_CASE("mpi: 2 ranks of reflow2d (online pairs, 2 rounds) equal one process", "[mpi][reflow2d]") {
  if (!mpi_ready()) return;
  TempDir dir;
  REQUIRE(run_app("./apps/cfm2d moons --iterations 20" + kOpts + dir.path + "/cfm").exit_code == 0);
  // Each rank integrates the teacher on its own rows; round 2's teacher is round 1's
  // model, which rank 0 writes and every rank reads.
  const std::string reflow = " --pretrained " + dir.path + "/cfm/moons/ckpt.safetensors --iterations 20 --rounds 2"
                             " --teacher-steps 3 --batch-size 64" + kOpts.substr(kOpts.find(" --no-plots"));
  AppRun a = run_app("./apps/reflow2d moons" + reflow + dir.path + "/a");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  AppRun b = run_app(mpirun(2) + "./apps/reflow2d moons" + reflow + dir.path + "/b");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  // A student starts as its teacher and regresses the teacher's own flow: its loss is
  // about 5e-6 and its gradients are at rounding level, where AdamW's division by each
  // gradient's own size turns the two runs' different summation order into relative
  // differences of about 2e-5 (measured on the reference's moons); hence 1e-4 here.
  require_same_run(dir.path + "/a", dir.path + "/b", "reflow2d 2 rounds of 20 iterations, 1 process vs 2 ranks",
                   1e-4);
}

TEST_CASE("mpi: a batch that does not split over the ranks is refused before any work", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  struct Bad {
    int ranks;
    std::string batch;
  };
  for (const Bad& bad : {Bad{2, "63"}, Bad{3, "2"}, Bad{2, "1"}}) {
    TempDir dir;
    auto t0 = std::chrono::steady_clock::now();
    AppRun r = run_app(mpirun(bad.ranks) + "./apps/cfm2d moons --iterations 50 --batch-size " + bad.batch +
                       " --output " + dir.path);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(bad.ranks << " ranks, batch " << bad.batch << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("batch-size") != std::string::npos);
    CHECK(r.err.find(std::to_string(bad.ranks) + " ranks") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path + "/moons"));
    CHECK(seconds < 20);
  }
}

TEST_CASE("mpi: a checkpoint of 2 ranks resumes with 1 and the reverse, equal to one run", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir whole, cut2, cut1;
  REQUIRE(run_app("./apps/cfm2d moons --iterations 40" + kOpts + whole.path).exit_code == 0);
  // 2 ranks stop at 17 (the last rank is told; the other learns it), 1 rank finishes.
  AppRun c2 = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 40 --interrupt-at 17" + kOpts + cut2.path);
  INFO(c2.err);
  REQUIRE(c2.exit_code != 0);
  CHECK(fc::nn::load_safetensors(cut2.path + "/moons/ckpt.safetensors").metadata.at("iteration") == "17");
  CHECK(count_lines(c2.err) >= 1);
  REQUIRE(run_app("./apps/cfm2d moons --iterations 40 --resume" + kOpts + cut2.path).exit_code == 0);
  require_same_run(whole.path, cut2.path, "2 ranks to iteration 17, then 1 process");
  // 1 process stops at 23, 2 ranks finish.
  REQUIRE(run_app("./apps/cfm2d moons --iterations 40 --interrupt-at 23" + kOpts + cut1.path).exit_code == 130);
  AppRun r2 = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 40 --resume" + kOpts + cut1.path);
  INFO(r2.err);
  REQUIRE(r2.exit_code == 0);
  require_same_run(whole.path, cut1.path, "1 process to iteration 23, then 2 ranks");
}

// Starts mpirun with 2 ranks of a long cfm2d run in the background, waits until it has
// trained a little, does `action` (a shell command; $MPIRUN is mpirun's pid), and
// reports mpirun's exit code and the seconds from the action to mpirun's end.
struct Stopped {
  int exit_code = -1;
  double seconds = 1e9;
  std::string err;
};

Stopped stop_a_run(const std::string& dir, const std::string& action) {
  std::string log = dir + "/log.txt", out = dir + "/result.txt";
  std::string script =
      mpirun(2) + "./apps/cfm2d moons --iterations 100000000" + kOpts + dir + " 2> " + log + " & MPIRUN=$!\n" +
      "for i in $(seq 100); do grep -q 'train \\[' " + log + " && break; sleep 0.1; done\n"
      "sleep 0.5\n" +
      "start=$(date +%s.%N)\n" + action + "\n" +
      "wait $MPIRUN; rc=$?\n"
      "echo $rc $(echo \"$(date +%s.%N) - $start\" | bc) > " + out + "\n";
  write_bytes(dir + "/stop.sh", script);
  // The outer timeout turns a hang into a failure instead of a stuck test run.
  std::system(("timeout 120 bash " + dir + "/stop.sh").c_str());
  Stopped s;
  std::FILE* f = std::fopen(out.c_str(), "r");
  if (f) {
    if (std::fscanf(f, "%d %lf", &s.exit_code, &s.seconds) != 2) s.exit_code = -1;
    std::fclose(f);
  }
  s.err = read_bytes(log);
  return s;
}

TEST_CASE("mpi: a killed rank makes the run fail within a time limit", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir dir;
  // The ranks are mpirun's children; the last of them gets SIGKILL.
  Stopped s = stop_a_run(dir.path, "kill -9 $(pgrep -P $MPIRUN | tail -1)");
  INFO(s.err);
  CHECK(s.exit_code != 0);
  CHECK(s.exit_code != -1);
  CHECK(s.seconds < 30);
}

TEST_CASE("mpi: SIGTERM stops every rank at one iteration and rank 0 checkpoints", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir dir;
  // mpirun passes the signal to every rank (Ctrl-C on a terminal ends the same way).
  Stopped s = stop_a_run(dir.path, "kill -TERM $MPIRUN");
  INFO(s.err);
  CHECK(s.exit_code != 0);
  CHECK(s.seconds < 30);
  CHECK(s.err.find("interrupted at iteration") == s.err.rfind("interrupted at iteration"));
  REQUIRE(s.err.find("interrupted at iteration") != std::string::npos);
  auto f = fc::nn::load_safetensors(dir.path + "/moons/ckpt.safetensors");
  int64_t at = std::stoll(f.metadata.at("iteration"));
  CHECK(at > 0);
  CHECK(static_cast<int64_t>(f.find("train.losses")->numel()) == at);
  CHECK(s.err.find("interrupted at iteration " + std::to_string(at) + ";") != std::string::npos);
}

TEST_CASE("mpi: ranks whose parameters drift apart stop with an error naming the step", "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir dir;
  AppRun r = run_app(mpirun(2) + "-x FLOWCPP_TEST_DESYNC_AT=5 ./apps/cfm2d moons --iterations 120" + kOpts +
                     dir.path);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("differ at iteration 100") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path + "/moons/samples.npy"));
}
