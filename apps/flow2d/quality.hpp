#pragma once
// The sample-quality numbers of the 2-D programs, computed the same way for every model
// and every implementation so that they compare: energy distance to fresh true samples
// (and the in-square fraction for the checkerboard), straightness, and quality after
// 1, 2, 4, 8 and 20 Euler steps from one shared draw of x0.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "datasets/toy2d.hpp"
#include "engine/tensor.hpp"
#include "flow/ode.hpp"

namespace fc::app {

// Throws one line, "WHAT: K of N points are not finite (NaN or inf)WHY", if any
// coordinate of the host tensor `samples` is NaN or infinite: a score of such points
// would be NaN, and a metrics.json of nulls with exit 0 reads as a result. The callers of
// the scorers below check their points with it once, where they can name the cause
// (the file of --score, the sampler, the few-step solver), so the scorers do not again.
void require_finite_points(const Tensor& samples, const std::string& what, const std::string& why = "");

// Adds "energy_distance" (against 20,000 true points drawn with seed + 1000003) and,
// for the checkerboard, "in_square_fraction".
void score_samples(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                   uint64_t seed);

// The energy distance over every point of `samples`, for comparisons finer than one
// 20,000-point estimate allows: consecutive blocks of 20,000 rows (a shorter last one is
// dropped unless it is the only one), each against its own 20,000 true points (the first
// against score_samples' truth, so block 0 is its "energy_distance"), averaged. The blocks
// are independent, so the standard error is their standard deviation / sqrt(blocks).
struct BlockedEnergyDistance {
  double mean = 0, standard_error = 0;
  double first = 0;  // block 0 alone: score_samples' "energy_distance"
  int64_t blocks = 0;
};
BlockedEnergyDistance blocked_energy_distance(const Tensor& samples, const data::Toy2d& density,
                                              uint64_t seed, bool progress = false);
// score_samples' metrics and, from the same pass, "energy_distance_all_points", "..._se"
// and "energy_distance_blocks", with a progress bar when there is more than one block (a
// million points take a minute).
void score_all_points(nlohmann::json& metrics, const Tensor& samples, const data::Toy2d& density,
                      uint64_t seed);

struct RectificationOptions {
  int64_t points = 20000;  // trajectories for straightness and each few-step sample
  uint64_t seed = 0;       // x0 comes from seed + 3000017, the truth as in score_samples
};

// {"straightness": S, "few_step": [{"steps": k, "energy_distance": ..., ["in_square_fraction": ...]}...]}
// S from midpoint trajectories at step 0.01 (101 time points). Under mpirun every rank
// calls it and integrates its share of the points; rank 0 gets the result, the others
// an empty object.
nlohmann::json rectification_metrics(const flow::VelocityFn& v, const data::Toy2d& density,
                                     const RectificationOptions& options);

// The energy distance's noise at this sample size: the mean |ED| between the truth of
// score_samples and `draws` other draws of true samples. The estimator is unbiased, so
// values below this (even negative ones) mean "equal to the data within noise".
double energy_distance_noise(const data::Toy2d& density, uint64_t seed, int64_t points, int draws = 3);

}  // namespace fc::app
