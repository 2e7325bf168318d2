#pragma once
// A run's training losses as files: losses.csv and the losses.png curve.
#include <string>
#include <vector>

namespace fc::app {

// Writes values (one per line, with a header) as CSV atomically.
void write_losses_csv(const std::string& path, const std::vector<float>& losses);

// Loss per iteration (raw, faint) and smoothed (bold), log-scaled y, with axes.
void plot_loss_curve(const std::string& path, const std::vector<float>& losses,
                     const std::string& title);

}  // namespace fc::app
