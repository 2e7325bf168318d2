// Catch2 main: runs every test case, then prints one line "N passed, M failed"
// (test cases) as the last line, which `make test` and CI read. `--jobs N` runs the
// cases N at a time, each in its own process (tests/process_pool.hpp; make test
// passes the number of cores).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "process_pool.hpp"

namespace {

Catch::Totals g_totals;

struct TotalsListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override { g_totals = stats.totals; }
};

// The names of the test cases this command line selects, as a plain run would pick
// them; each checked to select itself alone through fc::test::exact_test_spec, so that
// under --jobs no case runs twice or not at all (*ok false, with a message, when one
// does not).
std::vector<std::string> selected_test_names(Catch::Session& session, bool* ok) {
  const Catch::Config& config = session.config();
  const auto& all = Catch::getAllTestCasesSorted(config);
  std::vector<std::string> names;
  *ok = true;
  for (const Catch::TestCase& c : Catch::filterTests(all, config.testSpec(), config)) {
    const Catch::TestSpec spec =
        Catch::TestSpecParser(Catch::ITagAliasRegistry::get()).parse(fc::test::exact_test_spec(c.name)).testSpec();
    size_t matched = 0;
    for (const Catch::TestCase& other : all) matched += Catch::matchTest(other, spec, config) ? 1 : 0;
    if (matched != 1) {
      std::fprintf(stderr, "run_tests --jobs: the name \"%s\" selects %zu test cases; rename it\n",
                   c.name.c_str(), matched);
      *ok = false;
    }
    names.push_back(c.name);
  }
  return names;
}

}  // namespace

CATCH_REGISTER_LISTENER(TotalsListener)

int main(int argc, char** argv) {
  // The tests never reach the internet: a program that would download a dataset finds
  // its mirror on a closed loopback port (unreachable: the offline fallback), unless a
  // test points it at the loopback server it started.
  ::setenv("FLOWCPP_DATA_MIRRORS", "http://127.0.0.1:1/", 1);
  Catch::Session session;
  std::string jobs_text = "1";  // (read as text: a bad count is our one line, not Catch's)
  session.cli(session.cli() |
              Catch::clara::Opt(jobs_text, "N")["--jobs"](
                  "run the test cases N at a time, each in its own process (default 1: all in this one)"));
  int rc = session.applyCommandLine(argc, argv);
  if (rc != 0) return rc;
  char* end = nullptr;
  const long jobs = std::strtol(jobs_text.c_str(), &end, 10);
  if (end == jobs_text.c_str() || *end != '\0' || jobs < 1 || jobs > 1024) {
    std::fprintf(stderr, "run_tests: option '--jobs': must be a whole number from 1 to 1024, got '%s'\n",
                 jobs_text.c_str());
    return 2;
  }
  const Catch::ConfigData& given = session.configData();
  const bool listing = given.listTests || given.listTestNamesOnly || given.listTags || given.listReporters;
  if (jobs > 1 && !listing && !given.showHelp) {
    bool ok = false;
    const std::vector<std::string> names = selected_test_names(session, &ok);
    return ok ? fc::test::run_in_processes(names, static_cast<int>(jobs)) : 2;
  }
  rc = session.run();
  std::fflush(stdout);
  std::printf("%llu passed, %llu failed\n",
              static_cast<unsigned long long>(g_totals.testCases.passed),
              static_cast<unsigned long long>(g_totals.testCases.failed));
  return rc;
}
