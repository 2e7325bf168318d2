#include "apps/cli/thread_count.hpp"

#include <cstdlib>
#include <optional>
#include <string>

#include "apps/cli/options.hpp"
#include "engine/parse_number.hpp"

namespace fc::app {

void require_thread_count(int64_t threads) { require_range("threads", threads, 0, kMaxThreads); }

void check_thread_environment() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (!env) return;
  const std::string text = env;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::optional<int64_t> n = parse_integer(item);
    if (!n || *n < 1 || *n > kMaxThreads)
      throw UsageError("environment variable OMP_NUM_THREADS='" + text.substr(0, 40) +
                       "': each count must be a whole number from 1 to " + std::to_string(kMaxThreads) +
                       " (or unset it: all cores)");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace fc::app
