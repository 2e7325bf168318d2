#pragma once
// NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html)
// for float tensors: what Python writes, we read, and the other way round.
#include <string>

#include "engine/tensor.hpp"

namespace fc::data {

// Writes `t` as little-endian float32 ('<f4'), C order, with the tensor's shape, in
// format version 1.0 (header padded so the data starts at a multiple of 64 bytes).
// The file appears whole or not at all: it is written to a temporary beside `path`,
// synced, then renamed over it. Errors are one line naming the path.
void save_npy(const std::string& path, const Tensor& t);

// Reads a C-order '<f4' or '<f8' array (f8 is converted to float32) of up to kMaxDims
// dimensions into a CPU tensor. Versions 1.0, 2.0 and 3.0 are accepted. Anything else
// (bad magic, other versions or dtypes, fortran_order True, a header that does not
// parse, data shorter or longer than the shape says) throws a one-line fc::Error that
// starts with the path.
Tensor load_npy(const std::string& path);

}  // namespace fc::data
