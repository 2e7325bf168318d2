#include "nn/data_parallel.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/kernels.hpp"
#include "engine/profiler.hpp"

namespace fc::nn {

void average_gradients(Module& module) {
  if (dist::size() == 1) return;
  FC_PROFILE("average_gradients");
  module.flatten_parameters();
  Tensor g = module.flat_gradients().detach();
  // The device's own all-reduce: MPI on the CPU, NCCL on a GPU (engine/kernels.hpp).
  FC_KERNEL(g.device(), all_reduce_sum, "average_gradients")(g.data(), g.numel());
  g.mul_(1.f / static_cast<float>(dist::size()));
}

std::vector<GradientBucket> gradient_buckets(Module& module, int64_t bucket_bytes) {
  module.flatten_parameters();
  const Tensor& g = module.flat_gradients();
  const std::vector<Tensor*> params = module.parameters();
  const int64_t per_bucket = std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)));
  std::vector<GradientBucket> buckets;
  int64_t end = g.numel();
  for (size_t i = params.size(); i-- > 0;) {
    const int64_t n = params[i]->numel();
    FC_CHECK(params[i]->grad().data() == g.data() + end - n,
             "gradient_buckets: parameter " << i << "'s gradient is not where the flat buffer has it");
    if (buckets.empty() || buckets.back().end - buckets.back().begin >= per_bucket) buckets.push_back({end, end, {}});
    buckets.back().begin = end - n;
    buckets.back().parameters.push_back(params[i]->impl());
    end -= n;
  }
  FC_CHECK(end == 0, "gradient_buckets: the parameters do not tile the flat gradient buffer");
  return buckets;
}

void backward_and_average(Module& module, const Tensor& loss, int64_t bucket_bytes) {
  module.flatten_parameters();
  Tensor g = module.flat_gradients().detach();
  if (dist::size() == 1 || bucket_bytes <= 0 || g.device() != Device::CPU) {
    loss.backward();
    average_gradients(module);
    return;
  }
  FC_PROFILE("backward_and_average");
  const std::vector<GradientBucket> buckets = gradient_buckets(module, bucket_bytes);
  // For each bucket, how many of its parameters' gradients backward has still to finish.
  std::vector<size_t> waiting(buckets.size());
  std::vector<bool> started(buckets.size(), false);
  std::unordered_map<const TensorImpl*, size_t> bucket_of;
  for (size_t b = 0; b < buckets.size(); ++b) {
    waiting[b] = buckets[b].parameters.size();
    for (const TensorImpl* p : buckets[b].parameters) bucket_of[p] = b;
  }
  float* base = g.data();
  auto start = [&](size_t b) {
    started[b] = true;
    dist::start_all_reduce_sum(base + buckets[b].begin, buckets[b].end - buckets[b].begin);
  };
  BackwardHooks hooks;
  hooks.leaf_done = [&](const TensorImpl* leaf) {
    auto it = bucket_of.find(leaf);
    if (it != bucket_of.end() && --waiting[it->second] == 0) start(it->second);
  };
  hooks.after_node = [] { dist::progress(); };
  {
    BackwardHooksGuard guard(&hooks);
    loss.backward();
  }
  for (size_t b = 0; b < buckets.size(); ++b)  // parameters backward did not reach: zero gradients
    if (!started[b]) start(b);
  dist::wait_all();
  g.mul_(1.f / static_cast<float>(dist::size()));
}

uint64_t parameter_checksum(Module& module) {
  module.flatten_parameters();
  std::vector<float> p = module.flat_parameters().to_vector();
  uint64_t h = 1469598103934665603ull;
  for (float v : p) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int b = 0; b < 4; ++b) {
      h ^= (bits >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return h;
}

void check_replicas_agree(Module& module, int64_t iteration) {
  if (dist::size() == 1) return;
  const uint64_t mine = parameter_checksum(module);
  uint64_t root = mine;
  dist::broadcast(&root, sizeof root);
  // Every rank learns which ranks differ, so that all stop with the same message.
  std::vector<double> differs(static_cast<size_t>(dist::size()), 0.0);
  differs[static_cast<size_t>(dist::rank())] = mine != root ? 1.0 : 0.0;
  dist::all_reduce_max(differs.data(), static_cast<int64_t>(differs.size()));
  std::string ranks;
  for (size_t r = 0; r < differs.size(); ++r)
    if (differs[r] != 0.0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  FC_CHECK(ranks.empty(), "the ranks' parameters differ at iteration "
                              << iteration << ": rank(s) " << ranks << " disagree with rank 0 (checksum "
                              << std::hex << root << std::dec << "); data-parallel replicas went out of step");
}

void testing_desync(Module& module, int64_t iteration) {
  static const char* at = std::getenv("FLOWCPP_TEST_DESYNC_AT");
  if (at == nullptr || dist::rank() != dist::size() - 1 || std::atoll(at) != iteration) return;
  module.flatten_parameters();
  Tensor p = module.flat_parameters().detach();
  Tensor first = Tensor::view_of(p, 0, Shape{1});
  first.add_(Tensor::full(Shape{1}, 1e-3f, p.device()));
}

}  // namespace fc::nn
