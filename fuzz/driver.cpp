// The libFuzzer entry point of one target (FUZZ_TARGET_NAME, set by fuzz/fuzz.mk).
// Whatever escapes run_target (Violation, an exception other than fc::Error) ends in
// std::terminate, which libFuzzer records as a crash with the input that caused it.
#include <cstddef>
#include <cstdint>

#include "engine/threads.hpp"
#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fc::set_num_threads(1);  // one thread per fuzzing process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fc::fuzz::run_target(FUZZ_TARGET_NAME, data, size);
  return 0;
}
