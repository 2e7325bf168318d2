// Catch2 main: runs every test case, then prints one line "N passed, M failed"
// (test cases) as the last line, which `make test` and CI read.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

namespace {

Catch::Totals g_totals;

struct TotalsListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override { g_totals = stats.totals; }
};

}  // namespace

CATCH_REGISTER_LISTENER(TotalsListener)

int main(int argc, char** argv) {
  Catch::Session session;
  int rc = session.applyCommandLine(argc, argv);
  if (rc != 0) return rc;
  rc = session.run();
  std::fflush(stdout);
  std::printf("%llu passed, %llu failed\n",
              static_cast<unsigned long long>(g_totals.testCases.passed),
              static_cast<unsigned long long>(g_totals.testCases.failed));
  return rc;
}
