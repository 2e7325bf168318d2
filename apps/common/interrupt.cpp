#include "apps/common/interrupt.hpp"

#include <csignal>
#include <unistd.h>

#include "engine/dist.hpp"

namespace fc::app {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
bool g_quiet = false;  // under mpirun only rank 0 says it was interrupted

void on_signal(int) {
  if (g_interrupted) _exit(130);
  g_interrupted = 1;
  if (g_quiet) return;
  const char msg[] = "\ninterrupted: finishing this step, saving a checkpoint (Ctrl-C again to quit now)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}
}  // namespace

void install_interrupt_handler() {
  g_quiet = !dist::is_root();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }
void request_interrupt() { g_interrupted = 1; }

}  // namespace fc::app
