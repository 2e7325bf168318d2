#include "nn/data_parallel.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/dist.hpp"
#include "engine/error.hpp"
#include "engine/profiler.hpp"

namespace fc::nn {

void average_gradients(Module& module) {
  if (dist::size() == 1) return;
  FC_PROFILE("average_gradients");
  module.flatten_parameters();
  Tensor g = module.flat_gradients().detach();
  if (g.device() == Device::CPU) {
    dist::all_reduce_sum(g.data(), g.numel());
  } else {  // no device communicator yet: stage through host memory
    std::vector<float> host = g.to_vector();
    dist::all_reduce_sum(host.data(), static_cast<int64_t>(host.size()));
    g.copy_(Tensor::from_vector(host, g.shape()).to(g.device()));
  }
  g.mul_(1.f / static_cast<float>(dist::size()));
}

double mean_over_ranks(double local) {
  if (dist::size() == 1) return local;
  dist::all_reduce_sum(&local, 1);
  return local / dist::size();
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
