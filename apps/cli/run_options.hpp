#pragma once
// The options every training program takes, whatever it trains (cfm2d, reflow2d and
// cfm_image): --seed, --threads, --output, --checkpoint-every, --resume, --interrupt-at.
// A program's own options struct derives from CommonRunOptions, so its code reads
// c.seed or run.seed as before, and the options are declared and checked once.
#include <cxxopts.hpp>

#include <cstdint>
#include <string>

namespace fc::app {

struct CommonRunOptions {
  std::string output;
  int64_t seed = 0, threads = 0, checkpoint_every = 1000, interrupt_at = -1;
  bool resume = false;
};

// What differs between the programs: the defaults and the help of --output and --resume.
struct CommonRunDefaults {
  std::string seed, checkpoint_every;
  std::string output;  // "" when the program computes it after parsing
  std::string output_help, resume_help;
};

void add_common_run_options(cxxopts::Options& options, CommonRunOptions& run,
                            const CommonRunDefaults& defaults);
// Sets run.resume from `given` and checks --threads, --seed and --checkpoint-every (a
// UsageError naming the option).
void check_common_run_options(CommonRunOptions& run, const cxxopts::ParseResult& given);

}  // namespace fc::app
