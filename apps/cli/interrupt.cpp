#include "apps/cli/interrupt.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <vector>

#include "engine/cancel.hpp"
#include "engine/dist.hpp"

namespace fc::app {

namespace {

// The signal that came first (-1: request_interrupt, 0: none).
volatile std::sig_atomic_t g_signal = 0;
// Under mpirun only rank 0 says it heard the signal; nobody does after the last word.
volatile std::sig_atomic_t g_quiet = 0;
int g_saving = 0;      // open SavesOnInterrupt scopes

struct PhaseEntry {
  std::string name, hint;
};
std::vector<PhaseEntry>& phases() {
  static std::vector<PhaseEntry> p;
  return p;
}

// The test hook FLOWCPP_TEST_SIGNAL=PHASE:SIG[:K].
struct TestSignal {
  std::string phase;
  int signal = 0;
  long at = 1, seen = 0;
};
TestSignal g_test;

void read_test_signal() {
  const char* v = std::getenv("FLOWCPP_TEST_SIGNAL");
  if (v == nullptr || *v == '\0') return;
  std::string s = v;
  const size_t a = s.find(':');
  if (a == std::string::npos) return;
  const size_t b = s.find(':', a + 1);
  const std::string sig = s.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  g_test.phase = s.substr(0, a);
  g_test.signal = sig == "INT" ? SIGINT : sig == "TERM" ? SIGTERM : sig == "HUP" ? SIGHUP : 0;
  if (b != std::string::npos) g_test.at = std::atol(s.c_str() + b + 1);
}

// Only write(2) here: it is async-signal-safe, stdio is not.
template <size_t N>
void say(const char (&msg)[N]) {
  ssize_t ignored = write(STDERR_FILENO, msg, N - 1);
  (void)ignored;
}

void on_signal(int sig) {
  if (g_signal) _exit(130);
  g_signal = sig;
  if (g_quiet) return;
  if (sig == SIGINT) say("\nSIGINT: stopping (Ctrl-C again to quit at once)\n");
  else if (sig == SIGTERM) say("\nSIGTERM: stopping (send it again to quit at once)\n");
  else say("\nSIGHUP: stopping (send it again to quit at once)\n");
}

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : nullptr;
}

}  // namespace

void install_interrupt_handler() {
  g_quiet = 1;  // until announce_interrupts()
  read_test_signal();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  // A closed reader of stderr (`... 2>&1 | tee log` when the terminal goes, `| head`)
  // would kill the run at its next progress line, checkpoint or not: writes fail instead.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  set_cancellation_check(&throw_if_interrupted);
}

void announce_interrupts() { g_quiet = dist::is_root() ? 0 : 1; }
void silence_interrupts() { g_quiet = 1; }

bool interrupted() { return g_signal != 0; }
void request_interrupt() {
  if (!g_signal) g_signal = -1;
}

Interrupted interrupted_error(const std::string& kept) {
  const char* name = signal_name(g_signal);
  std::string msg = name ? std::string("interrupted by ") + name : std::string("interrupted");
  const std::vector<PhaseEntry>& p = phases();
  if (!p.empty()) msg += " while " + p.back().name;
  std::string hint = kept;
  for (auto it = p.rbegin(); hint.empty() && it != p.rend(); ++it) hint = it->hint;
  if (!hint.empty()) msg += "; " + hint;
  return Interrupted(msg);
}

void throw_if_interrupted() {
  if (g_test.signal && !phases().empty() && phases().back().name == g_test.phase && ++g_test.seen == g_test.at)
    std::raise(g_test.signal);
  if (g_signal && g_saving == 0) throw interrupted_error();
}

Phase::Phase(std::string name, std::string hint) {
  phases().push_back({std::move(name), std::move(hint)});
  try {
    throw_if_interrupted();  // a signal that came between two phases stops at the next one
  } catch (...) {
    phases().pop_back();  // no destructor runs for a constructor that throws
    throw;
  }
}
Phase::~Phase() { phases().pop_back(); }

SavesOnInterrupt::SavesOnInterrupt() { ++g_saving; }
SavesOnInterrupt::~SavesOnInterrupt() { --g_saving; }

}  // namespace fc::app
