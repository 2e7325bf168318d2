// The CUDA kernel table against the CPU table, entry by entry, in the style of ggml's
// test-backend-ops: every case runs the same call on both tables on random inputs of odd
// sizes (not multiples of a block, a warp or a tile; empty and one-element ones too),
// then compares every output by its normalised error (sum (cuda - cpu)^2 / sum cpu^2)
// against the op's tolerance, requires NaN and Inf in the same places, and checks that
// the guard bands around every device buffer, and every input, are untouched.
// In build/run_tests the CUDA table is the emulated device's; in build/run_tests_gpu,
// a real GPU's. FC_CUDA_TEST_VERBOSE=1 prints each case's error.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/tensor.hpp"
#include "tests/test_util.hpp"

using namespace fc;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t kGuard = 67;          // floats of guard band on each side
constexpr float kGuardValue = -1.2345e7f;

// A device buffer with guard bands, uploaded from (and compared with) host vectors.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<float>& init) : n_(static_cast<int64_t>(init.size())) {
    bytes_ = static_cast<size_t>(n_ + 2 * kGuard) * sizeof(float);
    base_ = static_cast<float*>(device_alloc(Device::CUDA, bytes_));
    std::vector<float> host(static_cast<size_t>(n_ + 2 * kGuard), kGuardValue);
    std::copy(init.begin(), init.end(), host.begin() + kGuard);
    kernel_table(Device::CUDA).from_host(host.data(), base_, n_ + 2 * kGuard);
  }
  ~DeviceBuffer() { device_free(Device::CUDA, base_, bytes_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* data() { return base_ + kGuard; }
  std::vector<float> all() const {
    std::vector<float> host(static_cast<size_t>(n_ + 2 * kGuard));
    kernel_table(Device::CUDA).to_host(base_, host.data(), n_ + 2 * kGuard);
    return host;
  }

 private:
  int64_t n_;
  size_t bytes_;
  float* base_;
};

// Normalised squared error of got against want, and whether NaN / Inf match.
struct Comparison {
  double nmse = 0;
  int64_t special_mismatches = 0;
};

Comparison compare(const std::vector<float>& want, const std::vector<float>& got) {
  Comparison c;
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    float w = want[i], g = got[i];
    if (std::isnan(w) || std::isnan(g) || std::isinf(w) || std::isinf(g)) {
      bool same = (std::isnan(w) && std::isnan(g)) || (std::isinf(w) && std::isinf(g) && (w > 0) == (g > 0));
      c.special_mismatches += !same;
      continue;
    }
    num += (static_cast<double>(w) - g) * (static_cast<double>(w) - g);
    den += static_cast<double>(w) * w;
  }
  c.nmse = den > 0 ? num / den : num;
  return c;
}

bool verbose() {
  static const bool v = std::getenv("FC_CUDA_TEST_VERBOSE") != nullptr;
  return v;
}

// One call of a kernel-table entry: its buffers (inputs keep their contents, outputs are
// compared after the call) and the call itself, run once per table.
class Case {
 public:
  Case(std::string name, uint64_t seed) : name_(std::move(name)), rng_(seed) {}

  // A buffer of n normal(0, scale) values; `specials` puts NaN, +Inf and -Inf in it.
  int input(int64_t n, float scale = 1.f, bool specials = false) {
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng_);
    if (specials && n >= 8) {
      v[static_cast<size_t>(n / 3)] = NAN;
      v[static_cast<size_t>(n / 2)] = INFINITY;
      v[static_cast<size_t>(n - 1)] = -INFINITY;
    }
    return add(std::move(v), false);
  }
  // A buffer of given values.
  int values(std::vector<float> v, bool output = false) { return add(std::move(v), output); }
  // n integers drawn uniformly from [lo, hi), as floats (ids, indices).
  int ints(int64_t n, int64_t lo, int64_t hi) {
    std::uniform_int_distribution<int64_t> d(lo, hi - 1);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>(d(rng_));
    return add(std::move(v), false);
  }
  // An output (or in-out) buffer, starting from random values so that an element one
  // table writes and the other does not shows.
  int output(int64_t n) {
    int i = input(n);
    outputs_[static_cast<size_t>(i)] = true;
    return i;
  }
  std::mt19937_64& rng() { return rng_; }

  using Call = std::function<void(const KernelTable&, const std::vector<float*>&)>;
  // Runs call on both tables and checks every buffer.
  void check(double tolerance, const Call& call) {
    std::vector<std::vector<float>> host = init_;
    std::vector<float*> hp;
    for (auto& h : host) hp.push_back(h.data());
    call(kernel_table(Device::CPU), hp);

    std::vector<std::unique_ptr<DeviceBuffer>> dev;
    std::vector<float*> dp;
    for (auto& v : init_) {
      dev.push_back(std::make_unique<DeviceBuffer>(v));
      dp.push_back(dev.back()->data());
    }
    call(kernel_table(Device::CUDA), dp);

    for (size_t b = 0; b < init_.size(); ++b) {
      std::vector<float> all = dev[b]->all();
      std::vector<float> got(all.begin() + kGuard, all.end() - kGuard);
      INFO(name_ << ": buffer " << b << " of " << init_[b].size() << " floats");
      int64_t guard_hits = 0;
      for (int64_t g = 0; g < kGuard; ++g) {
        guard_hits += all[static_cast<size_t>(g)] != kGuardValue;
        guard_hits += all[all.size() - 1 - static_cast<size_t>(g)] != kGuardValue;
      }
      CHECK(guard_hits == 0);
      if (!outputs_[b]) {  // inputs are read only
        Comparison same = compare(init_[b], got);
        CHECK(same.nmse == 0);
        CHECK(same.special_mismatches == 0);
        continue;
      }
      Comparison c = compare(host[b], got);
      if (verbose()) std::printf("  %-44s buffer %zu: nmse %.3g (tolerance %.1g)\n", name_.c_str(), b, c.nmse, tolerance);
      CHECK(c.special_mismatches == 0);
      CHECK(c.nmse <= tolerance);
    }
  }

 private:
  int add(std::vector<float> v, bool output) {
    init_.push_back(std::move(v));
    outputs_.push_back(output);
    return static_cast<int>(init_.size() - 1);
  }
  std::string name_;
  std::mt19937_64 rng_;
  std::vector<std::vector<float>> init_;
  std::vector<bool> outputs_;
};

