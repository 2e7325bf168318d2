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
#include "apps/cli/options.hpp"
#include "datasets/npy.hpp"
#include "engine/dist.hpp"
#include "mpi_runner.hpp"
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
  // Both runs go on to sample and write everything: the 2 ranks split the sampling and
  // the straightness and few-step trajectories, and rank 0 gathers them.
  std::string full = kOpts.substr(0, kOpts.find(" --train-only")) + " --output ";
  AppRun a = run_app("./apps/cfm2d moons --iterations 50" + full + one.path);
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  AppRun b = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 50" + full + two.path);
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  require_same_run(one.path, two.path, "cfm2d 50 iterations, 1 process vs 2 ranks");
  // Rank 0 alone draws the bar and writes: one progress line, one "wrote".
  CHECK(b.err.find(" took ") == b.err.rfind(" took "));
  CHECK(b.err.find("cfm2d: wrote") == b.err.rfind("cfm2d: wrote"));
  CHECK(b.err.find("over 2 ranks") != std::string::npos);
  // The samples are one process's (the same x0, the same model to 2e-7: the
  // difference left is the training's reduction order).
  fc::Tensor sa = fc::data::load_npy(one.path + "/moons/samples.npy");
  fc::Tensor sb = fc::data::load_npy(two.path + "/moons/samples.npy");
  REQUIRE(sa.shape() == sb.shape());
  std::vector<float> va = sa.to_vector(), vb = sb.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(va[i]) - vb[i]));
    scale = std::max(scale, std::abs(static_cast<double>(va[i])));
  }
  std::printf("[mpi] cfm2d samples, 1 process vs 2 ranks: largest difference %.3g of %.3g\n", diff, scale);
  CHECK(diff <= 1e-5 * scale);
  nlohmann::json ma = read_json(one.path + "/moons/metrics.json"), mb = read_json(two.path + "/moons/metrics.json");
  CHECK(mb["straightness"].get<double>() == Approx(ma["straightness"].get<double>()).epsilon(1e-5));
  REQUIRE(mb["few_step"].size() == ma["few_step"].size());
  for (size_t i = 0; i < ma["few_step"].size(); ++i)
    CHECK(mb["few_step"][i]["energy_distance"].get<double>() ==
          Approx(ma["few_step"][i]["energy_distance"].get<double>()).epsilon(1e-5));
}

