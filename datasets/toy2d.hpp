#pragma once
// 2-D toy densities for flow matching: the reference's three (checkerboard, moons,
// mixture), FFJORD's (8gaussians, spirals, circles, pinwheel, swissroll), and two that
// come from files: `points:FILE` (an .npy or .csv of N x 2 points, resampled with
// replacement) and `image:FILE` (a picture whose dark pixels carry the mass, mapped
// onto [-4, 4] x [-4, 4]). Every draw comes from the fc::Generator passed in, so a
// sample is a function of the generator's state.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/random.hpp"
#include "engine/tensor.hpp"

namespace fc::data {

// The built-in names, in a fixed order.
std::vector<std::string> toy2d_names();
bool is_builtin_toy2d(const std::string& name);

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
  std::vector<double> cdf_;    // Image: running sum of darkness over pixels, row-major
  int width_ = 0, height_ = 0;
};

// One-shot form of Toy2d(name).sample(n, gen). File densities are cached (the last one
// used, reloaded when the file changes), so calling this every training step is cheap.
Tensor sample_toy2d(const std::string& name, int64_t n, Generator& gen);

// Fraction of the rows of a [n, 2] tensor that fall inside the filled squares of the
// checkerboard density (1 for its samples, about 1/2 for uniform points on [-4, 4]^2).
double checkerboard_in_square_fraction(const Tensor& samples);

}  // namespace fc::data