// Odd sizes, empty and one element among them.
const std::vector<int64_t> kSizes = {0, 1, 7, 33, 255, 1031, 4099};

// Elementwise results differ by the last bit of a transcendental at most.
constexpr double kElementwiseTol = 1e-10;
constexpr double kReduceTol = 1e-10;
constexpr double kGemmTol = 1e-10;
// Backward passes that subtract nearly equal sums (softmax's y (gy - sum gy y)): the
// CPU adds in float, the GPU in double.
constexpr double kCancellingTol = 1e-6;

std::string sized(const char* op, int64_t n) { return std::string(op) + " n=" + std::to_string(n); }

}  // namespace

TEST_CASE("CUDA kernels vs CPU: fill, copy, axpy, scale", "[cuda][kernels]") {
  for (int64_t n : kSizes) {
    Case c(sized("fill/copy/axpy/scale", n), 11 + n);
    int x = c.input(n, 1.f, true), y = c.output(n), z = c.output(n), w = c.output(n), f = c.output(n);
    c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.fill(p[f], n, 2.5f);
      k.copy(p[x], p[y], n);
      k.axpy(-0.75f, p[x], p[z], n);
      k.scale(p[w], n, 1.5f);
      k.synchronize();  // the outputs are read after it
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: scale_to_norm clips by a norm that stays on the device", "[cuda][kernels]") {
  for (int64_t n : kSizes) {
    if (n == 0) continue;  // sum_squares of nothing is 0: no norm to clip by
    Case c(sized("scale_to_norm", n), 13 + n);
    int x = c.input(n), s = c.output(1), y = c.output(n), z = c.output(n);
    c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.sum_squares(p[x], p[s], n);
      k.copy(p[x], p[y], n);
      k.scale_to_norm(p[y], n, p[s], 0.25f);  // scaled to norm 0.25
      k.copy(p[x], p[z], n);
      k.scale_to_norm(p[z], n, p[s], 1e6f);   // under the limit: unchanged
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: every unary op and its backward", "[cuda][kernels]") {
  const UnaryOp ops[] = {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Square,
                         UnaryOp::Abs, UnaryOp::Sign, UnaryOp::Step, UnaryOp::Sigmoid, UnaryOp::Tanh,
                         UnaryOp::Relu, UnaryOp::Pow, UnaryOp::AddScalar, UnaryOp::MulScalar,
                         UnaryOp::RSubScalar, UnaryOp::RDivScalar, UnaryOp::Sin, UnaryOp::Cos};
  const UnaryOp with_backward[] = {UnaryOp::Sqrt, UnaryOp::Square, UnaryOp::Pow, UnaryOp::Abs, UnaryOp::Sigmoid,
                                   UnaryOp::Tanh, UnaryOp::Relu, UnaryOp::Sin, UnaryOp::Cos};
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{257}, int64_t{1031}}) {
    for (UnaryOp op : ops) {
      Case c(sized("unary", n) + " op " + std::to_string(static_cast<int>(op)), 100 + n);
      int x = c.input(n, 3.f, true), y = c.output(n);
      c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
        k.unary(op, p[x], p[y], n, op == UnaryOp::Pow ? 2.5f : 0.7f);
      });
    }
    for (UnaryOp op : with_backward) {
      Case c(sized("unary_backward", n) + " op " + std::to_string(static_cast<int>(op)), 200 + n);
      int x = c.input(n, 2.f), gy = c.input(n), y = c.output(n), gx = c.output(n);
      c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
        float s = op == UnaryOp::Pow ? 3.f : 0.f;
        k.unary(op, p[x], p[y], n, s);
        k.unary_backward(op, p[x], p[y], p[gy], p[gx], n, s);
      });
    }
  }
  // An op without a fused gradient throws on both devices.
  for (Device d : {Device::CPU, Device::CUDA}) {
    std::vector<float> h(4);
    DeviceBuffer b(h);
    float* xp = d == Device::CPU ? h.data() : b.data();
    REQUIRE_THROWS_WITH(kernel_table(d).unary_backward(UnaryOp::Exp, xp, xp, xp, xp, 4, 0.f),
                        Contains("no fused gradient"));
  }
}

