#pragma once
// The fuzz targets, one per file format flowcpp reads, as plain C++ that g++ builds
// too: libFuzzer calls them from fuzz/driver.cpp (clang, `make fuzz`), and the test
// suite replays the inputs kept under tests/fuzz_regressions/ through them (`make test`).
//
// A target writes the bytes where the loader expects a file, runs the loader, and then
// checks what came back against the bytes (sizes, values, a save/load round trip). A
// loader may refuse the input with fc::Error, which is the expected answer to garbage;
// anything else (another exception, a result that disagrees with the bytes, and under
// the sanitizers any memory error or undefined behaviour) is a finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fc::fuzz {

// A loader returned something that does not agree with its input.
struct Violation : std::logic_error {
  using std::logic_error::logic_error;
};

// The names of the targets, in a fixed order.
std::vector<std::string> target_names();

// Runs target `name` on the bytes: returns when the loader refused them with fc::Error
// (false) or returned a consistent result (true: some load of the bytes was accepted);
// throws Violation (or whatever the loader let escape) otherwise. An unknown name
// throws std::invalid_argument.
bool run_target(const std::string& name, const uint8_t* data, size_t size);

}  // namespace fc::fuzz
