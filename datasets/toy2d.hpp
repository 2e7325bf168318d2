#pragma once
// 2-D toy densities for flow matching: the reference's (keishihara/flow-matching,
// flow_matching/datasets/synthetic_datasets.py) checkerboard, moons and mixture with its
// formulas and scales, FFJORD's (8gaussians, spirals, circles, pinwheel, swissroll),
// flowcpp's earlier scalings under their own names (checkerboard-fb: the board of
// facebookresearch/flow_matching's notebook, squares of side 2 over [-4, 4)^2;
// moons-scaled: the moons centred and times 2.5), and three that come from files:
// `points:FILE` (an .npy or .csv of N x 2 points, centred on their mean as the
// reference centres its siggraph.pkl, resampled with replacement), `points-raw:FILE`
// (the same, not centred) and `image:FILE` (the reference's picture density: a
// Gaussian of std half a pixel at every pixel centre on [-4, 4]^2, weighted by how much
// darker the pixel is than the brightest one). Every draw comes from the fc::Generator
// passed in, so a sample is a function of the generator's state.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "engine/tensor.hpp"

namespace fc::data {

// The built-in names, in a fixed order.
std::vector<std::string> toy2d_names();
bool is_builtin_toy2d(const std::string& name);
// Every form a density name takes, for --help: the built-in names, then the file forms
// with what each does to the file.
std::string toy2d_help();

// A density ready to sample: a built-in name, or a file loaded (and checked) once.
// Unknown names and unreadable files throw a one-line fc::Error (naming the valid
// forms, or the file).
class Toy2d {
 public:
  explicit Toy2d(const std::string& name);
  // n points as a [n, 2] CPU float32 tensor.
  Tensor sample(int64_t n, Generator& gen) const;
  const std::string& name() const { return name_; }

 private:
  enum class Kind { Builtin, Points, Image };
  std::string name_;
  Kind kind_ = Kind::Builtin;
  std::vector<float> points_;  // Points: x0, y0, x1, y1, ...
  std::vector<double> cdf_;    // Image: running sum of the pixels' weights, row-major
  int width_ = 0, height_ = 0;
};

// One-shot form of Toy2d(name).sample(n, gen). File densities are cached (the last one
// used, reloaded when the file changes), so calling this every training step is cheap.
Tensor sample_toy2d(const std::string& name, int64_t n, Generator& gen);

// The side of the checkerboards' squares: the reference divides its unit board by 0.45.
constexpr double kCheckerboardSide = 1 / 0.45;
constexpr double kCheckerboardFbSide = 2;
// kCheckerboardSide for "checkerboard", kCheckerboardFbSide for "checkerboard-fb", 0 for
// every other density (which has no squares).
double checkerboard_square_side(const std::string& name);

// Fraction of the rows of a [n, 2] tensor that fall inside the filled squares of a 4 x 4
// checkerboard of squares of this side centred at 0 (1 for the density's samples, 1/2
// for uniform points on its bounding box [-2 side, 2 side)^2).
double checkerboard_in_square_fraction(const Tensor& samples, double side = kCheckerboardSide);

// The square the reference plots a density in (its get_square_range): the bounding box
// of kPlotSquarePoints draws (from a generator seeded kPlotSquareSeed, so the same on
// every run), made square about its centre and 5% wider on each side.
struct PlotSquare {
  float x_lo, x_hi, y_lo, y_hi;
};
constexpr int64_t kPlotSquarePoints = 10000;
constexpr uint64_t kPlotSquareSeed = 20240601;
PlotSquare plot_square(const Toy2d& density);

}  // namespace fc::data
