#pragma once
// The pictures of the image program: the final samples as a grid with one column per
// class, and the trajectory GIF (the final grid beside the grid at time t).
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace fc::app {

// images [N, C, H, W] in [-1, 1], laid out with `columns` per row under the titles.
void write_sample_grid(const std::string& path, const Tensor& images, int64_t columns,
                       const std::vector<std::string>& titles, const std::string& caption);

// Rows of images (each [columns, C, H, W]) one under the other, each named on its left,
// the column titles above the first: the few-step table's picture.
void write_labelled_rows(const std::string& path, const std::vector<Tensor>& rows,
                         const std::vector<std::string>& row_labels, const std::vector<std::string>& titles,
                         const std::string& caption);

// The guidance sweep: conditional accuracy (left) and Fréchet distance (right) against
// the guidance scale w, one point per value, with the test set's own distance
// (`frechet_floor`, two halves of it) as a dashed line on the right.
void plot_guidance_sweep(const std::string& path, const std::vector<double>& w, const std::vector<double>& accuracy,
                         const std::vector<double>& frechet, double frechet_floor, const std::string& title);

// One frame per state (states[i] at times[i]): the last state's grid on the left, the
// grid at t on the right, captioned with t. fps frames per second.
void write_trajectory_gif(const std::string& path, const std::vector<Tensor>& states,
                          const std::vector<float>& times, int64_t columns,
                          const std::vector<std::string>& titles, const std::string& caption,
                          int fps);

}  // namespace fc::app
