#pragma once
// Stopping a program cleanly, in every phase, on Ctrl-C (SIGINT), SIGTERM (kill, a batch
// system, mpirun passing Ctrl-C on) and SIGHUP (the terminal closed):
// - main_guard installs the handler before any work. It records the signal and says it
//   was heard; a second signal exits at once (130).
// - A phase with work to keep polls interrupted() at its own safe points inside a
//   SavesOnInterrupt scope: the training loop checkpoints (every rank at the same
//   iteration). Pair making catches Interrupted and writes the pairs made so far.
// - Everywhere else the next cancellation point (each ODE solver step through
//   engine/cancel.hpp, each progress-bar update, each GIF frame, each Phase's start) throws Interrupted, which
//   main_guard prints on one line and turns into exit 130. So every phase stops within
//   one step, never minutes later.
#include <stdexcept>
#include <string>

namespace fc::app {

// main_guard prints "PROGRAM: " and the message, and exits 130.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SIGINT, SIGTERM and SIGHUP set the flag, SIGPIPE is ignored; installs
// throw_if_interrupted as the engine's cancellation check. Reads the test hook below.
void install_interrupt_handler();
// From here on rank 0 says "SIGTERM: stopping ..." when a signal comes (init_ranks calls
// it once the options are read and the ranks agree). Before it a signal is caught as
// well, and stops the run at its first cancellation point with the one line that names
// it, but it says nothing: under mpirun the first rank to refuse a bad option makes the
// launcher SIGTERM the others, rank 0 among them, whose notice was then a second line.
void announce_interrupts();
// After the program's last word (its result or its one-line error): a signal that comes
// now is still caught, so the exit status stays the program's, but says nothing (the
// launcher's SIGTERM of the ranks after one exited with an error, as above).
void silence_interrupts();
bool interrupted();
// Sets the flag as a signal would (tests and --interrupt-at use it).
void request_interrupt();

// A cancellation point: throws interrupted_error() once a signal came, except inside a
// SavesOnInterrupt scope.
void throw_if_interrupted();
// "interrupted by SIGTERM while sampling; " and `kept` (what was kept, what to do next),
// or the innermost phase's hint when kept is empty.
Interrupted interrupted_error(const std::string& kept = "");

// Names a stretch of a program ("sampling", "likelihood") for the message and the test
// hook; the hint says what is kept and how to go on ("the checkpoint is saved ...").
// Phases nest: the innermost names the message, the innermost hint is given. Its start
// is a cancellation point too.
class Phase {
 public:
  explicit Phase(std::string name, std::string hint = "");
  ~Phase();
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;
};

// Within its scope cancellation points do not throw: the phase polls interrupted()
// itself and keeps its work (the training loop: a throw in the middle of a step would
// lose the step's state, and under mpirun the ranks must stop at the same iteration).
class SavesOnInterrupt {
 public:
  SavesOnInterrupt();
  ~SavesOnInterrupt();
  SavesOnInterrupt(const SavesOnInterrupt&) = delete;
  SavesOnInterrupt& operator=(const SavesOnInterrupt&) = delete;
};

// (testing) With FLOWCPP_TEST_SIGNAL=PHASE:SIG[:K] in the environment (SIG: INT, TERM or
// HUP; K: 1 when left out) the process sends itself the real signal at the K-th
// cancellation point of phase PHASE (counted while it is the innermost one), so that a
// test can stop any phase of a tiny run at a known place.

}  // namespace fc::app