TEST_CASE("CUDA kernels vs CPU: binary ops with every BroadcastPlan kind", "[cuda][kernels]") {
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div};
  struct Layout {
    const char* name;
    BroadcastPlan plan;
    int64_t na, nb;
  };
  std::vector<Layout> layouts;
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{1031}}) {
    BroadcastPlan same;
    same.kind = BroadcastPlan::Same;
    same.n = n;
    layouts.push_back({"same", same, n, n});
    BroadcastPlan as = same;
    as.kind = BroadcastPlan::AScalar;
    layouts.push_back({"a scalar", as, 1, n});
    BroadcastPlan bs = same;
    bs.kind = BroadcastPlan::BScalar;
    layouts.push_back({"b scalar", bs, n, 1});
  }
  for (int64_t rows : {int64_t{1}, int64_t{37}}) {
    for (int64_t inner : {int64_t{1}, int64_t{29}}) {
      BroadcastPlan p;
      p.kind = BroadcastPlan::BRows;
      p.n = rows * inner;
      p.inner = inner;
      layouts.push_back({"b rows", p, rows * inner, inner});
      p.kind = BroadcastPlan::BCols;
      layouts.push_back({"b cols", p, rows * inner, rows});
    }
  }
  {
    // out [3, 5, 7] from a [3, 1, 7] and b [5, 1] (b's strides 0 along dims 0 and 2).
    BroadcastPlan g;
    g.kind = BroadcastPlan::General;
    g.ndim = 3;
    g.n = 3 * 5 * 7;
    const int64_t shape[3] = {3, 5, 7}, sa[3] = {7, 0, 1}, sb[3] = {0, 1, 0};
    for (int d = 0; d < 3; ++d) {
      g.shape[d] = shape[d];
      g.a_strides[d] = sa[d];
      g.b_strides[d] = sb[d];
    }
    layouts.push_back({"general", g, 3 * 7, 5});
    BroadcastPlan e = g;  // an empty dimension
    e.shape[1] = 0;
    e.n = 0;
    layouts.push_back({"general empty", e, 3 * 7, 5});
  }
  for (const Layout& l : layouts)
    for (BinaryOp op : ops) {
      Case c(std::string("binary ") + l.name + " n=" + std::to_string(l.plan.n) + " op " +
                 std::to_string(static_cast<int>(op)),
             7 + l.plan.n);
      int a = c.input(l.na, 1.f, true), b = c.input(l.nb), y = c.output(l.plan.n);
      c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
        k.binary(op, p[a], p[b], p[y], l.plan);
      });
    }
}

TEST_CASE("CUDA kernels vs CPU: strided copies, copy_rows, fill_rows", "[cuda][kernels]") {
  auto strided = [](std::vector<int64_t> shape, std::vector<int64_t> strides) {
    StridedPlan p;
    p.ndim = static_cast<int>(shape.size());
    p.n = 1;
    for (int d = 0; d < p.ndim; ++d) {
      p.shape[d] = shape[static_cast<size_t>(d)];
      p.strides[d] = strides[static_cast<size_t>(d)];
      p.n *= p.shape[d];
    }
    return p;
  };
  struct Layout {
    const char* name;
    StridedPlan plan;
    int64_t nx;
  };
  const std::vector<Layout> layouts = {
      {"0-d", strided({}, {}), 1},
      {"permute [5,3,7] of [3,5,7]", strided({5, 3, 7}, {7, 35, 1}), 105},
      {"transpose [9,13] of [13,9]", strided({9, 13}, {1, 9}), 117},
      {"broadcast [4,11] of [11]", strided({4, 11}, {0, 1}), 11},
      {"broadcast [11,4] of [11]", strided({11, 4}, {1, 0}), 11},
      {"empty", strided({3, 0, 2}, {0, 2, 1}), 6},
  };
  for (const Layout& l : layouts) {
    Case c(std::string("strided_copy ") + l.name, 5);
    int x = c.input(l.nx), y = c.output(l.plan.ndim == 0 ? 1 : l.plan.n);
    c.check(0, [&](const KernelTable& k, const std::vector<float*>& p) { k.strided_copy(p[x], p[y], l.plan); });
  }
  struct Rows {
    int64_t outer, xn, xs, yn, ys, len, inner;
  };
  for (const Rows& r : {Rows{1, 1, 0, 1, 0, 1, 1}, Rows{3, 7, 2, 11, 5, 4, 9}, Rows{5, 13, 0, 13, 0, 13, 1},
                        Rows{2, 5, 1, 3, 0, 0, 4}, Rows{0, 4, 0, 4, 0, 4, 3}}) {
    Case c("copy_rows outer=" + std::to_string(r.outer) + " len=" + std::to_string(r.len), 9);
    int x = c.input(r.outer * r.xn * r.inner), y = c.output(r.outer * r.yn * r.inner);
    c.check(0, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.copy_rows(p[x], r.xn, r.xs, p[y], r.yn, r.ys, r.outer, r.len, r.inner);
    });
  }
  for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{45}})
    for (int64_t cols : {int64_t{1}, int64_t{33}}) {
      Case c("fill_rows " + std::to_string(rows) + "x" + std::to_string(cols), 3);
      int b = c.input(cols), y = c.output(rows * cols);
      c.check(0, [&](const KernelTable& k, const std::vector<float*>& p) { k.fill_rows(p[b], p[y], rows, cols); });
    }
}

