#pragma once
// The engine's own profiler: where the time of a run goes, per op. Off by default
// (one predictable branch per op); on with FLOWCPP_PROFILE=1 or set_enabled(true).
// Times are exclusive (an op's time excludes the ops it calls) and split into
// forward ("linear") and backward ("linear (backward)": the ops that backward rules
// run are counted under the rule that ran them).
#include <cstdio>

namespace fc::profiler {

bool enabled();
void set_enabled(bool on);
void reset();
// A table sorted by time: op, calls, total ms, mean us, share.
void report(std::FILE* out);

class Scope {
 public:
  explicit Scope(const char* name, bool backward = false) {
    if (enabled()) begin(name, backward);
  }
  ~Scope() {
    if (active_) end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  void begin(const char* name, bool backward);
  void end();
  bool active_ = false;
};

}  // namespace fc::profiler

#define FC_PROFILE_CONCAT2(a, b) a##b
#define FC_PROFILE_CONCAT(a, b) FC_PROFILE_CONCAT2(a, b)
// Times the rest of the enclosing block under `name`.
#define FC_PROFILE(name) ::fc::profiler::Scope FC_PROFILE_CONCAT(fc_profile_, __LINE__)(name)
