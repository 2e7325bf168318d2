#pragma once
// One exception type for every engine error, with a message built like a stream:
//   FC_CHECK(a.ndim() == 2, "matmul: expected 2-D, got " << a.shape());
// Errors never abort: bad shapes, missing kernels and corrupt files all throw.
#include <sstream>
#include <stdexcept>
#include <string>

namespace fc {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace fc

#define FC_THROW(msg)                 \
  do {                                \
    std::ostringstream fc_oss_;       \
    fc_oss_ << msg;                   \
    throw ::fc::Error(fc_oss_.str()); \
  } while (0)

#define FC_CHECK(cond, msg) \
  do {                      \
    if (!(cond)) FC_THROW(msg); \
  } while (0)
