#include "engine/profiler.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace fc::profiler {

namespace {

using Clock = std::chrono::steady_clock;

bool initial_state() {
  const char* e = std::getenv("FLOWCPP_PROFILE");
  return e && *e && std::string(e) != "0";
}

bool g_enabled = initial_state();

struct Entry {
  long long calls = 0;
  double seconds = 0;
};

struct Frame {
  std::string key;
  Clock::time_point start;
  double child_seconds = 0;
};

// Ops run on the calling thread (kernels parallelise inside), so one stack suffices.
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t;
  return t;
}
std::vector<Frame>& stack() {
  static std::vector<Frame> s;
  return s;
}

}  // namespace

bool enabled() { return g_enabled; }
void set_enabled(bool on) { g_enabled = on; }
void reset() { table().clear(); }

void Scope::begin(const char* name, bool backward) {
  active_ = true;
  std::vector<Frame>& s = stack();
  // Inside a backward rule, every op counts toward that rule.
  bool in_backward = !s.empty() && s.back().key.size() > 11 &&
                     s.back().key.compare(s.back().key.size() - 11, 11, " (backward)") == 0;
  if (in_backward && !backward) {
    active_ = false;
    return;
  }
  s.push_back(Frame{std::string(name) + (backward ? " (backward)" : ""), Clock::now(), 0});
}

void Scope::end() {
  std::vector<Frame>& s = stack();
  Frame f = std::move(s.back());
  s.pop_back();
  double total = std::chrono::duration<double>(Clock::now() - f.start).count();
  Entry& e = table()[f.key];
  ++e.calls;
  e.seconds += total - f.child_seconds;
  if (!s.empty()) s.back().child_seconds += total;
}

void report(std::FILE* out) {
  std::vector<std::pair<std::string, Entry>> rows(table().begin(), table().end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (auto& r : rows) total += r.second.seconds;
  std::fprintf(out, "| op | calls | total ms | mean us | share |\n|---|---|---|---|---|\n");
  for (auto& [name, e] : rows)
    std::fprintf(out, "| %s | %lld | %.2f | %.1f | %.1f%% |\n", name.c_str(), e.calls, e.seconds * 1e3,
                 e.seconds * 1e6 / static_cast<double>(e.calls ? e.calls : 1),
                 total > 0 ? 100.0 * e.seconds / total : 0.0);
  std::fprintf(out, "| total | | %.2f | | |\n", total * 1e3);
}

}  // namespace fc::profiler
