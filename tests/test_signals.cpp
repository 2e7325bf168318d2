// Stopping the programs on a signal (apps/cli/interrupt.hpp): SIGINT, SIGTERM and
// SIGHUP in any phase end a run with exit 130 and one line naming the phase, within a
// step; what was done is kept (the checkpoint, the pairs made so far) and --resume or
// --sample-only finishes. The phases of tiny runs last milliseconds, so the every-phase
// tests have the program send itself the signal at a named phase (FLOWCPP_TEST_SIGNAL, a
// real signal through the real handler); the others send it from outside, as kill or a
// closed terminal would, while the phase runs, and time the exit.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "app_runner.hpp"
#include "apps/cli/interrupt.hpp"
#include "datasets/npy.hpp"
#include "nn/safetensors.hpp"
#include "tiny_image_dataset.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTiny =
    " --batch-size 64 --hidden 16 --samples 500 --gif-samples 200 --frames 5 --grid 8 --eval-points 50"
    " --quality-points 300 --steps 4 --threads 2";

size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// No temp file of an atomic write is left in dir: an interrupted write leaves nothing.
void require_no_temps(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    INFO(e.path());
    REQUIRE(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

std::string hook(const std::string& phase, const std::string& sig, int at = 1) {
  return "FLOWCPP_TEST_SIGNAL='" + phase + ":" + sig + ":" + std::to_string(at) + "' ";
}

}  // namespace

TEST_CASE("cfm2d: a signal in any phase stops it with exit 130 and one line; --resume and --sample-only finish",
          "[app][signals]") {
  TempDir dir;
  const std::string run = "./apps/cfm2d moons --iterations 30" + kTiny + " --output " + dir.path;
  const std::string d = dir.path + "/moons", ckpt = d + "/ckpt.safetensors";
  // Training: a checkpoint at the iteration reached, which --resume continues.
  AppRun cut = run_app(hook("train", "HUP", 5) + run + " --train-only");
  INFO(cut.err);
  REQUIRE(cut.exit_code == 130);
  CHECK(cut.err.find("SIGHUP: stopping") != std::string::npos);
  CHECK(last_line(cut.err).find("cfm2d: interrupted at iteration ") == 0);
  CHECK(std::stoi(fc::nn::load_safetensors(ckpt).metadata.at("iteration")) < 30);
  CHECK(!fs::exists(d + "/metrics.json"));
  AppRun rest = run_app(run + " --resume --train-only");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  CHECK(fc::nn::load_safetensors(ckpt).metadata.at("iteration") == "30");

  // After training (issue 26: cfm2d went on sampling for minutes after a SIGTERM): every
  // phase stops at its first step, says which, keeps the model, and writes no metrics.
  struct Case {
    const char *phase, *sig;
  };
  for (const Case& c : {Case{"sampling", "TERM"}, Case{"sampling the GIF", "INT"},
                        Case{"measuring straightness", "HUP"}, Case{"plotting", "TERM"}, Case{"scoring", "INT"},
                        Case{"computing likelihoods", "TERM"}}) {
    fs::remove(d + "/metrics.json");
    AppRun r = run_app(hook(c.phase, c.sig) + run + " --sample-only");
    INFO(c.phase << " -> " << r.err);
    CHECK(r.exit_code == 130);
    CHECK(last_line(r.err) == std::string("cfm2d: interrupted by SIG") + c.sig + " while " + c.phase +
                                  "; the model is saved in " + ckpt + "; --sample-only draws the outputs from it");
    CHECK(occurrences(r.err, "interrupted") == 1);
    CHECK(!fs::exists(d + "/metrics.json"));
    CHECK(fs::exists(ckpt));
    require_no_temps(d);
  }
  AppRun again = run_app(run + " --sample-only");
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(fs::exists(d + "/metrics.json"));
}

TEST_CASE("cfm2d: SIGHUP from outside stops training with a checkpoint, SIGTERM stops sampling, within 2 s",
          "[app][signals]") {
  TempDir dir;
  // Training: ~1 s of tiny iterations, stopped once the progress bar shows.
  const std::string train = "./apps/cfm2d moons --iterations 50000 --train-only" + kTiny + " --output " + dir.path;
  const std::string ckpt = dir.path + "/moons/ckpt.safetensors";
  AppRun cut = stop_in_phase(train, "train [", SIGHUP, "cfm2d training");
  INFO(cut.err);
  CHECK(last_line(cut.err).find("cfm2d: interrupted at iteration ") == 0);
  CHECK(std::stoi(fc::nn::load_safetensors(ckpt).metadata.at("iteration")) < 50000);
  AppRun rest = run_app(train + " --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  CHECK(fc::nn::load_safetensors(ckpt).metadata.at("iteration") == "50000");
  // The reader of its messages gone (a `| tee` of a closed terminal; here `| head -c 1`),
  // the run goes on to its checkpoint rather than dying of SIGPIPE at its next line.
  fs::remove(ckpt);
  std::system(("exec " + train + " 2>&1 | head -c 1 > /dev/null").c_str());
  REQUIRE(fs::exists(ckpt));
  CHECK(fc::nn::load_safetensors(ckpt).metadata.at("iteration") == "50000");

  // Sampling a million points (many seconds) from the model just trained.
  AppRun r = stop_in_phase("./apps/cfm2d moons --sample-only --samples 1000000 --steps 50 --no-plots --threads 2"
                           " --output " + dir.path,
                           "sampling 1000000 points", SIGTERM, "cfm2d sampling", 0.2);
  INFO(r.err);
  CHECK(last_line(r.err).find("cfm2d: interrupted by SIGTERM while sampling;") == 0);
  CHECK(!fs::exists(dir.path + "/moons/samples.npy"));
}

TEST_CASE("reflow2d --pairs: SIGINT keeps the pairs made so far; --resume continues them to the same model",
          "[app][signals][reflow2d]") {
  TempDir dir;
  AppRun teacher = run_app("./apps/cfm2d moons --iterations 20 --batch-size 256 --hidden 32 --train-only --threads 2"
                           " --output " + dir.path + "/cfm");
  REQUIRE(teacher.exit_code == 0);
  // Three chunks of pairs (65536 each, the last shorter), a fraction of a second each.
  const std::string opts = " --iterations 10 --batch-size 64 --pairs 150000 --teacher-steps 2 --checkpoint-every 0"
                           " --train-only --threads 2 --pretrained " + dir.path + "/cfm/moons/ckpt.safetensors --output ";
  AppRun whole = run_app("./apps/reflow2d moons" + opts + dir.path + "/a");
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);

  const std::string stem = dir.path + "/b/moons/pairs_round1";
  // Stopped once the first chunk is made.
  AppRun cut = stop_in_phase("./apps/reflow2d moons" + opts + dir.path + "/b", "pairs [", SIGINT, "reflow2d pairs");
  INFO(cut.err);
  CHECK(last_line(cut.err).find("reflow2d: interrupted by SIGINT while making pairs; kept ") == 0);
  CHECK(last_line(cut.err).find(" of 150000 pairs in " + stem + "_*.npy; --resume continues them") !=
        std::string::npos);
  nlohmann::json record = read_json(stem + ".json");
  const int64_t made = record["made"];
  CHECK((made == 65536 || made == 131072));
  CHECK(record["pairs"] == 150000);
  CHECK(fc::data::load_npy(stem + "_x1.npy").shape() == fc::Shape{made, 2});
  CHECK(!fs::exists(dir.path + "/b/moons/ckpt.safetensors"));

  // Pairs of other settings are refused, naming what changed.
  AppRun other = run_app("./apps/reflow2d moons" + opts + dir.path + "/b --resume --teacher-steps 3");
  INFO(other.err);
  CHECK(other.exit_code == 1);
  CHECK(last_line(other.err).find("reflow2d: error: " + stem + ".json: ") == 0);
  CHECK(last_line(other.err).find("--teacher-steps 2 (this run 3)") != std::string::npos);

  AppRun rest = run_app("./apps/reflow2d moons" + opts + dir.path + "/b --resume");
  INFO(rest.err);
  REQUIRE(rest.exit_code == 0);
  CHECK(rest.err.find("no checkpoint yet") != std::string::npos);
  CHECK(read_json(stem + ".json")["made"] == 150000);
  require_same_tensors(fc::nn::load_safetensors(dir.path + "/a/moons/ckpt.safetensors"),
                       fc::nn::load_safetensors(dir.path + "/b/moons/ckpt.safetensors"));
}

TEST_CASE("cfm_image: a signal while sampling or evaluating stops it with exit 130 and one line",
          "[app][signals][cfm_image]") {
  TempDir dir;
  write_tiny_dataset(dir.path + "/pics");
  const std::string run = "./apps/cfm_image --batch-size 4 --channels 32 --res-blocks 1 --threads 2 --steps 2"
                          " --guidance 0 --samples-per-class 1 --classifier-epochs 1 --eval-samples 4 --nll-images 2"
                          " --output " + dir.path + "/out/cfm";
  const std::string ds = " folder:" + dir.path + "/pics", d = dir.path + "/out/cfm/" + pics_folder(dir.path);
  AppRun trained = run_app(run + " --iterations 2 --train" + ds);
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  struct Case {
    const char *mode, *phase, *sig, *hint;
  };
  for (const Case& c : {Case{" --sample", "sampling", "TERM", "--sample draws the samples from it"},
                        Case{" --eval", "training the classifier", "INT", "--eval evaluates it"},
                        Case{" --eval", "computing bits/dim", "HUP", "--eval evaluates it"}}) {
    AppRun r = run_app(hook(c.phase, c.sig) + run + c.mode + ds);
    INFO(c.phase << " -> " << r.err);
    CHECK(r.exit_code == 130);
    CHECK(last_line(r.err) == std::string("cfm_image: interrupted by SIG") + c.sig + " while " + c.phase +
                                  "; the model is saved in " + d + "/ckpt.safetensors; " + c.hint);
    CHECK(occurrences(r.err, "interrupted") == 1);
    require_no_temps(d);
  }
}

namespace {

// In a child process: the handler installed, then `steps` (announce, silence), then
// SIGTERM to itself. Returns what the child wrote on stderr; the child exits 0 when the
// signal set the flag (a quiet signal must still stop the run).
std::string stderr_of_signal_in_child(const std::function<void()>& steps) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    fc::app::install_interrupt_handler();
    steps();
    ::kill(::getpid(), SIGTERM);
    ::_exit(fc::app::interrupted() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

}  // namespace

TEST_CASE("the signal notice: quiet while the options are read and after the last word, said in between",
          "[signals]") {
  // Under mpirun the first rank to refuse a bad option makes the launcher SIGTERM the
  // others; rank 0's "SIGTERM: stopping" then followed or preceded its one-line error
  // (mpi: a batch that does not split..., 3 ranks, on a loaded machine).
  CHECK(stderr_of_signal_in_child([] {}).empty());
  CHECK(stderr_of_signal_in_child([] { fc::app::announce_interrupts(); }).find("SIGTERM: stopping") !=
        std::string::npos);
  CHECK(stderr_of_signal_in_child([] {
          fc::app::announce_interrupts();
          fc::app::silence_interrupts();
        }).empty());
}
