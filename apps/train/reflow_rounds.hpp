#pragma once
// The rounds of a reflow run (reflow2d, cfm_image --reflow and --distill): each round
// trains DIR/ckpt.safetensors from its teacher; a finished round's model is kept as
// DIR/roundK.safetensors and teaches round K + 1. The first teacher is the user's.
#include <cstdint>
#include <string>

namespace fc::app {

class ReflowRounds {
 public:
  ReflowRounds(std::string program, std::string dir, int64_t count, std::string first_teacher);

  // The teacher of a round: the user's for round 1, round K - 1's model after.
  std::string teacher_of(int64_t round) const;
  // The round to start in: 1, or with from_checkpoint the "round" of ckpt's metadata
  // (one line when it is beyond this run's --rounds).
  int64_t first_round(const std::string& ckpt, bool from_checkpoint) const;
  // On rank 0: "PROGRAM: resuming round K at iteration I of N".
  void announce_resume(int64_t round, int64_t iteration, int64_t iterations) const;
  // On rank 0, for runs of several rounds: "PROGRAM: round K of N (teacher T)".
  void announce(int64_t round, const std::string& teacher) const;
  // On rank 0: keeps a finished round's checkpoint as the next round's teacher (the
  // last round's is the result and stays ckpt alone). The caller holds the other ranks
  // at a barrier before they read it.
  void keep_as_teacher(const std::string& ckpt, int64_t round) const;

 private:
  std::string program_, dir_, first_teacher_;
  int64_t count_;
};

}  // namespace fc::app
