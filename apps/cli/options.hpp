#pragma once
// Command-line options shared by the programs: strict parsing (a bad value is a
// UsageError naming the option: one line and exit 2 through main_guard.hpp), range
// checks, the DATASET positional, and the quick/paper presets.
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
// A folder or file option given as '': refused, since OUTPUT + "/" + DATASET would be a
// folder at the filesystem's root.
void require_nonempty(const char* option, const std::string& value);
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

}  // namespace fc::app
