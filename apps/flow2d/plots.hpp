#pragma once
// The pictures of the 2-D programs.
#include <string>
#include <vector>

#include "datasets/toy2d.hpp"
#include "engine/tensor.hpp"
#include "flow/ode.hpp"

namespace fc::app {

// Every 2-D picture is drawn over the density's plot square (data::plot_square).

// One 2-D histogram panel per state, titled with its time.
void plot_evolution(const std::string& path, const std::vector<Tensor>& states,
                    const std::vector<float>& times, const std::string& title, const data::PlotSquare& square);

// An animation: at each time, the velocity field on a 15x15 grid (arrows coloured by
// speed) beside the histogram of the samples, titled with t.
void write_field_gif(const std::string& path, const flow::VelocityFn& v,
                     const std::vector<Tensor>& states, const std::vector<float>& times,
                     const std::string& title, const data::PlotSquare& square);

// Flows side by side (one column each): the samples x_t (with the paths of the first
// `trails` points so far) above, the velocity field below; one frame per time.
// states[f] of every flow is at times[f]; their rows start from the same x0.
struct FlowPanel {
  std::string name;
  flow::VelocityFn velocity;
  std::vector<Tensor> states;
};
void write_comparison_gif(const std::string& path, const std::vector<FlowPanel>& flows,
                          const std::vector<float>& times, const std::string& title, const data::PlotSquare& square,
                          int trails = 48);

// Sample quality against the number of Euler steps, one line per model (log-log), with
// the models' straightness in the legend; a second panel with the in-square fraction
// when the curves have it (the checkerboard).
struct QualityCurve {
  std::string name;
  double straightness = 0;
  std::vector<double> steps, energy_distance, in_square;
};
// `noise` (> 0) is the energy distance's noise level: drawn as a dashed line, with
// values below it (the estimator is unbiased, so they can be negative) drawn on it.
void plot_few_step_quality(const std::string& path, const std::vector<QualityCurve>& curves,
                           const std::string& title, double noise);

// Two density maps side by side (Hutchinson and exact divergence) on an n x n grid
// over the plot square, sharing one colour bar. Values are log-densities; row 0 is the
// bottom (y = square.y_lo).
void plot_likelihood(const std::string& path, const std::vector<float>& hutchinson,
                     const std::vector<float>& exact, int n, const data::PlotSquare& square, const std::string& title,
                     int probes);

}  // namespace fc::app
