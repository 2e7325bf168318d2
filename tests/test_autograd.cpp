// engine/autograd.hpp: shared subexpressions, accumulation, no-grad mode, gradients to
// inputs, fc::grad, retain_graph, graphs 100,000 ops deep (backward and destruction
// must not recurse), and saved tensors freed by the walk.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"

using namespace fc;
using Catch::Matchers::Contains;

namespace {

Tensor leaf(const std::vector<float>& v, const Shape& s) {
  Tensor t = Tensor::from_vector(v, s);
  t.requires_grad_();
  return t;
}

void check_close(const Tensor& got, const std::vector<float>& want, double rtol = 1e-5,
                 double atol = 1e-6) {
  REQUIRE(got.defined());
  std::vector<float> v = got.to_vector();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    CHECK(std::fabs(double(v[i]) - want[i]) <= atol + rtol * std::fabs(double(want[i])));
  }
}

size_t active() { return memory_stats(Device::CPU).active_bytes; }

}  // namespace

TEST_CASE("autograd: shared subexpressions sum their gradients", "[autograd]") {
  SECTION("y = x*x + x") {
    Tensor x = leaf({-1.5f, 0.f, 2.f}, {3});
    sum(add(mul(x, x), x)).backward();
    check_close(x.grad(), {-2.f, 1.f, 5.f});  // 2x + 1
  }
  SECTION("f(a) used twice") {
    Tensor a = leaf({-1.f, 0.5f}, {2});
    Tensor b = fc::exp(a);
    sum(add(mul(b, b), b)).backward();  // d/da (e^2a + e^a) = 2e^2a + e^a
    check_close(a.grad(), {float(2 * std::exp(-2.0) + std::exp(-1.0)),
                           float(2 * std::exp(1.0) + std::exp(0.5))});
  }
  SECTION("a diamond with paths of different lengths") {
    // a = 2x, b = a*a, c = b + a, d = c*a = 8x^3 + 4x^2, so d' = 24x^2 + 8x.
    Tensor x = leaf({1.f, -0.5f, 3.f}, {3});
    Tensor a = mul_scalar(x, 2.f);
    Tensor b = mul(a, a);
    Tensor c = add(b, a);
    sum(mul(c, a)).backward();
    check_close(x.grad(), {32.f, 2.f, 240.f});
  }
  SECTION("one input on both sides of ops that broadcast") {
    Tensor x = leaf({1.f, 2.f, 3.f}, {3, 1});
    // y[i][j] = x_i * x_j over a [3,3] outer product: dy_sum/dx_i = 2 sum_j x_j = 12.
    sum(mul(x, reshape(x, Shape{1, 3}))).backward();
    check_close(x.grad(), {12.f, 12.f, 12.f});
  }
}

TEST_CASE("autograd: gradients accumulate across backward calls", "[autograd]") {
  Tensor x = leaf({1.f, 2.f}, {2});
  sum(mul(x, x)).backward();
  check_close(x.grad(), {2.f, 4.f});
  Tensor g_first = x.grad();
  sum(mul_scalar(x, 3.f)).backward();
  check_close(x.grad(), {5.f, 7.f});
  // Accumulated in place: the .grad tensor is the same one.
  CHECK(x.grad().data() == g_first.data());
  // Gradients themselves carry no graph.
  CHECK_FALSE(x.grad().requires_grad());
  // Resetting works like zero_grad(set_to_none).
  x.set_grad(Tensor());
  sum(x).backward();
  check_close(x.grad(), {1.f, 1.f});
}

