// Lookups that turn labels and times into vectors: a table's rows picked by id, and
// the sinusoidal embedding of a time.
#include <cmath>

#include "engine/autograd.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"
#include "engine/random.hpp"

namespace fc {

Tensor embedding(const Tensor& table, const Tensor& ids) {
  FC_PROFILE("embedding");
  FC_CHECK(table.ndim() == 2, "embedding: expected a table [V, D], got " << table.shape());
  FC_CHECK(ids.ndim() == 1, "embedding: expected ids [N], got " << ids.shape());
  FC_CHECK(table.device() == ids.device(), "embedding: table and ids on different devices");
  const int64_t v = table.dim(0), d = table.dim(1), n = ids.dim(0);
  // An id out of range names no row: stop on it where the ids are in host memory. On a
  // device the kernels give its row NaN instead (engine/kernels.hpp), since reading the
  // ids back would make the host wait for the GPU at every forward.
  if (ids.device() == Device::CPU)
    for (float id : ids.to_vector())
      FC_CHECK(id >= 0 && id < static_cast<float>(v) && id == std::floor(id),
               "embedding: id " << id << " is not an integer in [0, " << v << ")");
  Tensor y = Tensor::empty(Shape{n, d}, table.device());
  FC_KERNEL(table.device(), gather_rows, "embedding")(table.data(), v, ids.data(), y.data(), n, d);
  if (needs_grad({&table})) {
    Tensor is = ids.detach();
    Shape st = table.shape();
    record(y, "embedding", {&table}, [is, st, v, n, d](const Tensor& g, const std::vector<bool>&) {
      Tensor gt = gradient_buffer(0, st, g.device(), /*zeroed=*/true);  // the kernel adds into it
      FC_KERNEL(g.device(), scatter_add_rows, "embedding")(g.data(), is.data(), gt.data(), v, n, d);
      return std::vector<Tensor>{gt};
    });
  }
  return y;
}

Tensor timestep_embedding(const Tensor& t, int dim, float max_period) {
  FC_PROFILE("timestep_embedding");
  FC_CHECK(t.ndim() == 1, "timestep_embedding: expected times [N], got " << t.shape());
  FC_CHECK(dim >= 1, "timestep_embedding: dimension must be positive, got " << dim);
  const int64_t half = dim / 2, n = t.dim(0);
  // The frequencies as guided diffusion computes them (in float32).
  std::vector<float> f(static_cast<size_t>(half));
  const float log_period = static_cast<float>(std::log(static_cast<double>(max_period)));
  for (int64_t i = 0; i < half; ++i)
    f[static_cast<size_t>(i)] = std::exp(-log_period * static_cast<float>(i) / static_cast<float>(half));
  Tensor freqs = Tensor::from_vector(f, Shape{1, half}).to(t.device());
  Tensor args = reshape(t, Shape{n, 1}) * freqs;  // [N, half]
  std::vector<Tensor> parts{cos(args), sin(args)};
  if (dim % 2) parts.push_back(Tensor::zeros(Shape{n, 1}, t.device()));
  return concat(parts, 1);
}

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  FC_CHECK(p >= 0.f && p < 1.f, "dropout: probability must be in [0, 1), got " << p);
  if (!training || p == 0.f) return x;
  FC_PROFILE("dropout");
  // mask = [u > p] / (1 - p), u ~ U(0, 1): the kept elements keep their expectation.
  Device d = x.device();
  Tensor u = gen.uniform(x.shape(), 0.f, 1.f, d);
  Tensor mask = Tensor::empty(x.shape(), d);
  auto unary = FC_KERNEL(d, unary, "dropout");
  unary(UnaryOp::AddScalar, u.data(), u.data(), u.numel(), -p);
  unary(UnaryOp::Step, u.data(), mask.data(), u.numel(), 0.f);
  unary(UnaryOp::MulScalar, mask.data(), mask.data(), mask.numel(), 1.f / (1.f - p));
  return x * mask;
}

}  // namespace fc
