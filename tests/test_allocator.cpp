// engine/allocator.hpp: the caching allocator's counters, peak reset, block reuse, and
// the property the training loop relies on: a repeated step with fixed shapes makes
// no system allocation after the first.
#include <catch2/catch.hpp>

#include <vector>

#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"

using namespace fc;

namespace {

MemoryStats stats() { return memory_stats(Device::CPU); }

constexpr int64_t kMiB = 1 << 20;

}  // namespace

TEST_CASE("allocator: active and peak bytes follow tensors", "[allocator]") {
  const MemoryStats s0 = stats();
  {
    Tensor a = Tensor::empty(Shape{kMiB / 4});  // exactly 1 MiB
    const MemoryStats s1 = stats();
    CHECK(s1.active_bytes == s0.active_bytes + kMiB);
    CHECK(s1.peak_active_bytes >= s1.active_bytes);
    CHECK(s1.peak_reserved_bytes >= s1.active_bytes + s1.cached_bytes);
    {
      Tensor b = Tensor::zeros(Shape{kMiB / 2});  // 2 MiB more
      CHECK(stats().active_bytes == s0.active_bytes + 3 * kMiB);
      CHECK(stats().peak_active_bytes >= s0.active_bytes + 3 * kMiB);
      // A view shares its base's storage: no new bytes.
      Tensor v = Tensor::view_of(b, 10, Shape{100});
      Tensor r = reshape(b, Shape{2, kMiB / 4});
      CHECK(stats().active_bytes == s0.active_bytes + 3 * kMiB);
    }
    // Freed blocks move to the cache.
    const MemoryStats s2 = stats();
    CHECK(s2.active_bytes == s0.active_bytes + kMiB);
    CHECK(s2.cached_bytes >= 2 * size_t(kMiB));
    CHECK(s2.peak_active_bytes >= s0.active_bytes + 3 * kMiB);
  }
  CHECK(stats().active_bytes == s0.active_bytes);
  // Small requests round up to one 512-byte block; zero-element tensors too.
  {
    const size_t before = stats().active_bytes;
    Tensor one = Tensor::scalar(1.f);
    CHECK(stats().active_bytes == before + 512);
    Tensor none = Tensor::empty(Shape{0});
    CHECK(stats().active_bytes == before + 1024);
  }
}

TEST_CASE("allocator: reset_peak_memory", "[allocator]") {
  {
    Tensor big = Tensor::empty(Shape{3 * kMiB});  // 12 MiB
    (void)big;
  }
  MemoryStats s = stats();
  CHECK(s.peak_active_bytes >= s.active_bytes + 12 * size_t(kMiB));
  reset_peak_memory();
  s = stats();
  CHECK(s.peak_active_bytes == s.active_bytes);
  CHECK(s.peak_reserved_bytes == s.active_bytes + s.cached_bytes);
  {
    Tensor t = Tensor::empty(Shape{kMiB / 4});
    CHECK(stats().peak_active_bytes == s.active_bytes + kMiB);
  }
  CHECK(stats().peak_active_bytes == s.active_bytes + kMiB);
  reset_peak_memory();
  CHECK(stats().peak_active_bytes == s.active_bytes);
}

TEST_CASE("allocator: freed blocks are reused, empty_cache returns them", "[allocator]") {
  { Tensor warm = Tensor::empty(Shape{5 * kMiB / 4}); }  // a 5 MiB block in the cache
  const MemoryStats s0 = stats();
  {
    Tensor again = Tensor::empty(Shape{5 * kMiB / 4});
    CHECK(stats().system_allocs == s0.system_allocs);
    CHECK(stats().cached_bytes == s0.cached_bytes - 5 * kMiB);
  }
  // Sizes that round to the same class share blocks (100 floats and 1 float: 512 B).
  { Tensor small = Tensor::empty(Shape{100}); }
  const uint64_t allocs = stats().system_allocs;
  { Tensor tiny = Tensor::empty(Shape{1}); }
  CHECK(stats().system_allocs == allocs);

  empty_cache();
  const MemoryStats s1 = stats();
  CHECK(s1.cached_bytes == 0);
  CHECK(s1.system_frees > s0.system_frees);
  CHECK(s1.active_bytes == s0.active_bytes);
  { Tensor fresh = Tensor::empty(Shape{5 * kMiB / 4}); }
  CHECK(stats().system_allocs == s1.system_allocs + 1);
}

TEST_CASE("allocator: a repeated training step allocates nothing new", "[allocator]") {
  Generator g(3);
  Tensor x = g.normal(Shape{128, 5}), target = g.normal(Shape{128, 3});
  std::vector<Tensor> params = {g.normal(Shape{33, 5}, 0.f, 0.4f),  g.normal(Shape{33}, 0.f, 0.1f),
                                g.normal(Shape{33, 33}, 0.f, 0.2f), g.normal(Shape{33}, 0.f, 0.1f),
                                g.normal(Shape{3, 33}, 0.f, 0.2f),  g.normal(Shape{3}, 0.f, 0.1f)};
  for (Tensor& p : params) p.requires_grad_();

  // Forward, backward and an SGD update of a small MLP; returns the loss.
  auto step = [&](bool set_to_none) {
    Tensor h = silu(linear(x, params[0], params[1]));
    h = silu(linear(h, params[2], params[3]));
    Tensor loss = mse_loss(linear(h, params[4], params[5]), target);
    loss.backward();
    for (Tensor& p : params) {
      p.add_(p.grad(), -0.05f);
      if (set_to_none) p.set_grad(Tensor());
    }
    return loss.item();
  };

  SECTION("gradients in one preallocated buffer, zeroed by one memset") {
    int64_t total = 0;
    for (const Tensor& p : params) total += p.numel();
    Tensor flat = Tensor::zeros(Shape{total});
    int64_t at = 0;
    for (Tensor& p : params) {
      p.set_grad(Tensor::view_of(flat, at, p.shape()));
      at += p.numel();
    }
    std::vector<float> losses{step(false)};
    flat.zero_();
    const MemoryStats after_first = stats();
    for (int i = 0; i < 3; ++i) {
      losses.push_back(step(false));
      flat.zero_();
      const MemoryStats s = stats();
      INFO("step " << i + 2);
      CHECK(s.system_allocs == after_first.system_allocs);
      CHECK(s.active_bytes == after_first.active_bytes);  // nothing leaks from a step
    }
    // The gradients stayed in the buffer, and it is training: the loss goes down.
    CHECK(params[2].grad().data() == flat.data() + 33 * 5 + 33);
    CHECK(losses.back() < losses.front());
  }
  SECTION("gradients set to none after each step") {
    std::vector<float> losses{step(true)};
    const MemoryStats after_first = stats();
    for (int i = 0; i < 3; ++i) {
      losses.push_back(step(true));
      const MemoryStats s = stats();
      INFO("step " << i + 2);
      CHECK(s.system_allocs == after_first.system_allocs);
      CHECK(s.active_bytes == after_first.active_bytes);
    }
    CHECK(losses.back() < losses.front());
  }
}
