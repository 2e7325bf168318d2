#pragma once
// Command-line plumbing shared by the programs: one-line errors for bad options
// (exit 2) and for bad input files or failures (exit 1), never a crash.
#include <cxxopts.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fc::app {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// cxxopts' parse, with its exceptions turned into UsageError ("option '--x': ...").
cxxopts::ParseResult parse_or_usage(cxxopts::Options& options, int argc, char** argv);

// Adds -h/--help, parses (one-line errors), prints the help and exits on --help, and
// refuses arguments that are no option's.
cxxopts::ParseResult parse_with_help(cxxopts::Options& options, int argc, char** argv);

void require_positive(const char* option, int64_t value);
void require_range(const char* option, int64_t value, int64_t lo, int64_t hi);
// A real option in [lo, hi] (Closed) or [lo, hi) (OpenAbove), finite, or a UsageError
// naming the option and the interval.
enum class Interval { Closed, OpenAbove };
void require_real(const char* option, double value, double lo, double hi, Interval interval = Interval::Closed);
// Under mpirun the batch is split over the ranks: it must divide evenly, at least one
// row each (a UsageError naming the option otherwise). Nothing to check with one rank.
void require_batch_split(const char* option, int64_t batch);

// The common tail of a DATASET program's parsing: parse_with_help with the positional
// DATASET, refusing a missing one.
cxxopts::ParseResult parse_with_dataset(cxxopts::Options& options, int argc, char** argv,
                                        std::string& dataset, const std::string& dataset_help);

// A preset's value for one integer option: `quick` (the default, minutes on a laptop)
// or `paper` (the reference recipe). Options the user gave win over the preset.
struct PresetValue {
  const char* option;
  int64_t* field;
  int64_t quick, paper;
};
void apply_preset(const std::string& preset, const std::vector<PresetValue>& table,
                  const cxxopts::ParseResult& given);

std::string join(const std::vector<std::string>& parts, const std::string& sep);

// Writes text to path atomically (temp file + rename).
void write_json(const std::string& path, const std::string& text);

// Runs body, printing "PROGRAM: error: MESSAGE" on one line for any exception:
// exit 2 for usage errors, 1 for everything else; "PROGRAM: interrupted ..." and exit
// 130 for a signal (apps/common/interrupt.hpp, whose handler it installs first). Under mpirun a usage error is
// printed by rank 0 alone (every rank parses the same command line), other errors by
// each rank that has one, naming it; MPI is ended when body returns, and not after an
// error, so that the launcher stops the ranks still waiting for this one.
int main_guard(const char* program, const std::function<int()>& body);

}  // namespace fc::app
