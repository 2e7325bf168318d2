#include "apps/cli/options.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "apps/cli/number_text.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/parse_number.hpp"

namespace fc::app {

namespace {

// cxxopts matches every argument with std::regex, which recurses once per character:
// an argument of ~30 kB overflows the stack. No option needs more than a path's length.
constexpr size_t kMaxArgument = 4096;

void check_argument_lengths(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const size_t n = std::strlen(argv[i]);
    if (n <= kMaxArgument) continue;
    const std::string head(argv[i], 24);
    const bool option = head.rfind("--", 0) == 0, after_option = i > 1 && argv[i - 1][0] == '-';
    throw UsageError((option ? "an option" : after_option ? "the value of '" + std::string(argv[i - 1]) + "'"
                                                           : "argument " + std::to_string(i)) +
                     " ('" + head + "...') is " + std::to_string(n) + " characters long; the longest allowed is " +
                     std::to_string(kMaxArgument));
  }
}

// The bad value's option: "--x v" or "--x=v".
std::string option_of_value(int argc, char** argv, const std::string& what) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos &&
        what.find("\u2018" + arg.substr(eq + 1) + "\u2019") != std::string::npos)
      return arg.substr(0, eq);
    if (i >= 2 && std::string(argv[i - 1]).rfind("--", 0) == 0 &&
        what.find("\u2018" + arg + "\u2019") != std::string::npos)
      return argv[i - 1];
  }
  return "";
}

// Whether the option `key` holds a T (cxxopts keeps its type behind a cast).
template <typename T>
bool holds(const cxxopts::ParseResult& r, const std::string& key) {
  try {
    (void)r[key].as<T>();
    return true;
  } catch (const std::bad_cast&) {
    return false;
  }
}

// cxxopts reads a double with a stream (so "2abc" is 2 and "0x10" is 0) and an integer
// in hex too ("0x10" is 16): every number given is read again here, strictly
// (engine/parse_number.hpp), and refused unless it is a plain decimal.
void check_numbers(const cxxopts::ParseResult& r) {
  for (const cxxopts::KeyValue& kv : r.arguments()) {
    const std::string& text = kv.value();
    auto refuse = [&](const std::string& why) {
      throw UsageError("option '--" + kv.key() + "': '" + text + "' " + why);
    };
    if (holds<double>(r, kv.key())) {
      if (!parse_decimal(text)) refuse("is not a finite decimal number (such as 0.5 or 1e-3)");
    } else if (holds<int64_t>(r, kv.key())) {
      if (!parse_integer(text)) refuse("is not a decimal integer");
    } else if (holds<uint64_t>(r, kv.key())) {
      if (!parse_unsigned(text)) refuse("is not a decimal integer of 0 or more");
    }
  }
}

}  // namespace

cxxopts::ParseResult parse_or_usage(cxxopts::Options& options, int argc, char** argv) {
  check_argument_lengths(argc, argv);
  cxxopts::ParseResult r;
  try {
    r = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    // cxxopts says "Argument 'abc' failed to parse" without the option; find the
    // option the bad value was given to.
    const std::string what = e.what(), option = option_of_value(argc, argv, what);
    throw UsageError(option.empty() ? what : "option '" + option + "': " + what);
  }
  check_numbers(r);
  return r;
}

cxxopts::ParseResult parse_with_help(cxxopts::Options& options, int argc, char** argv) {
  options.add_options()("h,help", "show this help");
  cxxopts::ParseResult r = parse_or_usage(options, argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    std::exit(0);
  }
  if (!r.unmatched().empty()) throw UsageError("unexpected argument '" + r.unmatched().front() + "'");
  return r;
}

void require_positive(const char* option, int64_t value) {
  if (value <= 0)
    throw UsageError("option '--" + std::string(option) + "': must be positive, got " +
                     std::to_string(value));
}

void require_range(const char* option, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi)
    throw UsageError("option '--" + std::string(option) + "': must be in [" + std::to_string(lo) +
                     ", " + std::to_string(hi) + "], got " + std::to_string(value));
}

void require_nonempty(const char* option, const std::string& value) {
  if (value.empty()) throw UsageError("option '--" + std::string(option) + "': must not be empty");
}

void require_real(const char* option, double value, double lo, double hi, Interval interval) {
  const bool open = interval == Interval::OpenAbove;
  if (!(std::isfinite(value) && value >= lo && (open ? value < hi : value <= hi)))
    throw UsageError("option '--" + std::string(option) + "': must be in [" + fmt(lo, 6) + ", " + fmt(hi, 6) +
                     (open ? ")" : "]") + ", got " + fmt(value, 6));
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}


void require_batch_split(const char* option, int64_t batch) {
  const int64_t n = dist::size();
  if (n == 1) return;
  if (batch < n)
    throw UsageError(std::string("option '--") + option + "': " + std::to_string(batch) + " is fewer rows than the " +
                     std::to_string(n) + " ranks of this run (each rank computes batch / ranks rows)");
  if (batch % n != 0)
    throw UsageError(std::string("option '--") + option + "': " + std::to_string(batch) +
                     " does not split evenly over the " + std::to_string(n) + " ranks of this run");
}

cxxopts::ParseResult parse_with_dataset(cxxopts::Options& options, int argc, char** argv,
                                        std::string& dataset, const std::string& dataset_help) {
  options.add_options()("dataset", dataset_help, cxxopts::value<std::string>(dataset));
  options.positional_help("DATASET");
  options.parse_positional({"dataset"});
  cxxopts::ParseResult r = parse_with_help(options, argc, argv);
  if (dataset.empty()) throw UsageError("missing DATASET (try --help)");
  return r;
}

void apply_preset(const std::string& preset, const std::vector<PresetValue>& table,
                  const cxxopts::ParseResult& given) {
  if (preset != "quick" && preset != "paper")
    throw UsageError("option '--preset': must be quick or paper, got '" + preset + "'");
  for (const PresetValue& p : table)
    if (!given.count(p.option)) *p.field = preset == "quick" ? p.quick : p.paper;
}

}  // namespace fc::app
