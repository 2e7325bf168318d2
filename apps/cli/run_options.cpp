#include "apps/cli/run_options.hpp"

#include "apps/cli/options.hpp"
#include "apps/cli/thread_count.hpp"

namespace fc::app {

void add_common_run_options(cxxopts::Options& o, CommonRunOptions& run, const CommonRunDefaults& d) {
  auto output = cxxopts::value<std::string>(run.output);
  if (!d.output.empty()) output->default_value(d.output);
  o.add_options()
      ("seed", "random seed", cxxopts::value<int64_t>(run.seed)->default_value(d.seed))
      ("threads", "CPU threads (default: OMP_NUM_THREADS or all cores)",
       cxxopts::value<int64_t>(run.threads)->default_value("0"))
      ("output", d.output_help, output)
      ("checkpoint-every", "save a checkpoint every N iterations (0: only at the end)",
       cxxopts::value<int64_t>(run.checkpoint_every)->default_value(d.checkpoint_every))
      ("resume", d.resume_help)
      ("interrupt-at", "(testing) behave as if Ctrl-C came at this iteration",
       cxxopts::value<int64_t>(run.interrupt_at)->default_value("-1"));
}

void check_common_run_options(CommonRunOptions& run, const cxxopts::ParseResult& given) {
  run.resume = given.count("resume") > 0;
  if (given.count("output")) require_nonempty("output", run.output);
  require_thread_count(run.threads);
  require_range("seed", run.seed, 0, INT64_MAX);  // stored as unsigned: -1 would come back as 2^64 - 1
  require_range("checkpoint-every", run.checkpoint_every, 0, INT64_MAX);
}

}  // namespace fc::app
