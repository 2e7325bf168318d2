#include "engine/random.hpp"

#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"

namespace fc {

uint64_t Generator::take(int64_t n) {
  uint64_t first = offset_;
  offset_ += static_cast<uint64_t>((n + 3) / 4);
  return first;
}

Tensor Generator::uniform(const Shape& shape, float lo, float hi, Device d) {
  FC_PROFILE("random");
  FC_CHECK(lo <= hi, "uniform: lo " << lo << " > hi " << hi);
  Tensor t = Tensor::empty(shape, d);
  FC_KERNEL(d, rand_uniform, "uniform")(t.data(), t.numel(), seed_, take(t.numel()), lo, hi);
  return t;
}

Tensor Generator::normal(const Shape& shape, float mean, float std, Device d) {
  FC_PROFILE("random");
  Tensor t = Tensor::empty(shape, d);
  FC_KERNEL(d, rand_normal, "normal")(t.data(), t.numel(), seed_, take(t.numel()), mean, std);
  return t;
}

Tensor Generator::randint(const Shape& shape, int64_t lo, int64_t hi, Device d) {
  FC_PROFILE("random");
  FC_CHECK(lo < hi, "randint: empty range [" << lo << ", " << hi << ")");
  Tensor t = Tensor::empty(shape, d);
  FC_KERNEL(d, rand_int, "randint")(t.data(), t.numel(), seed_, take(t.numel()), lo, hi);
  return t;
}

Tensor Generator::rademacher(const Shape& shape, Device d) {
  return add_scalar(mul_scalar(randint(shape, 0, 2, d), 2.f), -1.f);
}

}  // namespace fc
