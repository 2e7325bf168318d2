#include "apps/cli/main_guard.hpp"

#include <chrono>
#include <cstdio>
#include <thread>
#include <typeinfo>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/options.hpp"
#include "apps/cli/thread_count.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"

namespace fc::app {

namespace {
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// A usage error is the same on every rank (they read the same options) and rank 0 alone
// reports it. A rank that exits before rank 0 has printed makes mpirun end the job, rank 0
// with it, and the error was lost (seen once in a loaded make test: exit 2, no line). So
// the other ranks give rank 0 up to 5 s: its exit makes mpirun SIGTERM them, which ends
// the wait at once.
void let_rank0_report_first() {
  for (int i = 0; i < 500 && !interrupted(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}
}  // namespace


int main_guard(const char* program, const std::function<int()>& body) {
  try {
    check_thread_environment();   // before any parallel region
    install_interrupt_handler();  // before any work: every phase stops cleanly on a signal
    int rc = body();
    silence_interrupts();
    dist::finalize();
    return rc;
  } catch (const Interrupted& e) {
    if (dist::is_root()) std::fprintf(stderr, "%s: %s\n", program, one_line(e.what()).c_str());
    silence_interrupts();
    return 130;
  } catch (const UsageError& e) {
    if (dist::is_root())
      std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program, one_line(e.what()).c_str(), program);
    else
      let_rank0_report_first();
    silence_interrupts();
    return 2;
  } catch (const std::exception& e) {
    if (dist::is_root()) std::fprintf(stderr, "%s: error: %s\n", program, one_line(e.what()).c_str());
    else std::fprintf(stderr, "%s: error (rank %d of %d): %s\n", program, dist::rank(), dist::size(),
                      one_line(e.what()).c_str());
    silence_interrupts();
    return 1;
  }
}

}  // namespace fc::app
