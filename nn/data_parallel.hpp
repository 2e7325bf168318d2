#pragma once
// Data parallelism over the ranks of engine/dist.hpp: every rank holds the whole
// model, computes the gradient of its rows of the global batch, and the gradients are
// averaged so that every rank takes the same optimizer step, the step one process
// would take on the whole batch.
//
// backward_and_average overlaps the average with backward, as PyTorch DDP does: the
// flat gradient buffer is cut into buckets, and a bucket's all-reduce starts as soon as
// backward has completed every gradient in it. MPI moves data only inside its calls
// (no progress thread on CPU ranks), so backward calls dist::progress() after each of
// its nodes. average_gradients is the one all-reduce after backward.
#include <cstdint>
#include <vector>

#include "nn/module.hpp"

namespace fc::nn {

// Sums the flat gradients over the ranks and divides by their number. Each rank's
// loss must be the mean over its rows of an equal share of the batch: then this is
// the gradient of the mean over the whole batch. Nothing happens with one rank.
void average_gradients(Module& module);

// The default bucket of backward_and_average: 1 MiB of gradients (the 2-D MLP's
// 2.1 MB in 3 buckets, the quick UNet's 4.5 MB in 5, the paper UNet's 24.9 MB in 24).
constexpr int64_t kDefaultBucketBytes = int64_t{1} << 20;

// The buckets of backward_and_average: ranges [begin, end) of the flat gradient
// buffer, from its end back, each of whole parameters (listed last first) and closed
// once it holds bucket_bytes or more.
struct GradientBucket {
  int64_t begin = 0, end = 0;
  std::vector<const TensorImpl*> parameters;
};
std::vector<GradientBucket> gradient_buckets(Module& module, int64_t bucket_bytes);

// loss.backward() followed by average_gradients(module), with the all-reduce in
// buckets of about bucket_bytes overlapped with backward. Buckets are contiguous
// ranges of the flat buffer in reverse order of the parameters (the order backward
// produces their gradients); every rank starts them in the same order, which holds as
// the ranks' graphs are the same. The result equals backward then average_gradients
// bit for bit (each element is summed over the same ranks). With one rank,
// bucket_bytes <= 0, or a module on a device: backward, then average_gradients (on a
// GPU one NCCL all-reduce queued on the device's stream behind backward, which the
// host does not wait for).
void backward_and_average(Module& module, const Tensor& loss, int64_t bucket_bytes = kDefaultBucketBytes);

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
