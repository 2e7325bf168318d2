#pragma once
// A one-line progress bar on stderr: done/total, percent, rate, ETA and whatever the
// caller appends (the loss). Redrawn in place at most 10 times a second on a
// terminal; when stderr is not a terminal (a log file, CI) it prints a plain line
// every 10% instead.
#include <chrono>
#include <cstdint>
#include <string>

namespace fc::app {

class ProgressBar {
 public:
  enum class Units { Items, Bytes };  // "12/100 ... 3.1 it/s" or "1.2/9.9 MB ... 2.0 MB/s"
  ProgressBar(int64_t total, std::string label, int64_t start = 0, Units units = Units::Items);
  // Reports that `done` of `total` are finished. Also a cancellation point: after a
  // signal it throws Interrupted (apps/cli/interrupt.hpp) unless the phase saves
  // its work itself.
  void update(int64_t done, const std::string& extra = "");
  // Draws the final state and ends the line.
  void finish(const std::string& extra = "");

 private:
  void draw(int64_t done, const std::string& extra, bool final);
  int64_t total_, start_;
  std::string label_;
  bool tty_;
  Units units_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  int last_decile_ = -1;
};

// "1:23" or "1:02:03" for a number of seconds.
std::string format_duration(double seconds);
// "812 B", "9.9 MB", "1.2 GB" (powers of 1000, as download sizes are quoted).
std::string format_bytes(double bytes);

}  // namespace fc::app