TEST_CASE("mpi: compare2d over 2 ranks writes one process's table and animation", "[mpi][compare2d]") {
  if (!mpi_ready()) return;
  TempDir dir;
  REQUIRE(run_app("./apps/cfm2d moons --iterations 20" + kOpts + dir.path + "/cfm").exit_code == 0);
  const std::string ckpt = dir.path + "/cfm/moons/ckpt.safetensors";
  REQUIRE(run_app("./apps/reflow2d moons --pretrained " + ckpt + " --iterations 10 --batch-size 64 --teacher-steps 3" +
                  kOpts.substr(kOpts.find(" --no-plots")) + dir.path + "/reflow")
              .exit_code == 0);
  const std::string cmp = "./apps/compare2d moons --cfm " + ckpt + " --reflow " + dir.path +
                          "/reflow/moons/ckpt.safetensors --points 301 --samples 201 --frames 3 --threads 1 --output ";
  AppRun a = run_app(cmp + dir.path + "/a");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  AppRun b = run_app(mpirun(2) + cmp + dir.path + "/b");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  // The same models and x0: only the straightness's summation order differs (it
  // sums in float within each rank).
  nlohmann::json ja = read_json(dir.path + "/a/few_step_moons.json"), jb = read_json(dir.path + "/b/few_step_moons.json");
  for (const char* model : {"CFM", "Reflow"}) {
    const auto &ra = ja["models"][model], &rb = jb["models"][model];
    CHECK(rb["straightness"].get<double>() == Approx(ra["straightness"].get<double>()).epsilon(1e-6));
    REQUIRE(ra["few_step"].size() == rb["few_step"].size());
    // Not bit-identical: each rank runs the MLP on its own rows, and OpenBLAS picks its
    // sgemm kernel and blocking by the matrix's row count, so a sample can differ in the
    // last float bit (seen: 0.2392567 vs 0.2392567004). 1e-6 is far above that, far
    // below any real difference between the two runs.
    for (size_t i = 0; i < ra["few_step"].size(); ++i)
      CHECK(rb["few_step"][i]["energy_distance"].get<double>() ==
            Approx(ra["few_step"][i]["energy_distance"].get<double>()).epsilon(1e-6));
  }
  CHECK(read_bytes(dir.path + "/a/cfm_reflow_moons.gif") == read_bytes(dir.path + "/b/cfm_reflow_moons.gif"));
  CHECK(b.err.find("compare2d: wrote") == b.err.rfind("compare2d: wrote"));
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

// GPU ranks, on the emulated device (build/emulated/*, which make test builds): two
// CUDA ranks average their gradients through (emulated) NCCL on the device, never
// waiting for it, and equal one CPU process; ranks on different devices are refused
// before any work.
TEST_CASE("mpi: 2 CUDA ranks (emulated) equal one CPU process; mixed devices are refused", "[mpi][cuda]") {
  if (!mpi_ready()) return;
  const std::string emulated = "./build/emulated/cfm2d";
  REQUIRE(fs::exists(emulated));
  TempDir cpu, gpu, mixed;
  REQUIRE(run_app("./apps/cfm2d moons --iterations 20 --device cpu" + kOpts + cpu.path).exit_code == 0);
  AppRun g = run_app(mpirun(2) + emulated + " moons --iterations 20 --device cuda" + kOpts + gpu.path);
  INFO(g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.err.find("device CUDA: emulated") != std::string::npos);
  CHECK(g.err.find("cfm2d: 2 ranks; gradients averaged by NCCL (emulated, over MPI)") != std::string::npos);
  // The all-reduce is queued on the device's stream: no step but the loss read waits
  // (staging through host memory would wait for every step's gradients).
  CHECK(g.err.find("the host waited for the device 0 times in 19 steady training steps") != std::string::npos);
  // The emulated device's kernels sum in another order than the CPU's (5e-7 over 20
  // iterations on one rank, tests/test_cuda_apps.cpp).
  require_same_run(cpu.path, gpu.path, "cfm2d 20 iterations, 1 CPU process vs 2 emulated CUDA ranks", 1e-5);

  // MPMD: rank 0 on the CPU, rank 1 on the (emulated) GPU.
  const std::string args = " moons --iterations 20" + kOpts + mixed.path;
  AppRun m = run_app("mpirun -q --allow-run-as-root --oversubscribe --bind-to none -np 1 " + emulated + args +
                     " --device cpu : -np 1 " + emulated + args + " --device cuda");
  INFO(m.err);
  CHECK(m.exit_code == 2);
  CHECK(count_lines(m.err) == 1);
  CHECK(m.err.find("option '--device': the ranks disagree (rank 0 cpu, rank 1 cuda)") != std::string::npos);
  CHECK_FALSE(fs::exists(mixed.path + "/moons"));
}

TEST_CASE("data_parallel: gradient buckets tile the flat buffer from its end, whole parameters each",
          "[dist]") {
  fc::Generator gen(3);
  fc::nn::MLPConfig mc;
  mc.hidden = 16;  // [x, t] -> 16 -> 16 -> 16 -> 2: weights 48, 256, 256, 32 and biases
  fc::nn::MLP mlp(mc, gen);
  const int64_t total = mlp.num_parameters();
  for (int64_t bytes : {int64_t{1}, int64_t{4} * 100, int64_t{1} << 20}) {
    auto buckets = fc::nn::gradient_buckets(mlp, bytes);
    REQUIRE(!buckets.empty());
    CHECK(buckets.front().end == total);
    CHECK(buckets.back().begin == 0);
    size_t params = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (i > 0) CHECK(buckets[i].end == buckets[i - 1].begin);  // contiguous, back to front
      // Closed at the first parameter that takes it to bucket_bytes or more.
      int64_t floats = buckets[i].end - buckets[i].begin;
      if (i + 1 < buckets.size()) CHECK(floats * 4 >= bytes);
      params += buckets[i].parameters.size();
    }
    CHECK(params == mlp.parameters().size());
    // The last parameter (the output bias) is the first bucket's first.
    CHECK(buckets.front().parameters.front() == mlp.parameters().back()->impl());
    if (bytes == 1) CHECK(buckets.size() == mlp.parameters().size());  // one parameter each
    if (bytes == (int64_t{1} << 20)) CHECK(buckets.size() == 1);
  }
}

TEST_CASE("mpi: the bucketed all-reduce overlapped with backward equals one all-reduce after it, bit for bit",
          "[mpi][cfm2d]") {
  if (!mpi_ready()) return;
  TempDir one_piece, buckets;
  // Buckets of 524 bytes: the 16-wide MLP's 658 gradients in 3 pieces.
  AppRun a = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 30 --bucket-mb 0" + kOpts + one_piece.path);
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  AppRun b = run_app(mpirun(2) + "./apps/cfm2d moons --iterations 30 --bucket-mb 0.0005" + kOpts + buckets.path);
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  // Each element is the same two ranks' sum either way.
  require_same_run(one_piece.path, buckets.path, "2 ranks, gradients in one piece vs in 3 buckets", 0.0);
  for (const char* bad : {"-1", "nan", "2000", "x"}) {
    AppRun r = run_app("./apps/cfm2d moons --bucket-mb " + std::string(bad) + " --output " + buckets.path + "/bad");
    INFO(bad << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("bucket-mb") != std::string::npos);
  }
}
