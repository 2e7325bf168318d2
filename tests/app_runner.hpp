#pragma once
// Runs a program of apps/ the way a user would, for end-to-end and bad-input tests:
// exit code and what it printed on stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
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
