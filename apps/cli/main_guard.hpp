#pragma once
// What every program's main() is wrapped in: one line for any error, and the exit
// statuses the tests rely on (2 usage, 1 failure, 130 a signal).
#include <functional>

namespace fc::app {

// Runs body, printing "PROGRAM: error: MESSAGE" on one line for any exception:
// exit 2 for usage errors, 1 for everything else; "PROGRAM: interrupted ..." and exit
// 130 for a signal (apps/cli/interrupt.hpp, whose handler it installs first). Under mpirun a usage error is
// printed by rank 0 alone (every rank parses the same command line), other errors by
// each rank that has one, naming it; MPI is ended when body returns, and not after an
// error, so that the launcher stops the ranks still waiting for this one.
int main_guard(const char* program, const std::function<int()>& body);

}  // namespace fc::app