TEST_CASE("CUDA kernels vs CPU: reductions", "[cuda][kernels]") {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1031}, int64_t{100003}}) {
    Case c(sized("sum_all/sum_squares/mse", n), 21 + n);
    int x = c.input(n), x2 = c.input(n), s = c.output(1), q = c.output(1), m = c.output(1);
    c.check(kReduceTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.sum_all(p[x], p[s], n);
      k.sum_squares(p[x], p[q], n);
      k.mse(p[x], p[x2], p[m], n);
    });
    Case b(sized("mse_backward", n), 31 + n);
    int a = b.input(n), t = b.input(n), gy = b.input(1), ga = b.output(n);
    b.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.mse_backward(p[a], p[t], p[gy], p[ga], n);
    });
  }
  {
    Case c("sum_all with NaN and Inf", 3);
    int x = c.input(1000, 1.f, true), xi = c.values(std::vector<float>(10, INFINITY)), s = c.output(1),
        si = c.output(1);
    c.check(0, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.sum_all(p[x], p[s], 1000);
      k.sum_all(p[xi], p[si], 10);
    });
  }
  struct Axis {
    int64_t outer, n, inner;
  };
  for (const Axis& a : {Axis{1, 1, 1}, Axis{3, 7, 1}, Axis{2, 300, 1}, Axis{1, 33, 5}, Axis{4, 9, 17},
                        Axis{0, 3, 2}, Axis{2, 0, 3}, Axis{3, 0, 1}, Axis{1, 1, 1031}}) {
    std::string shape = std::to_string(a.outer) + "x" + std::to_string(a.n) + "x" + std::to_string(a.inner);
    Case c("sum_axis " + shape, 41);
    int x = c.input(a.outer * a.n * a.inner), y = c.output(a.outer * a.inner);
    c.check(kReduceTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.sum_axis(p[x], p[y], a.outer, a.n, a.inner);
    });
    if (a.n == 0) continue;  // max over nothing is not defined
    Case m("max_axis + backward " + shape, 43);
    int mx = m.input(a.outer * a.n * a.inner, 1.f, true), my = m.output(a.outer * a.inner),
        mi = m.output(a.outer * a.inner);
    int gy = m.input(a.outer * a.inner), idx = m.ints(a.outer * a.inner, 0, a.n),
        gx = m.output(a.outer * a.n * a.inner);
    m.check(0, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.max_axis(p[mx], p[my], p[mi], a.outer, a.n, a.inner);
      k.max_axis_backward(p[gy], p[idx], p[gx], a.outer, a.n, a.inner);
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: bias + SiLU and its backward", "[cuda][kernels]") {
  for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{37}, int64_t{300}})
    for (int64_t cols : {int64_t{1}, int64_t{65}})
      for (bool with_bias : {false, true}) {
        Case c("bias_silu " + std::to_string(rows) + "x" + std::to_string(cols) + (with_bias ? " bias" : ""), 51);
        int z = c.input(rows * cols, 3.f, true), b = c.input(cols), y = c.output(rows * cols),
            s = c.output(rows * cols), y2 = c.output(rows * cols);
        int gy = c.input(rows * cols), gz = c.output(rows * cols), gb = c.output(cols), gz2 = c.output(rows * cols);
        c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& p) {
          const float* bias = with_bias ? p[b] : nullptr;
          k.bias_silu(p[z], bias, p[y], p[s], rows, cols);
          k.bias_silu(p[z], bias, p[y2], nullptr, rows, cols);  // no graph: no sigmoid kept
          k.silu_backward_bias(p[y], p[s], p[gy], p[gz], p[gb], rows, cols);
          k.silu_backward_bias(p[y], p[s], p[gy], p[gz2], nullptr, rows, cols);
        });
      }
}

