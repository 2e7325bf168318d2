#pragma once
// Data parallelism over the ranks of engine/dist.hpp: every rank holds the whole
// model, computes the gradient of its rows of the global batch, and the gradients are
// averaged so that every rank takes the same optimizer step, the step one process
// would take on the whole batch.
//
// The average is one all-reduce over the module's flat gradient buffer after
// backward, not buckets overlapped with it: on CPU ranks MPI makes progress only
// inside its calls (no progress thread), so an overlapped bucket would wait for the
// next call anyway, and one call is the fewest latencies. (bench/RESULTS.md measures
// the all-reduce's share of a step.)
#include <cstdint>

#include "nn/module.hpp"

namespace fc::nn {

// Sums the flat gradients over the ranks and divides by their number. Each rank's
// loss must be the mean over its rows of an equal share of the batch: then this is
// the gradient of the mean over the whole batch. Nothing happens with one rank.
void average_gradients(Module& module);

// The mean over the ranks of one number per rank (the loss of each rank's rows).
double mean_over_ranks(double local);

// A 64-bit hash of the bits of the flat parameters (FNV-1a): equal on two ranks
// exactly when their parameters are equal, bit for bit (but for collisions).
uint64_t parameter_checksum(Module& module);

// Compares the parameter checksum of every rank with rank 0's; on a mismatch every
// rank throws fc::Error naming the iteration and the ranks that differ.
void check_replicas_agree(Module& module, int64_t iteration);

// (testing) When the environment has FLOWCPP_TEST_DESYNC_AT=K, the last rank nudges
// one parameter at iteration K, so that a test can see check_replicas_agree stop the
// run.
void testing_desync(Module& module, int64_t iteration);

}  // namespace fc::nn
