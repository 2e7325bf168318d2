#pragma once
// Ctrl-C handling for long runs: the first SIGINT (or SIGTERM) sets a flag that the
// training loop checks, so it can save a checkpoint and exit cleanly; a second one
// exits at once.
namespace fc::app {

void install_interrupt_handler();
bool interrupted();
// Sets the flag as a signal would (tests and --interrupt-at use it).
void request_interrupt();

}  // namespace fc::app
