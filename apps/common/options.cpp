#include "apps/common/options.hpp"

#include <cstdio>

#include "apps/common/interrupt.hpp"

#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::app {

cxxopts::ParseResult parse_or_usage(cxxopts::Options& options, int argc, char** argv) {
  try {
    return options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    // cxxopts says "Argument 'abc' failed to parse" without the option; find the
    // option the bad value was given to.
    std::string what = e.what();
    for (int i = 2; i < argc; ++i) {
      std::string value = argv[i], option = argv[i - 1];
      if (option.rfind("--", 0) == 0 && what.find("\u2018" + value + "\u2019") != std::string::npos)
        throw UsageError("option '" + option + "': " + what);
    }
    throw UsageError(what);
  }
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

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

void write_json(const std::string& path, const std::string& text) { io::atomic_write_text(path, text + "\n"); }

namespace {
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

int main_guard(const char* program, const std::function<int()>& body) {
  try {
    install_interrupt_handler();  // before any work: every phase stops cleanly on a signal
    int rc = body();
    dist::finalize();
    return rc;
  } catch (const Interrupted& e) {
    if (dist::is_root()) std::fprintf(stderr, "%s: %s\n", program, one_line(e.what()).c_str());
    return 130;
  } catch (const UsageError& e) {
    if (dist::is_root())
      std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program, one_line(e.what()).c_str(), program);
    return 2;
  } catch (const std::exception& e) {
    if (dist::is_root()) std::fprintf(stderr, "%s: error: %s\n", program, one_line(e.what()).c_str());
    else std::fprintf(stderr, "%s: error (rank %d of %d): %s\n", program, dist::rank(), dist::size(),
                      one_line(e.what()).c_str());
    return 1;
  }
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
