#pragma once
// `run_tests --jobs N`: the selected test cases run N at a time, each in its own process
// (this binary again, told one test's name), taken from one queue as processes finish.
// Most of the suite is single-threaded (the emulated device, the apps run as
// subprocesses, the finite differences), so on 2 cores two at a time take about half
// the time. A crash or abort fails that one test case and the rest still run.
#include <string>
#include <vector>

namespace fc::test {

// Runs the test cases `names`, `jobs` processes at once, by starting this binary
// (this_executable()) once per case with exact_test_spec(name) as its command line. Prints a
// line as each case ends, the whole output of every case that failed or printed
// something beyond Catch's summary (warnings, skips, measurements), the slowest cases,
// and last "N passed, M failed". Returns the exit status: 0 when all passed.
int run_in_processes(const std::vector<std::string>& names, int jobs);

// The test spec that selects the test case named `name` and no other: every character
// Catch's spec parser treats specially (',', '[', ']', '"', '~', '*', '\\') escaped.
std::string exact_test_spec(const std::string& name);

// The path of the running binary (/proc/self/exe): the children are this very
// binary, wherever it was started from.
std::string this_executable();

}  // namespace fc::test
