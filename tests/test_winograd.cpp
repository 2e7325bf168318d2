// Winograd convolutions (engine/cpu/winograd.cpp), both tile sizes, against naive loops
// in double and against im2col, forward and both gradients, on odd sizes; the same bits
// on 1 and 2 threads; conv2d's dispatch; finite-difference gradient checks with
// Winograd forced.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/cpu/cpu_kernels.hpp"
#include "engine/cpu/winograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "tests/gradcheck.hpp"

using namespace fc;
using fc::cpu::ConvAlgorithm;

namespace {

// Sets the convolution algorithm for a scope.
struct ForceAlgorithm {
  ConvAlgorithm saved = cpu::conv_algorithm();
  explicit ForceAlgorithm(ConvAlgorithm a) { cpu::set_conv_algorithm(a); }
  ~ForceAlgorithm() { cpu::set_conv_algorithm(saved); }
};

struct Case {
  int64_t n, c, h, w, o;
};

ConvGeometry geometry(const Case& s) { return {s.n, s.c, s.h, s.w, s.o, 3, 3, 1, 1, s.h, s.w}; }

// A convolution's inputs at UNet-like scales: unit activations and output gradient,
// weights and bias within PyTorch's default bound 1/sqrt(9c).
struct Inputs {
  std::vector<float> x, w, b, gy;
};

Inputs draw(const Case& s, uint64_t seed) {
  Generator g(seed);
  const float bound = 1.f / std::sqrt(9.f * static_cast<float>(s.c));
  return {g.normal(Shape{s.n, s.c, s.h, s.w}).to_vector(),
          g.uniform(Shape{s.o, s.c, 3, 3}, -bound, bound).to_vector(),
          g.uniform(Shape{s.o}, -bound, bound).to_vector(),
          g.normal(Shape{s.n, s.o, s.h, s.w}).to_vector()};
}

// The forward and both gradients, by a naive loop in double or by a kernel.
struct Outputs {
  std::vector<double> y, gx, gw;
};

Outputs naive(const Inputs& in, const Case& s) {
  Outputs r;
  r.y.assign(in.gy.size(), 0.0);
  r.gx.assign(in.x.size(), 0.0);
  r.gw.assign(in.w.size(), 0.0);
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t oc = 0; oc < s.o; ++oc)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x) {
          const size_t out = static_cast<size_t>(((i * s.o + oc) * s.h + y) * s.w + x);
          double acc = in.b[oc];
          for (int64_t ci = 0; ci < s.c; ++ci)
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 3; ++kx) {
                int64_t iy = y + ky - 1, ix = x + kx - 1;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                const size_t xi = static_cast<size_t>(((i * s.c + ci) * s.h + iy) * s.w + ix);
                const size_t wi = static_cast<size_t>(((oc * s.c + ci) * 3 + ky) * 3 + kx);
                acc += double(in.x[xi]) * in.w[wi];
                r.gx[xi] += double(in.gy[out]) * in.w[wi];
                r.gw[wi] += double(in.gy[out]) * in.x[xi];
              }
          r.y[out] = acc;
        }
  return r;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// tile 2 or 4: Winograd with that tile; 0: im2col.
Outputs kernel(const Inputs& in, const Case& s, int tile) {
  const ConvGeometry g = geometry(s);
  std::vector<float> y(in.gy.size()), gx(in.x.size()), gw(in.w.size()), gb(in.b.size());
  if (tile) {
    cpu::winograd_conv2d(in.x.data(), in.w.data(), in.b.data(), y.data(), g, tile);
    cpu::winograd_conv2d_backward(in.x.data(), in.w.data(), in.gy.data(), gx.data(), gw.data(),
                                  g, tile);
  } else {
    ForceAlgorithm force(ConvAlgorithm::Im2col);
    cpu::conv2d(in.x.data(), in.w.data(), in.b.data(), y.data(), g);
    cpu::conv2d_backward(in.x.data(), in.w.data(), in.gy.data(), gx.data(), gw.data(),
                         gb.data(), g);
  }
  return {widen(y), widen(gx), widen(gw)};
}

// ||a - b|| / ||b||
double norm_rel(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d2 = 0, n2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d2 += (a[i] - b[i]) * (a[i] - b[i]);
    n2 += b[i] * b[i];
  }
  return std::sqrt(d2 / (n2 > 0 ? n2 : 1));
}

std::string str(const Case& s) {
  return "x [" + std::to_string(s.n) + ", " + std::to_string(s.c) + ", " + std::to_string(s.h) +
         ", " + std::to_string(s.w) + "], " + std::to_string(s.o) + " out";
}

}  // namespace