TEST_CASE("CUDA kernels vs CPU: gemm on every transpose, batch and stride", "[cuda][kernels]") {
  struct G {
    bool ta, tb;
    int64_t m, n, k, batch, pad;
    bool broadcast_b;
    float alpha, beta;
  };
  std::vector<G> cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      cases.push_back({ta, tb, 17, 9, 33, 1, 0, false, 1.f, 0.f});
      cases.push_back({ta, tb, 5, 31, 7, 3, 3, false, 0.5f, 1.f});
      cases.push_back({ta, tb, 13, 6, 11, 2, 1, true, -1.f, 0.25f});
    }
  cases.push_back({false, false, 1, 1, 1, 1, 0, false, 1.f, 0.f});
  cases.push_back({false, true, 4, 3, 0, 2, 0, false, 1.f, 0.5f});  // k = 0: C = beta C
  cases.push_back({false, false, 0, 5, 3, 1, 0, false, 1.f, 0.f});  // nothing to do
  for (const G& g : cases) {
    // Row-major op(A) [m, k], op(B) [k, n]; stored A is [m, k] or [k, m], with `pad`
    // extra columns (ld > the minimum).
    int64_t ar = g.ta ? g.k : g.m, ac = g.ta ? g.m : g.k, br = g.tb ? g.n : g.k, bc = g.tb ? g.k : g.n;
    int64_t lda = ac + g.pad, ldb = bc + g.pad, ldc = g.n + g.pad;
    int64_t sa = ar * lda, sb = g.broadcast_b ? 0 : br * ldb, sc = g.m * ldc;
    Case c("gemm ta=" + std::to_string(g.ta) + " tb=" + std::to_string(g.tb) + " " + std::to_string(g.m) + "x" +
               std::to_string(g.n) + "x" + std::to_string(g.k) + " batch " + std::to_string(g.batch),
           61);
    int a = c.input(sa * g.batch), b = c.input(g.broadcast_b ? br * ldb : sb * g.batch), y = c.output(sc * g.batch);
    c.check(kGemmTol, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, p[a], lda, sa, p[b], ldb, sb, g.beta, p[y], ldc, sc, g.batch);
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: gather and scatter-add rows", "[cuda][kernels]") {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{300}})
    for (int64_t d : {int64_t{1}, int64_t{17}}) {
      const int64_t rows = 11;  // many repeated ids: scatter-add must add them all
      Case c("gather/scatter rows n=" + std::to_string(n) + " d=" + std::to_string(d), 71);
      int table = c.input(rows * d), ids = c.ints(n, 0, rows), gy = c.input(n * d), y = c.output(n * d),
          gt = c.output(rows * d);
      c.check(1e-12, [&](const KernelTable& k, const std::vector<float*>& p) {
        k.gather_rows(p[table], rows, p[ids], p[y], n, d);
        k.scatter_add_rows(p[gy], p[ids], p[gt], rows, n, d);
      });
    }
  // Ids that name no row (negative, the table's size, beyond it, fractional, NaN, Inf):
  // a NaN row and no gradient, in the same places on both devices, between good ids.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> bad = {2.f, -1.f, 5.f, 4.f, 1e9f, 0.5f, nan, inf, -inf, 0.f, 4.f};
  const int64_t rows = 5, n = static_cast<int64_t>(bad.size()), d = 3;
  Case c("gather/scatter rows with bad ids", 72);
  int table = c.input(rows * d), ids = c.values(bad), gy = c.input(n * d), y = c.output(n * d), gt = c.output(rows * d);
  c.check(1e-12, [&](const KernelTable& k, const std::vector<float*>& p) {
    k.gather_rows(p[table], rows, p[ids], p[y], n, d);
    k.scatter_add_rows(p[gy], p[ids], p[gt], rows, n, d);
  });
  // And on the CPU, exactly which rows: NaN where the id is bad, the table's row where good.
  std::vector<float> tv(static_cast<size_t>(rows * d)), out(static_cast<size_t>(n * d));
  for (size_t i = 0; i < tv.size(); ++i) tv[i] = static_cast<float>(i);
  kernel_table(Device::CPU).gather_rows(tv.data(), rows, bad.data(), out.data(), n, d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const float got = out[static_cast<size_t>(i * d + j)];
      const bool good = i == 0 || i == 3 || i == 9 || i == 10;
      INFO("id " << bad[static_cast<size_t>(i)] << " column " << j);
      if (good)
        CHECK(got == static_cast<float>(static_cast<int64_t>(bad[static_cast<size_t>(i)]) * d + j));
      else
        CHECK(std::isnan(got));
    }
}

