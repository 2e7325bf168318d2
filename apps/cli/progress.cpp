#include "apps/cli/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "apps/cli/interrupt.hpp"
#include "engine/dist.hpp"

namespace fc::app {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string format_bytes(double b) {
  char buf[32];
  if (!std::isfinite(b) || b < 0) return "?";
  if (b < 1000) std::snprintf(buf, sizeof buf, "%.0f B", b);
  else if (b < 1e6) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else if (b < 1e9) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

ProgressBar::ProgressBar(int64_t total, std::string label, int64_t start, Units units)
    : total_(total > 0 ? total : 1), start_(start), label_(std::move(label)),
      tty_(isatty(STDERR_FILENO) != 0), units_(units), t0_(std::chrono::steady_clock::now()), last_draw_() {}

void ProgressBar::update(int64_t done, const std::string& extra) {
  throw_if_interrupted();  // every long phase reports here: a signal stops it here
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, extra, false);
  } else {
    int decile = static_cast<int>(10 * done / total_);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    draw(done, extra, false);
  }
}

void ProgressBar::finish(const std::string& extra) { draw(total_, extra, true); }

void ProgressBar::draw(int64_t done, const std::string& extra, bool final) {
  if (!dist::is_root()) return;  // under mpirun rank 0 draws for all
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  double rate = elapsed > 0 ? static_cast<double>(done - start_) / elapsed : 0;
  double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : NAN;
  constexpr int kWidth = 24;
  int filled = static_cast<int>(kWidth * done / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  char rate_s[32], count_s[64];
  if (units_ == Units::Bytes) {
    std::snprintf(rate_s, sizeof rate_s, "%s/s", rate > 0 ? format_bytes(rate).c_str() : "- B");
    std::snprintf(count_s, sizeof count_s, "%s/%s", format_bytes(static_cast<double>(done)).c_str(),
                  format_bytes(static_cast<double>(total_)).c_str());
  } else {
    if (rate >= 10) std::snprintf(rate_s, sizeof rate_s, "%.0f it/s", rate);
    else if (rate > 0) std::snprintf(rate_s, sizeof rate_s, "%.2f it/s", rate);
    else std::snprintf(rate_s, sizeof rate_s, "- it/s");
    std::snprintf(count_s, sizeof count_s, "%lld/%lld", static_cast<long long>(done), static_cast<long long>(total_));
  }
  std::fprintf(stderr, "%s%s [%s] %s %3d%% %s %s %s%s%s", tty_ ? "\r" : "", label_.c_str(), bar.c_str(), count_s,
               static_cast<int>(100 * done / total_), rate_s,
               final ? "took" : "ETA", format_duration(final ? elapsed : eta).c_str(),
               extra.empty() ? "" : "  ", extra.c_str());
  if (tty_) std::fprintf(stderr, "\033[K");
  if (!tty_ || final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace fc::app