TEST_CASE("winograd: which convolutions it takes, and which tile", "[winograd]") {
  auto g = [](int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad) {
    return ConvGeometry{2, c, h, w, 32, k, k, stride, pad, 0, 0};
  };
  CHECK(cpu::winograd_fits(g(32, 8, 8, 3, 1, 1)));
  CHECK_FALSE(cpu::winograd_fits(g(32, 8, 8, 3, 2, 1)));
  CHECK_FALSE(cpu::winograd_fits(g(32, 8, 8, 3, 1, 0)));
  CHECK_FALSE(cpu::winograd_fits(g(32, 8, 8, 1, 1, 0)));
  CHECK_FALSE(cpu::winograd_fits(g(32, 8, 8, 5, 1, 2)));
  // The UNet's first convolution (1 channel in) stays with im2col.
  CHECK_FALSE(cpu::winograd_pays(g(1, 28, 28, 3, 1, 1)));
  CHECK_FALSE(cpu::winograd_pays(g(3, 32, 32, 3, 1, 1)));
  CHECK(cpu::winograd_pays(g(64, 28, 28, 3, 1, 1)));
  // 4x4 tiles where 4 nearly divides a wide enough image, 2x2 elsewhere.
  CHECK(cpu::winograd_tile(g(64, 28, 28, 3, 1, 1)) == 4);
  CHECK(cpu::winograd_tile(g(64, 32, 32, 3, 1, 1)) == 4);
  CHECK(cpu::winograd_tile(g(64, 16, 16, 3, 1, 1)) == 4);
  CHECK(cpu::winograd_tile(g(64, 14, 14, 3, 1, 1)) == 2);
  CHECK(cpu::winograd_tile(g(64, 7, 7, 3, 1, 1)) == 2);
  CHECK(cpu::winograd_tile(g(64, 8, 8, 3, 1, 1)) == 2);
}

TEST_CASE("winograd matches a naive convolution and im2col on odd shapes, forward and backward",
          "[winograd]") {
  // Sizes from 1x1 (one partial tile) to the UNet's 28x28, channels 1 .. 256.
  const Case cases[] = {{1, 1, 1, 1, 1},      {2, 3, 2, 3, 1},      {3, 1, 3, 5, 3},
                        {1, 3, 5, 2, 32},     {2, 32, 7, 7, 3},     {3, 32, 7, 7, 64},
                        {1, 64, 14, 14, 32},  {2, 64, 5, 7, 64},    {1, 3, 28, 28, 64},
                        {2, 64, 28, 28, 64},  {3, 32, 14, 28, 1},   {2, 1, 28, 14, 32},
                        {1, 32, 1, 28, 3},    {2, 3, 28, 2, 32},    {1, 128, 7, 7, 128},
                        {2, 256, 14, 14, 128}};
  // Normwise error against the exact result: im2col's float32 sums are ~1e-7 off;
  // F(2x2)'s transforms add and halve, a few roundings more; F(4x4)'s multiply by up
  // to 8 and divide by 24, which costs about a decimal digit (measured up to 2e-6).
  const double bound[] = {0, 0, 1e-6, 0, 5e-6};
  for (const Case& s : cases) {
    const Inputs in = draw(s, static_cast<uint64_t>(s.n * 1000 + s.c * 100 + s.h * 10 + s.o));
    const Outputs exact = naive(in, s), cols = kernel(in, s, 0);
    INFO(str(s) << ": im2col's error y " << norm_rel(cols.y, exact.y) << ", gx "
                << norm_rel(cols.gx, exact.gx) << ", gw " << norm_rel(cols.gw, exact.gw));
    CHECK(norm_rel(cols.y, exact.y) < 1e-6);
    for (int tile : {2, 4}) {
      const Outputs wino = kernel(in, s, tile);
      INFO("F(" << tile << "x" << tile << ", 3x3): error y " << norm_rel(wino.y, exact.y)
                << ", gx " << norm_rel(wino.gx, exact.gx) << ", gw "
                << norm_rel(wino.gw, exact.gw) << "; from im2col y " << norm_rel(wino.y, cols.y)
                << ", gx " << norm_rel(wino.gx, cols.gx));
      CHECK(norm_rel(wino.y, exact.y) < bound[tile]);
      CHECK(norm_rel(wino.gx, exact.gx) < bound[tile]);
      CHECK(norm_rel(wino.gw, exact.gw) < bound[tile]);
      CHECK(norm_rel(wino.y, cols.y) < bound[tile]);
      CHECK(norm_rel(wino.gx, cols.gx) < bound[tile]);
    }
  }
}