TEST_CASE("autograd: NoGradGuard records nothing", "[autograd]") {
  Tensor x = leaf({1.f, 2.f}, {2});
  CHECK(grad_enabled());
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = mul(fc::exp(x), x);
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    Tensor z = concat({x, x}, 0);
    CHECK_FALSE(z.requires_grad());
    CHECK_FALSE(linear(reshape(x, Shape{1, 2}), reshape(x, Shape{1, 2}), slice(x, 0, 0, 1))
                     .requires_grad());
    {
      NoGradGuard nested;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());  // the inner guard restores "off", not "on"
    REQUIRE_THROWS_AS(y.backward(Tensor::ones(Shape{2})), Error);
  }
  CHECK(grad_enabled());
  Tensor y = mul(x, x);
  CHECK(y.grad_fn() != nullptr);
  CHECK(y.requires_grad());
  CHECK_FALSE(x.grad().defined());
  // GradModeGuard turns recording back on inside a no-grad region, and restores it.
  {
    NoGradGuard off;
    {
      GradModeGuard on(true);
      CHECK(grad_enabled());
      CHECK(mul(x, x).requires_grad());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  // Without any input asking for a gradient nothing is recorded either.
  Tensor c = Tensor::ones(Shape{2});
  CHECK(mul(c, c).grad_fn() == nullptr);
}

TEST_CASE("autograd: gradients reach every input that asks, and only those", "[autograd]") {
  // The likelihood needs d(v . z)/dx for a data tensor x: a plain input with
  // requires_grad_ gets its .grad like a parameter.
  Tensor x = leaf({1.f, 2.f, 3.f, 4.f}, {2, 2});                  // data
  Tensor w = leaf({1.f, 0.f, 2.f, 1.f, -1.f, 3.f}, {3, 2});       // parameter
  Tensor b = Tensor::from_vector({0.5f, 0.5f, 0.5f}, {3});       // constant
  Tensor v = Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  Tensor z = linear(x, w, b);
  sum(mul(v, z)).backward();
  // d/dx = v @ w; d/dw = v^T @ x.
  check_close(x.grad(), {1 + 4 - 3, 0 + 2 + 9, 4 + 10 - 6, 0 + 5 + 18}, 1e-6);
  check_close(w.grad(), {1 + 12, 2 + 16, 2 + 15, 4 + 20, 3 + 18, 6 + 24}, 1e-6);
  CHECK_FALSE(b.grad().defined());
  CHECK_FALSE(v.grad().defined());
  // Intermediate tensors do not keep a .grad.
  CHECK_FALSE(z.grad().defined());

  // A tensor cut from the graph is a constant: y = detach(2x) * x has dy/dx = 2x.
  Tensor p = leaf({1.f, -2.f}, {2});
  sum(mul(mul_scalar(p, 2.f).detach(), p)).backward();
  check_close(p.grad(), {2.f, -4.f});

  // concat with a middle input that wants no gradient.
  Tensor c0 = leaf({1.f, 2.f}, {2}), c1 = Tensor::from_vector({3.f}, {1}), c2 = leaf({4.f}, {1});
  sum(mul(concat({c0, c1, c2}, 0), Tensor::from_vector({10, 20, 30, 40}, {4}))).backward();
  check_close(c0.grad(), {10.f, 20.f});
  check_close(c2.grad(), {40.f});
  CHECK_FALSE(c1.grad().defined());

  // A leaf as the root of backward.
  Tensor r = leaf({1.f, 2.f}, {2});
  r.backward(Tensor::from_vector({3.f, 4.f}, {2}));
  check_close(r.grad(), {3.f, 4.f});
}

TEST_CASE("autograd: fc::grad returns gradients without touching .grad", "[autograd]") {
  Tensor x = leaf({1.f, -2.f, 0.5f}, {3});
  Tensor unused = leaf({7.f}, {1});
  Tensor h = mul_scalar(x, 3.f);  // non-leaf
  Tensor y = sum(mul(h, h));      // 9 x^2
  std::vector<Tensor> g = fc::grad(y, {x, h, unused});
  REQUIRE(g.size() == 3);
  check_close(g[0], {18.f, -36.f, 9.f});  // 18 x
  check_close(g[1], {6.f, -12.f, 3.f});   // 2 h
  check_close(g[2], {0.f});               // does not influence y
  CHECK(g[0].shape() == x.shape());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(h.grad().defined());
  CHECK_FALSE(unused.grad().defined());
  CHECK_FALSE(g[0].requires_grad());

  // An existing .grad is left as it was.
  x.set_grad(Tensor::from_vector({100.f, 100.f, 100.f}, {3}));
  Tensor y2 = sum(fc::exp(x));
  std::vector<Tensor> g2 = fc::grad(y2, {x});
  check_close(g2[0], {float(std::exp(1.0)), float(std::exp(-2.0)), float(std::exp(0.5))});
  check_close(x.grad(), {100.f, 100.f, 100.f});

  // A non-scalar output with an explicit output gradient (a vector-Jacobian product),
  // keeping the graph for a second call.
  Tensor q = leaf({1.f, 2.f}, {2});
  Tensor out = mul(q, q);
  Tensor v = Tensor::from_vector({3.f, -1.f}, {2});
  check_close(fc::grad(out, {q}, v, true)[0], {6.f, -4.f});
  check_close(fc::grad(out, {q}, v)[0], {6.f, -4.f});
  CHECK_FALSE(q.grad().defined());
  REQUIRE_THROWS_AS(fc::grad(out, {q}), Error);  // non-scalar, no output gradient

  // Differentiating a model with respect to its input only: the weights get nothing.
  Tensor data = leaf({1.f, 2.f, 3.f, 4.f}, {2, 2});
  Tensor weight = leaf({1.f, 0.f, 2.f, 1.f, -1.f, 3.f}, {3, 2});
  Tensor bias = leaf({0.5f, 0.5f, 0.5f}, {3});
  Tensor probe = Tensor::from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  Tensor vz = sum(mul(probe, silu(linear(data, weight, bias))));
  Tensor pre = linear(data, weight, bias).detach();
  std::vector<float> pv = pre.to_vector(), dv(6);
  for (size_t i = 0; i < 6; ++i) {  // d silu(u)/du = s(u) (1 + u (1 - s(u)))
    const double u = pv[i], sg = 1 / (1 + std::exp(-u));
    dv[i] = float((i + 1) * sg * (1 + u * (1 - sg)));
  }
  Tensor want = matmul(Tensor::from_vector(dv, {2, 3}), weight.detach());
  check_close(fc::grad(vz, {data})[0], want.to_vector(), 1e-5);
  CHECK_FALSE(weight.grad().defined());
  CHECK_FALSE(bias.grad().defined());
  CHECK_FALSE(data.grad().defined());

  // Inputs must require grad.
  Tensor plain = Tensor::ones(Shape{2});
  Tensor z = sum(mul(plain, leaf({1.f, 1.f}, {2})));
  REQUIRE_THROWS_AS(fc::grad(z, {plain}), Error);
}

TEST_CASE("autograd: retain_graph", "[autograd]") {
  Tensor x = leaf({2.f}, {1});
  Tensor y = sum(mul(fc::exp(x), x));  // (x e^x)' = e^x (1 + x)
  const float d = float(std::exp(2.0) * 3.0);
  y.backward(Tensor(), true);
  check_close(x.grad(), {d});
  y.backward(Tensor(), true);
  check_close(x.grad(), {2 * d});
  y.backward();  // the last use frees the graph
  check_close(x.grad(), {3 * d});
  REQUIRE_THROWS_AS(y.backward(), Error);
  REQUIRE_THROWS_WITH(y.backward(), Contains("retain_graph"));
  check_close(x.grad(), {3 * d});  // a failed backward adds nothing

  Tensor x2 = leaf({1.f, 2.f}, {2});
  Tensor y2 = sum(square(x2));
  y2.backward();
  REQUIRE_THROWS_AS(y2.backward(), Error);
  // A new forward pass over the same leaves works again.
  sum(square(x2)).backward();
  check_close(x2.grad(), {4.f, 8.f});
}

TEST_CASE("autograd: misuse throws fc::Error", "[autograd][errors]") {
  Tensor x = leaf({1.f, 2.f}, {2});
  Tensor y = mul(x, x);
  REQUIRE_THROWS_WITH(y.backward(), Contains("backward"));  // two elements, no gradient
  REQUIRE_THROWS_WITH(y.backward(Tensor::ones(Shape{3})), Contains("backward"));
  REQUIRE_THROWS_WITH(Tensor::ones(Shape{1}).backward(), Contains("does not require grad"));
  REQUIRE_THROWS_AS(y.requires_grad_(false), Error);
  REQUIRE_NOTHROW(y.backward(Tensor::ones(Shape{2})));
  check_close(x.grad(), {2.f, 4.f});
}

TEST_CASE("autograd: a chain of 100,000 ops", "[autograd]") {
  constexpr int kOps = 100000;
  SECTION("backward is iterative and exact") {
    Tensor x = leaf({1.f}, {1});
    Tensor y = x;
    for (int i = 0; i < kOps; ++i) y = mul_scalar(y, 1.0001f);
    y.backward();
    const double want = std::pow(double(1.0001f), kOps);  // about e^10
    CHECK(y.item() == Approx(want).epsilon(2e-3));
    CHECK(x.grad().item() == Approx(want).epsilon(2e-3));
  }
  SECTION("through two-input ops, each node used twice") {
    // y <- y + 1e-5 y: 50,000 steps, 100,000 nodes, every node feeding two others.
    Tensor x = leaf({1.f}, {1});
    Tensor w = leaf({0.f}, {1});
    Tensor y = x;
    for (int i = 0; i < kOps / 2; ++i) y = add(y, mul_scalar(add(y, w), 1e-5f));
    y.backward();
    const double growth = std::pow(1.0 + double(1e-5f), kOps / 2);  // about e^0.5
    CHECK(x.grad().item() == Approx(growth).epsilon(5e-3));
    // dy/dw = sum over steps of 1e-5 * growth of the rest = growth - 1
    CHECK(w.grad().item() == Approx(growth - 1).epsilon(5e-3));
  }
  SECTION("fc::grad through the chain") {
    Tensor x = leaf({2.f}, {1});
    Tensor y = x;
    for (int i = 0; i < kOps; ++i) y = add_scalar(y, 1e-4f);
    CHECK(fc::grad(y, {x}, Tensor::ones(Shape{1}))[0].item() == 1.f);
    CHECK_FALSE(x.grad().defined());
  }
}

TEST_CASE("autograd: destroying a 100,000-op graph does not recurse", "[autograd]") {
  constexpr int kOps = 100000;
  const size_t base = active();
  {
    Tensor x = leaf({0.5f}, {1});
    Tensor c = leaf({1.f}, {1});
    Tensor y = x;
    // mul saves both operands, so every intermediate stays alive in the graph.
    for (int i = 0; i < kOps; ++i) y = mul(y, c);
    CHECK(active() >= base + size_t(kOps) * sizeof(float));
    CHECK(y.item() == 0.5f);
  }  // y's graph is released here, never walked
  CHECK(active() == base);
  {
    // Walked with retain_graph, so the graph is still whole when it is released.
    Tensor x = leaf({0.5f}, {1});
    Tensor y = x;
    for (int i = 0; i < kOps; ++i) y = fc::tanh(add_scalar(y, 1e-6f));
    y.backward(Tensor(), true);
    CHECK(x.grad().item() > 0.f);
  }
  CHECK(active() == base);
  empty_cache();  // hand the chain's 100,000 small blocks back
}

TEST_CASE("autograd: backward frees saved tensors as it walks", "[autograd][memory]") {
  Generator gen(11);
  Tensor x = gen.normal(Shape{64, 33}), t = gen.normal(Shape{64, 65});
  Tensor w = gen.normal(Shape{65, 33}), b = gen.normal(Shape{65});
  w.requires_grad_();
  b.requires_grad_();
  const size_t one_activation = 64 * 65 * sizeof(float);

  for (bool retain : {false, true}) {
    INFO("retain_graph " << retain);
    const size_t base = active();
    {
      Tensor loss;
      {
        Tensor h = linear(x, w, b);  // x is saved for dw (a view of x: no new memory)
        Tensor y = silu(h);          // saves h
        loss = mse_loss(y, t);       // saves y (and t, an input)
      }
      // The graph holds h and y though no variable does.
      CHECK(active() >= base + 2 * one_activation);
      loss.backward(Tensor(), retain);
      CHECK(w.grad().shape() == w.shape());
      CHECK(b.grad().shape() == b.shape());
      w.set_grad(Tensor());
      b.set_grad(Tensor());
      if (!retain) {
        // Only the loss itself (one small block) remains while `loss` is alive.
        CHECK(active() - base < one_activation / 4);
      } else {
        CHECK(active() >= base + 2 * one_activation);
      }
    }
    // The output and its graph are gone: back to where we started, to the byte.
    CHECK(active() == base);
  }
}

TEST_CASE("autograd: backward hooks see each leaf once, when its gradient is complete", "[autograd]") {
  // x feeds three ops at different depths, w one, b none before the last: each leaf's
  // gradient must be whole when leaf_done names it, whatever the walk's order.
  Tensor x = leaf({1.f, -2.f, 0.5f}, {3});
  Tensor w = leaf({0.3f, 0.7f, -1.f}, {3});
  Tensor b = leaf({2.f, 1.f, -1.f}, {3});
  Tensor h = fc::exp(mul(x, w));
  Tensor y = sum(add(mul(add(h, x), x), b));
  std::vector<std::pair<const TensorImpl*, std::vector<float>>> seen;
  int nodes = 0;
  BackwardHooks hooks;
  hooks.leaf_done = [&](const TensorImpl* leaf) {
    const Tensor& t = leaf == x.impl() ? x : leaf == w.impl() ? w : b;
    seen.emplace_back(leaf, t.grad().to_vector());
  };
  hooks.after_node = [&] { ++nodes; };
  {
    BackwardHooksGuard guard(&hooks);
    y.backward(Tensor(), /*retain_graph=*/true);
  }
  REQUIRE(seen.size() == 3);
  for (const Tensor* t : {&x, &w, &b}) {
    int times = 0;
    for (const auto& [leaf, grad] : seen)
      if (leaf == t->impl()) {
        ++times;
        CHECK(grad == t->grad().to_vector());  // nothing was added after leaf_done
      }
    CHECK(times == 1);
  }
  CHECK(nodes == 6);  // exp, two muls and two adds, the sum
  // Outside the guard, and in fc::grad, no hook runs.
  seen.clear();
  nodes = 0;
  grad(y, {x}, Tensor(), /*retain_graph=*/true);
  {
    BackwardHooksGuard guard(&hooks);
    grad(y, {x}, Tensor(), /*retain_graph=*/true);
  }
  CHECK(seen.empty());
  CHECK(nodes == 0);
}
