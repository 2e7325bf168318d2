#pragma once
// Cooperative cancellation. Long computations call cancellation_point() between steps
// (the ODE solvers after every step); a program installs a check there that throws to
// abandon the computation (apps/cli/interrupt: Ctrl-C, SIGTERM or SIGHUP stop
// sampling, likelihoods and pair making within one solver step). The engine itself
// knows nothing of signals; without a check the point does nothing.
namespace fc {

using CancellationCheck = void (*)();

// Installs `check` (nullptr: none). Set once by the program before any work.
void set_cancellation_check(CancellationCheck check);

// Runs the installed check, which may throw.
void cancellation_point();

}  // namespace fc