TEST_CASE("winograd gives the same bits on 1 and 2 threads and run to run", "[winograd]") {
  const int saved = num_threads();
  // Many blocks, a few, and one alone (whose point products are spread instead).
  for (Case s : {Case{9, 32, 28, 28, 48}, Case{40, 64, 7, 7, 32}, Case{3, 16, 12, 12, 8}})
    for (int tile : {2, 4}) {
      const Inputs in = draw(s, 7);
      set_num_threads(1);
      const Outputs one = kernel(in, s, tile);
      set_num_threads(2);
      const Outputs two = kernel(in, s, tile), again = kernel(in, s, tile);
      INFO(str(s) << ", tile " << tile);
      CHECK(one.y == two.y);
      CHECK(one.gx == two.gx);
      CHECK(one.gw == two.gw);
      CHECK(two.y == again.y);
      CHECK(two.gx == again.gx);
      CHECK(two.gw == again.gw);
    }
  set_num_threads(saved);
}

TEST_CASE("winograd computes either gradient alone, with the same bits", "[winograd]") {
  for (Case s : {Case{3, 16, 12, 12, 8}, Case{2, 8, 7, 9, 16}})
    for (int tile : {2, 4}) {
      const Inputs in = draw(s, 5);
      const ConvGeometry g = geometry(s);
      const Outputs both = kernel(in, s, tile);
      std::vector<float> gx(in.x.size()), gw(in.w.size());
      cpu::winograd_conv2d_backward(in.x.data(), in.w.data(), in.gy.data(), gx.data(), nullptr,
                                    g, tile);
      cpu::winograd_conv2d_backward(in.x.data(), in.w.data(), in.gy.data(), nullptr, gw.data(),
                                    g, tile);
      INFO(str(s) << ", tile " << tile);
      CHECK(widen(gx) == both.gx);
      CHECK(widen(gw) == both.gw);
    }
}

TEST_CASE("conv2d goes to winograd where it pays, and forced either way agrees", "[winograd]") {
  const Case s{2, 32, 28, 28, 16};
  const Inputs in = draw(s, 11);
  auto run = [&](ConvAlgorithm a) {
    ForceAlgorithm force(a);
    Tensor x = Tensor::from_vector(in.x, Shape{s.n, s.c, s.h, s.w}).requires_grad_();
    Tensor w = Tensor::from_vector(in.w, Shape{s.o, s.c, 3, 3}).requires_grad_();
    Tensor b = Tensor::from_vector(in.b, Shape{s.o}).requires_grad_();
    Tensor y = conv2d(x, w, b, 1, 1);
    y.backward(Tensor::from_vector(in.gy, Shape{s.n, s.o, s.h, s.w}));
    return std::vector<std::vector<float>>{y.to_vector(), x.grad().to_vector(),
                                           w.grad().to_vector(), b.grad().to_vector()};
  };
  auto automatic = run(ConvAlgorithm::Auto), wino = run(ConvAlgorithm::Winograd),
       cols = run(ConvAlgorithm::Im2col);
  CHECK(automatic == wino);  // 32 channels in: Winograd
  for (size_t i = 0; i < 3; ++i) CHECK(norm_rel(widen(wino[i]), widen(cols[i])) < 5e-6);
  CHECK(wino[3] == cols[3]);  // the bias gradient is conv2d's own either way
}

TEST_CASE("winograd conv2d passes the finite-difference gradient check", "[winograd]") {
  ForceAlgorithm force(ConvAlgorithm::Winograd);
  using fc::test::Gen;
  // As tests/test_ops.cpp's bilinear ops: exact up to rounding, so a large step.
  const fc::test::GradCheckOptions opt{0.25f, 2e-3f, 2e-4f, 977};
  struct Shapes {
    Shape x, w;
  };
  // 2x2 tiles, partial ones, and (12x12) 4x4 tiles.
  for (const Shapes& k : {Shapes{{2, 3, 5, 6}, {4, 3, 3, 3}}, Shapes{{1, 2, 3, 1}, {3, 2, 3, 3}},
                          Shapes{{1, 2, 12, 12}, {2, 2, 3, 3}}}) {
    std::vector<Tensor> in = {fc::test::make_input(k.x, Gen::Normal, 1),
                              fc::test::make_input(k.w, Gen::Normal, 2),
                              fc::test::make_input(Shape{k.w[0]}, Gen::Normal, 3)};
    auto r = fc::test::gradcheck(
        [](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], 1, 1); }, in, opt);
    INFO("x " << k.x << ", w " << k.w << ": " << r.message);
    CHECK(r.ok);
  }
}