TEST_CASE("CUDA kernels vs CPU: AdamW over a flat buffer", "[cuda][kernels]") {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{4099}}) {
    Case c(sized("adamw", n), 81);
    int p = c.output(n), g = c.input(n), m = c.output(n), v = c.output(n);
    c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& b) {
      // v must be non-negative: start it at g^2, as after one step.
      k.unary(UnaryOp::Square, b[g], b[v], n, 0.f);
      for (int step = 1; step <= 3; ++step) {
        AdamWStep s{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.f - std::pow(0.9f, static_cast<float>(step)),
                     1.f - std::pow(0.999f, static_cast<float>(step))};
        k.adamw(b[p], b[g], b[m], b[v], n, s);
      }
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: Philox random numbers, the same for the same seed", "[cuda][kernels][random]") {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{6}, int64_t{1031}, int64_t{10001}}) {
    Case c(sized("rand_uniform/int", n), 91);
    int u = c.output(n), r = c.output(n), r2 = c.output(n);
    c.check(0, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.rand_uniform(p[u], n, 1234567, 77, -2.f, 3.f);
      k.rand_int(p[r], n, 42, 5, -3, 17);
      k.rand_int(p[r2], n, 42, 5, 0, 60000);
    });
    // Box-Muller goes through log, sqrt, sin and cos: the last bit may differ.
    Case d(sized("rand_normal", n), 92);
    int z = d.output(n);
    d.check(1e-12, [&](const KernelTable& k, const std::vector<float*>& p) {
      k.rand_normal(p[z], n, 99, 3, 0.5f, 2.f);
    });
  }
}

TEST_CASE("CUDA kernels vs CPU: conv2d and its backward", "[cuda][kernels]") {
  struct C {
    int64_t n, c, h, w, o, kh, kw, stride, pad;
  };
  // 3x3 stride 1 pad 1 goes to Winograd on the CPU: its rounding differs a little.
  for (const C& v : {C{2, 3, 7, 9, 5, 3, 3, 1, 1}, C{1, 2, 9, 7, 3, 3, 2, 2, 0}, C{3, 5, 5, 6, 4, 1, 1, 1, 0},
                     C{1, 1, 1, 1, 1, 1, 1, 1, 0}, C{2, 4, 6, 5, 3, 3, 3, 2, 1}, C{0, 2, 4, 4, 3, 3, 3, 1, 1}})
    for (bool with_bias : {false, true}) {
      ConvGeometry g{v.n, v.c, v.h, v.w, v.o, v.kh, v.kw, v.stride, v.pad,
                     (v.h + 2 * v.pad - v.kh) / v.stride + 1, (v.w + 2 * v.pad - v.kw) / v.stride + 1};
      Case c("conv2d " + std::to_string(v.n) + "x" + std::to_string(v.c) + "x" + std::to_string(v.h) + "x" +
                 std::to_string(v.w) + " -> " + std::to_string(v.o) + " k" + std::to_string(v.kh) + "x" +
                 std::to_string(v.kw) + " s" + std::to_string(v.stride) + " p" + std::to_string(v.pad) +
                 (with_bias ? " bias" : ""),
             13);
      int64_t nx = g.n * g.c * g.h * g.w, nw = g.o * g.c * g.kh * g.kw, ny = g.n * g.o * g.ho * g.wo;
      int x = c.input(nx), w = c.input(nw), b = c.input(g.o), gy = c.input(ny);
      int y = c.output(ny), gx = c.output(nx), gw = c.output(nw), gb = c.output(g.o), gx2 = c.output(nx);
      for (int64_t chunk_floats : {int64_t{0}, int64_t{2000}}) {
        // 2000 floats of columns at a time: one image a chunk for most shapes here (the
        // weight's gradient summed over chunks); 0: the default, the whole batch at once.
        INFO("scratch chunk " << chunk_floats << " floats");
        c.check(1e-9, [&](const KernelTable& k, const std::vector<float*>& p) {
          cuda::set_scratch_chunk_floats(chunk_floats);
          k.conv2d(p[x], p[w], with_bias ? p[b] : nullptr, p[y], g);
          k.conv2d_backward(p[x], p[w], p[gy], p[gx], p[gw], p[gb], g);
          k.conv2d_backward(p[x], p[w], p[gy], p[gx2], nullptr, nullptr, g);
          cuda::set_scratch_chunk_floats(0);
        });
      }
    }
}

TEST_CASE("CUDA kernels vs CPU: 2x upsampling and 2x2 pooling", "[cuda][kernels]") {
  for (int64_t planes : {int64_t{0}, int64_t{1}, int64_t{7}})
    for (int64_t h : {int64_t{1}, int64_t{2}, int64_t{6}})
      for (int64_t w : {int64_t{2}, int64_t{5}}) {
        Case c("upsample2x/pool2x_sum " + std::to_string(planes) + "x" + std::to_string(h) + "x" + std::to_string(w), 3);
        int x = c.input(planes * h * w), y = c.output(planes * 4 * h * w), p = c.output(planes * (h / 2) * (w / 2));
        c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& b) {
          k.upsample2x(b[x], b[y], planes, h, w, 1.5f);
          k.pool2x_sum(b[x], b[p], planes, h, w, 0.25f);
        });
      }
}

