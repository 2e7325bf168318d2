// `run_tests --jobs N` (tests/process_pool.hpp): each case in its own process, a
// failure or a crash counted against that case alone, warnings shown, the totals line
// last. The suite runs itself here on three hidden demonstration cases.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "app_runner.hpp"
#include "process_pool.hpp"

namespace {

// What `run_tests ARGS` printed on stdout and stderr, and its exit status.
AppRun run_suite(const std::string& args) { return run_app("sh -c '" + fc::test::this_executable() + " " + args + " 1>&2'"); }

}  // namespace

// Hidden ([.]): they run only when named, as the test below names them.
TEST_CASE("process pool demo: passes, with a warning", "[.][process_pool_demo]") {
  WARN("a warning the pool must show");
  CHECK(1 + 1 == 2);
}
TEST_CASE("process pool demo: fails a check", "[.][process_pool_demo]") { CHECK(1 + 1 == 3); }
TEST_CASE("process pool demo: aborts", "[.][process_pool_demo]") { std::abort(); }

TEST_CASE("run_tests --jobs: each case in its own process; failures and crashes counted, warnings shown",
          "[process_pool]") {
  AppRun r = run_suite("--jobs 2 \"process pool demo*\"");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("3 test cases, 2 at a time") != std::string::npos);
  CHECK(r.err.find("a warning the pool must show") != std::string::npos);
  CHECK(r.err.find("FAILED") != std::string::npos);
  CHECK(r.err.find("(killed by signal Aborted)") != std::string::npos);
  CHECK(r.err.find("1 + 1 == 3") != std::string::npos);  // the failed case's own report
  // The last line is the totals, as make test and CI read it.
  const size_t end = r.err.find_last_not_of('\n');
  REQUIRE(end != std::string::npos);
  CHECK(r.err.substr(r.err.rfind('\n', end) + 1, end - r.err.rfind('\n', end)) == "1 passed, 2 failed");

  AppRun ok = run_suite("--jobs 2 \"process pool demo: passes*\"");
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.err.find("1 passed, 0 failed") != std::string::npos);
}

TEST_CASE("run_tests --jobs: a bad count is one line naming the option", "[process_pool]") {
  for (const char* bad : {"0", "x", "2x", "5000"}) {
    AppRun r = run_suite(std::string("--jobs ") + bad);
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("option '--jobs': must be a whole number from 1 to 1024, got '" + std::string(bad) + "'") !=
          std::string::npos);
    CHECK(count_lines(r.err) == 1);
  }
  // (a negative count reads as another option to Catch's parser, which says so)
  AppRun negative = run_suite("--jobs -3");
  CHECK(negative.exit_code != 0);
  CHECK(negative.err.find("--jobs") != std::string::npos);
  AppRun none = run_suite("--jobs 2 \"no such test case\"");
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("No test cases matched") != std::string::npos);
}

TEST_CASE("exact_test_spec escapes what Catch's spec parser reads", "[process_pool]") {
  using fc::test::exact_test_spec;
  CHECK(exact_test_spec("plain name") == "plain name");
  CHECK(exact_test_spec("a, b [c] \"d\" ~e *f \\g") == "a\\, b \\[c\\] \\\"d\\\" \\~e \\*f \\\\g");
}
