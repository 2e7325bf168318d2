#pragma once
// Runs a program of apps/ under mpirun for the data-parallel tests, and compares the
// checkpoints of two runs. The tests skip (saying so) where mpirun or MPI is missing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "app_runner.hpp"
#include "apps/cli/dataset_dir.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "engine/dist.hpp"
#include "nn/safetensors.hpp"

// Open MPI's switches for CI (root, more ranks than cores); -q keeps mpirun's own
// banners out of stderr, so that a program's one-line error stays one line.
inline std::string mpirun(int ranks) {
  return "mpirun -q --allow-run-as-root --oversubscribe --bind-to none -np " + std::to_string(ranks) + " ";
}

inline bool mpi_ready() {
  static const bool ready = [] {
    if (!fc::dist::has_mpi()) {
      std::printf("SKIPPED [mpi] tests: this build has no MPI (MPI=0 or Open MPI absent)\n");
      return false;
    }
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
      std::printf("SKIPPED [mpi] tests: mpirun not found (scripts/install_deps.sh installs openmpi-bin)\n");
      return false;
    }
    return true;
  }();
  return ready;
}

// The largest difference between two checkpoints' tensors, relative to each tensor's
// largest magnitude; *worst names the tensor where it is.
inline double max_relative_difference(const fc::nn::SafetensorsFile& a, const fc::nn::SafetensorsFile& b,
                                      std::string* worst_name = nullptr) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    REQUIRE(a.tensors[i].name == b.tensors[i].name);
    std::vector<float> x = a.tensors[i].tensor.to_vector(), y = b.tensors[i].tensor.to_vector();
    REQUIRE(x.size() == y.size());
    double scale = 0, diff = 0;
    for (size_t j = 0; j < x.size(); ++j) {
      scale = std::max(scale, std::abs(static_cast<double>(x[j])));
      diff = std::max(diff, std::abs(static_cast<double>(x[j]) - y[j]));
    }
    if (scale > 0 && diff / scale > worst) {
      worst = diff / scale;
      if (worst_name) *worst_name = a.tensors[i].name;
    }
  }
  return worst;
}

// ‖a − b‖₂ / ‖a‖₂ over the tensors whose names do not start with `skip` (e.g. the
// optimizer's moments): the whole model's relative difference.
inline double relative_l2_difference(const fc::nn::SafetensorsFile& a, const fc::nn::SafetensorsFile& b,
                                     const std::string& skip) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    if (a.tensors[i].name.rfind(skip, 0) == 0) continue;
    std::vector<float> x = a.tensors[i].tensor.to_vector(), y = b.tensors[i].tensor.to_vector();
    REQUIRE(x.size() == y.size());
    for (size_t j = 0; j < x.size(); ++j) {
      diff += (static_cast<double>(x[j]) - y[j]) * (static_cast<double>(x[j]) - y[j]);
      norm += static_cast<double>(x[j]) * x[j];
    }
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// `./apps/cfm_image --train DS OPTS` as one process into DIR/a and as 2 ranks into
// DIR/b (both must succeed), their losses equal to 1e-5 relative; the two checkpoints.
struct OneAndTwoRanks {
  fc::nn::SafetensorsFile one, two;
};
inline OneAndTwoRanks train_cfm_image_on_one_and_two_ranks(const std::string& ds, const std::string& opts,
                                                           const std::string& dir) {
  AppRun one = run_app("./apps/cfm_image --train " + ds + opts + " --output " + dir + "/a");
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  AppRun two = run_app(mpirun(2) + "./apps/cfm_image --train " + ds + opts + " --output " + dir + "/b");
  INFO(two.err);
  REQUIRE(two.exit_code == 0);
  OneAndTwoRanks r{fc::nn::load_safetensors(dir + "/a/" + fc::app::dataset_dir_name(ds) + "/ckpt.safetensors"),
                   fc::nn::load_safetensors(dir + "/b/" + fc::app::dataset_dir_name(ds) + "/ckpt.safetensors")};
  std::vector<float> la = r.one.find("train.losses")->to_vector(), lb = r.two.find("train.losses")->to_vector();
  REQUIRE(la.size() == lb.size());
  for (size_t i = 0; i < la.size(); ++i) CHECK(std::abs(la[i] - lb[i]) <= 1e-5 * std::abs(la[i]));
  return r;
}