TEST_CASE("CUDA kernels vs CPU: softmax and its backward", "[cuda][kernels]") {
  for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{19}})
    for (int64_t cols : {int64_t{1}, int64_t{7}, int64_t{49}, int64_t{300}}) {
      Case c("softmax " + std::to_string(rows) + "x" + std::to_string(cols), 5);
      int x = c.input(rows * cols, 30.f), gy = c.input(rows * cols), y = c.output(rows * cols),
          gx = c.output(rows * cols);
      c.check(kCancellingTol, [&](const KernelTable& k, const std::vector<float*>& b) {
        k.softmax(b[x], b[y], rows, cols);
        k.softmax_backward(b[y], b[gy], b[gx], rows, cols);
      });
    }
  Case c("softmax with NaN and Inf", 6);
  int x = c.input(4 * 50, 1.f, true), y = c.output(4 * 50);
  c.check(kElementwiseTol, [&](const KernelTable& k, const std::vector<float*>& b) { k.softmax(b[x], b[y], 4, 50); });
}

TEST_CASE("CUDA kernels vs CPU: group norm (+ SiLU) and its backward", "[cuda][kernels]") {
  struct G {
    int64_t n, c, s, groups;
  };
  // (Groups of one or two elements normalise to constants, 0 or +-1, whose gradient is
  // 0 plus rounding noise: not a useful case.)
  for (const G& g : {G{1, 3, 1, 1}, G{2, 6, 7, 3}, G{3, 8, 33, 2}, G{1, 4, 300, 4}, G{0, 4, 5, 2}})
    for (bool affine : {false, true})
      for (bool silu : {false, true}) {
        Case c("group_norm n=" + std::to_string(g.n) + " c=" + std::to_string(g.c) + " s=" + std::to_string(g.s) +
                   " groups=" + std::to_string(g.groups) + (affine ? " affine" : "") + (silu ? " silu" : ""),
               7);
        int64_t len = g.n * g.c * g.s, ng = g.n * g.groups;
        int x = c.input(len, 2.f), gamma = c.input(g.c), beta = c.input(g.c), gy = c.input(len);
        int y = c.output(len), mean = c.output(ng), rstd = c.output(ng), gx = c.output(len), gg = c.output(g.c),
            gb = c.output(g.c), gx2 = c.output(len);
        c.check(kReduceTol, [&](const KernelTable& k, const std::vector<float*>& b) {
          const float* ga = affine ? b[gamma] : nullptr;
          const float* be = affine ? b[beta] : nullptr;
          k.group_norm(b[x], ga, be, b[y], b[mean], b[rstd], g.n, g.c, g.s, g.groups, 1e-5f, silu);
          k.group_norm_backward(b[x], ga, be, b[mean], b[rstd], b[gy], b[gx], b[gg], b[gb], g.n, g.c, g.s, g.groups,
                                silu);
          k.group_norm_backward(b[x], ga, be, b[mean], b[rstd], b[gy], b[gx2], nullptr, nullptr, g.n, g.c, g.s,
                                g.groups, silu);
        });
      }
}

TEST_CASE("CUDA kernels vs CPU: attention and its backward", "[cuda][kernels]") {
  // Both CUDA forms (engine/cuda/attention.cu): the tiled online-softmax kernels (d <= 64:
  // tiles of 32 positions, so t = 31, 32, 33, 70 and 300 cross one, two and ten tile
  // edges) and cuBLAS around a row softmax (every d; d = 65 and 80 take it in either
  // mode), and each backward from the other forward's log-sum-exp.
  struct A {
    int64_t bh, d, t;
  };
  struct Mode {
    const char* name;
    cuda::AttentionKernel forward, backward;
  };
  const Mode modes[] = {{"tiled", cuda::AttentionKernel::tiled, cuda::AttentionKernel::tiled},
                        {"gemm", cuda::AttentionKernel::gemm, cuda::AttentionKernel::gemm},
                        {"tiled forward, gemm backward", cuda::AttentionKernel::tiled, cuda::AttentionKernel::gemm},
                        {"gemm forward, tiled backward", cuda::AttentionKernel::gemm, cuda::AttentionKernel::tiled}};
  // (The sanitizer build, where the emulated kernels run ~50 times slower, checks the
  // two plain forms with the default scratch only, and says so.)
  const size_t n_modes = fc_sanitizer_build() ? 2 : 4;
  if (fc_sanitizer_build()) WARN("sanitizer build: the mixed pairings and small scratch chunks are left to make test");
  for (size_t m = 0; m < n_modes; ++m)
    for (const A& a : {A{1, 1, 1}, A{2, 3, 7}, A{3, 8, 49}, A{1, 5, 300}, A{0, 4, 5}, A{2, 33, 31}, A{1, 64, 32},
                       A{2, 40, 33}, A{1, 64, 70}, A{1, 65, 33}, A{1, 80, 9}}) {
      const Mode& mode = modes[m];
      Case c(std::string(mode.name) + " attention bh=" + std::to_string(a.bh) + " d=" + std::to_string(a.d) +
                 " t=" + std::to_string(a.t),
             17);
      int64_t nqkv = a.bh * 3 * a.d * a.t, no = a.bh * a.d * a.t;
      int qkv = c.input(nqkv), gout = c.input(no), out = c.output(no), lse = c.output(a.bh * a.t),
          gqkv = c.output(nqkv);
      for (int64_t chunk_floats : {int64_t{0}, int64_t{100}}) {
        // The cuBLAS form's weights 100 floats at a time: one or two heads a chunk.
        if (chunk_floats > 0 && fc_sanitizer_build()) continue;
        INFO("scratch chunk " << chunk_floats << " floats");
        c.check(kCancellingTol, [&](const KernelTable& k, const std::vector<float*>& p) {
          cuda::set_scratch_chunk_floats(chunk_floats);
          cuda::set_attention_kernel(mode.forward);
          k.attention(p[qkv], p[out], p[lse], a.bh, a.d, a.t);
          cuda::set_attention_kernel(mode.backward);
          k.attention_backward(p[qkv], p[out], p[lse], p[gout], p[gqkv], a.bh, a.d, a.t);
          cuda::set_attention_kernel(cuda::AttentionKernel::tiled);
          cuda::set_scratch_chunk_floats(0);
        });
      }
    }
}

