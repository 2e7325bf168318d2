#include "apps/train/reflow_rounds.hpp"

#include <cstdio>
#include <filesystem>
#include <utility>

#include "apps/train/state.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "nn/safetensors.hpp"

namespace fc::app {

ReflowRounds::ReflowRounds(std::string program, std::string dir, int64_t count, std::string first_teacher)
    : program_(std::move(program)), dir_(std::move(dir)), first_teacher_(std::move(first_teacher)), count_(count) {}

std::string ReflowRounds::teacher_of(int64_t round) const {
  return round == 1 ? first_teacher_ : dir_ + "/round" + std::to_string(round - 1) + ".safetensors";
}

int64_t ReflowRounds::first_round(const std::string& ckpt, bool from_checkpoint) const {
  if (!from_checkpoint) return 1;
  const auto round = static_cast<int64_t>(metadata_u64(nn::load_safetensors(ckpt), ckpt, "round"));
  FC_CHECK(round >= 1 && round <= count_, ckpt << ": checkpoint is in round " << round << " of a run with more --rounds");
  return round;
}

void ReflowRounds::announce_resume(int64_t round, int64_t iteration, int64_t iterations) const {
  if (dist::is_root())
    std::fprintf(stderr, "%s: resuming round %lld at iteration %lld of %lld\n", program_.c_str(),
                 static_cast<long long>(round), static_cast<long long>(iteration), static_cast<long long>(iterations));
}

void ReflowRounds::announce(int64_t round, const std::string& teacher) const {
  if (count_ > 1 && dist::is_root())
    std::fprintf(stderr, "%s: round %lld of %lld (teacher %s)\n", program_.c_str(), static_cast<long long>(round),
                 static_cast<long long>(count_), teacher.c_str());
}

void ReflowRounds::keep_as_teacher(const std::string& ckpt, int64_t round) const {
  if (round < count_ && dist::is_root())
    std::filesystem::copy_file(ckpt, teacher_of(round + 1), std::filesystem::copy_options::overwrite_existing);
}

}  // namespace fc::app
