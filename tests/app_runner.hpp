#pragma once
// Runs a program of apps/ the way a user would, for end-to-end and bad-input tests:
// exit code and what it printed on stderr; or in the background, to signal it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "nn/safetensors.hpp"
#include "test_util.hpp"

struct AppRun {
  int exit_code = -1;
  std::string err;  // stderr
};

inline AppRun run_app(const std::string& command_line) {
  static int counter = 0;
  std::string err_path = "/tmp/flowcpp_app_" + std::to_string(::getpid()) + "_" +
                         std::to_string(counter++) + ".err";
  std::string cmd = command_line + " > /dev/null 2> " + err_path;
  int status = std::system(cmd.c_str());
  AppRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_path);
  r.err.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_path);
  return r;
}

// A program started in the background, as `sh -c 'exec COMMAND 2> FILE'`, for the
// signal tests: wait until its stderr shows a phase has begun, send it a signal, and
// time how long it takes to exit. A process still running at the end is killed.
class BackgroundApp {
 public:
  explicit BackgroundApp(const std::string& command_line) {
    static int counter = 0;
    err_path_ = "/tmp/flowcpp_bg_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".err";
    const std::string script = "exec " + command_line + " > /dev/null 2> " + err_path_;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(pid_ > 0);
  }
  ~BackgroundApp() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove(err_path_);
  }
  BackgroundApp(const BackgroundApp&) = delete;
  BackgroundApp& operator=(const BackgroundApp&) = delete;

  std::string err() const {
    std::ifstream f(err_path_);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  // True once stderr holds `text`; false if the program ends first or after `seconds`.
  bool wait_for(const std::string& text, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (err().find(text) != std::string::npos) return true;
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return err().find(text) != std::string::npos;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // Sends `sig` and waits for the exit: its code (128 + N when signal N killed it) and
  // stderr, the seconds from the signal to the exit in *seconds.
  AppRun stop(int sig, double* seconds) {
    REQUIRE(pid_ > 0);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(::kill(pid_, sig) == 0);
    REQUIRE(::waitpid(pid_, &status_, 0) == pid_);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pid_ = -1;
    AppRun r;
    r.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : WIFSIGNALED(status_) ? 128 + WTERMSIG(status_) : -1;
    r.err = err();
    return r;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string err_path_;
};

// How many times over the CPU is subscribed: the 1-minute load average per core, at least
// 1 (/proc/loadavg; 1 where it cannot be read).
inline double cpu_oversubscription() {
  std::ifstream f("/proc/loadavg");
  double load = 0;
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  return (f >> load) ? std::max(1.0, load / cores) : 1.0;
}

// Runs command_line in the background until its stderr shows `phase_text` (and `after`
// seconds more), then sends `sig`: the program must exit 130 within a step of its work (a
// solver step, a training step, a batch of pairs), which the test's tiny runs keep under
// 2 s on an idle 2-core machine (0.1 to 1.5 s measured). A loaded machine stretches a step
// by its oversubscription (three suites side by side, load 7 on 2 cores: a 100-image
// batch of pairs stopped in 2.1 to 3.2 s), so the limit is 2 s times that factor. Prints
// the time as "[signals] WHAT: ...".
inline AppRun stop_in_phase(const std::string& command_line, const std::string& phase_text, int sig,
                            const std::string& what, double after = 0) {
  BackgroundApp app(command_line);
  REQUIRE(app.wait_for(phase_text, 120));
  std::this_thread::sleep_for(std::chrono::duration<double>(after));
  double seconds = 0;
  AppRun r = app.stop(sig, &seconds);
  INFO(r.err);
  const double limit = 2.0 * cpu_oversubscription();
  std::printf("[signals] %s: stopped by %s in %.3f s (limit %.1f s)\n", what.c_str(), strsignal(sig), seconds, limit);
  REQUIRE(r.exit_code == 130);
  CHECK(seconds < limit);
  return r;
}

// The last line of a program's stderr (its one-line verdict).
inline std::string last_line(const std::string& s) {
  const size_t end = s.size() > 0 && s.back() == '\n' ? s.size() - 1 : s.size();
  const size_t start = s.rfind('\n', end == 0 ? 0 : end - 1);
  return s.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

// A program's JSON output (metrics.json, few_step_*.json), which must exist.
inline nlohmann::json read_json(const std::string& path) {
  REQUIRE(std::filesystem::exists(path));
  return nlohmann::json::parse(read_bytes(path));
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Two checkpoints hold the same tensors, bit for bit (an interrupted and resumed run
// against an uninterrupted one).
inline void require_same_tensors(const fc::nn::SafetensorsFile& a, const fc::nn::SafetensorsFile& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].name);
    REQUIRE(a.tensors[i].name == b.tensors[i].name);
    REQUIRE(a.tensors[i].tensor.to_vector() == b.tensors[i].tensor.to_vector());
  }
}

// A velocity MLP [x, t] -> 16 -> 16 -> 16 -> 2 saved as a bare state_dict, no metadata:
// what the reference's checkpoints are once converted (safetensors.torch.save_file).
inline void write_plain_mlp(const std::string& path, uint64_t seed = 3) {
  fc::Generator gen(seed);
  fc::nn::MLPConfig c;
  c.hidden = 16;
  fc::nn::MLP mlp(c, gen);
  fc::nn::save_checkpoint(path, mlp, {});
}

// A copy of the checkpoint SRC at DST with element 0 of tensor `name` set to `value`:
// NaN is what a damaged file or weights saved after a divergence look like; a huge
// finite value, a model that loads and then blows up.
inline void write_poisoned_checkpoint(const std::string& src, const std::string& dst, const std::string& name,
                                      float value = std::nanf("")) {
  fc::nn::SafetensorsFile f = fc::nn::load_safetensors(src);
  bool found = false;
  for (fc::nn::NamedTensor& t : f.tensors)
    if (t.name == name) {
      t.tensor.data()[0] = value;
      found = true;
    }
  REQUIRE(found);
  std::filesystem::create_directories(std::filesystem::path(dst).parent_path());
  fc::nn::save_safetensors(dst, f.tensors, f.metadata);
}