TEST_CASE("CUDA: the kernel table is complete", "[cuda][kernels]") {
  // A null entry is a bug: every op must run on CUDA.
  const KernelTable& t = kernel_table(Device::CUDA);
  using Entry = void (*)();
  static_assert(sizeof(KernelTable) % sizeof(Entry) == 0, "the table holds function pointers only");
  Entry entries[sizeof(KernelTable) / sizeof(Entry)];
  std::memcpy(entries, &t, sizeof(KernelTable));
  for (size_t i = 0; i < sizeof(KernelTable) / sizeof(Entry); ++i) {
    INFO("entry " << i << " of engine/kernels.hpp's KernelTable");
    CHECK(entries[i] != nullptr);
  }
}

TEST_CASE("CUDA: the caching allocator counts device memory and reuses it", "[cuda][allocator]") {
  empty_cache(Device::CUDA);
  const MemoryStats s0 = memory_stats(Device::CUDA);
  {
    Tensor a = Tensor::zeros(Shape{1000}, Device::CUDA);
    MemoryStats s1 = memory_stats(Device::CUDA);
    CHECK(s1.active_bytes >= s0.active_bytes + 4000);
    CHECK(s1.system_allocs == s0.system_allocs + 1);
    CHECK(s1.peak_active_bytes >= s1.active_bytes);
  }
  MemoryStats s2 = memory_stats(Device::CUDA);
  CHECK(s2.active_bytes == s0.active_bytes);
  CHECK(s2.cached_bytes > 0);
  // A repeated step with the same shapes makes no system allocation.
  auto step = [] {
    Tensor a = Tensor::full(Shape{37, 19}, 1.5f, Device::CUDA);
    Tensor b = Tensor::ones(Shape{19}, Device::CUDA);
    return sum(mul(add(a, b), a)).item();
  };
  CHECK(step() == Approx(37 * 19 * 2.5 * 1.5));
  uint64_t allocs = memory_stats(Device::CUDA).system_allocs;
  step();
  CHECK(memory_stats(Device::CUDA).system_allocs == allocs);
  empty_cache(Device::CUDA);
  CHECK(memory_stats(Device::CUDA).cached_bytes == 0);
}

TEST_CASE("CUDA: tensors move between host and device", "[cuda]") {
  // Larger than the 4 MiB pinned staging buffer: the copy goes in chunks.
  const int64_t n = (int64_t{1} << 20) + 4099;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % 1000) - 0.5f;
  Tensor h = Tensor::from_vector(v, Shape{n});
  Tensor d = h.to(Device::CUDA);
  REQUIRE(d.device() == Device::CUDA);
  REQUIRE_THROWS_WITH(d.cpu_data(), Contains("CUDA"));
  CHECK(d.to(Device::CPU).to_vector() == v);
  CHECK(Tensor::scalar(3.25f, Device::CUDA).item() == 3.25f);
  CHECK(Tensor::empty(Shape{0}, Device::CUDA).to_vector().empty());
}

TEST_CASE("CUDA without a device: one line, \"no CUDA device: ...\"", "[cuda-nodevice]") {
  // Where a device exists (a GPU, or the emulated one) allocation works; elsewhere it
  // throws one line naming the reason, which the programs print before exiting 2.
  try {
    Tensor t = Tensor::zeros(Shape{3}, Device::CUDA);
    CHECK(t.to_vector() == std::vector<float>{0, 0, 0});
    WARN("a CUDA device is present: the no-device error cannot be checked here");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.rfind("no CUDA device: ", 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
  }
}
