// engine/ops.hpp: one table of op cases run three ways (a finite-difference gradient
// check, tests/gradcheck.hpp, on CPU and CUDA tensors; the same forward and backward on
// CUDA tensors against the CPU; and, hidden, a timing), with its coverage taken from
// engine/ops.hpp itself; forward values computed by hand; the fast exp against libm;
// shape errors that name the op; and ops on CUDA tensors failing loudly without a
// CUDA backend.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/kernels.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "tests/gradcheck.hpp"
#include "tests/op_cases.hpp"
#include "tests/test_util.hpp"

using namespace fc;
using fc::test::Gen;
using fc::test::GradCheckOptions;
using fc::test::OpCase;
using fc::test::op_cases;
using fc::test::linear_opt;
using fc::test::smooth_opt;
using Catch::Matchers::Contains;

namespace {

using Dims = std::vector<int64_t>;  // reshape targets (a braced list alone is ambiguous)
using V = const std::vector<Tensor>&;

Tensor T(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

// Elementwise |got - want| <= atol + rtol |want|, with a message naming the element.
void check_values(const Tensor& got, const std::vector<float>& want, const Shape& shape,
                  double rtol = 1e-6, double atol = 1e-6) {
  REQUIRE(got.shape() == shape);
  std::vector<float> v = got.to_vector();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    CHECK(std::fabs(double(v[i]) - want[i]) <= atol + rtol * std::fabs(double(want[i])));
  }
}

}  // namespace

// Every case of the table, its inputs on `device`.
void gradcheck_every_op(Device device) {
  // The emulated device opens all the device memory it has handed out at every launch
  // and copy; the blocks earlier tests left in the caching allocator would make this
  // test's 100,000 launches 15 times slower (188 s instead of 11 s in make test).
  if (device != Device::CPU) empty_cache(device);
  std::vector<OpCase> cases = op_cases();
  uint64_t seed = 100;
  const bool verbose = std::getenv("FC_GRADCHECK_VERBOSE") != nullptr;
  for (const OpCase& c : cases) {
    REQUIRE(c.shapes.size() == c.gens.size());
    if (device == Device::CUDA && !c.on_cuda) {
      WARN("skipped on CUDA (too slow on the emulated device; run on the CPU): " << c.name);
      continue;
    }
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < c.shapes.size(); ++i)
      inputs.push_back(fc::test::make_input(c.shapes[i], c.gens[i], seed++).to(device));
    fc::test::GradCheckResult r = fc::test::gradcheck(c.f, inputs, c.opt);
    if (verbose) std::printf("%-50s worst %.3f  %s\n", c.name.c_str(), r.worst_excess, r.message.c_str());
    INFO(device_name(device) << " " << c.name << ": " << r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("gradcheck: every op in the table", "[ops][gradcheck]") { gradcheck_every_op(Device::CPU); }

// The same finite differences with CUDA tensors: the gradients the CUDA kernels give
// against the CUDA forward's own differences (the emulated device in make test).
TEST_CASE("gradcheck: every op in the table with CUDA tensors", "[ops][gradcheck][cuda]") {
  FC_SKIP_IN_SANITIZER_BUILD("the finite-difference check of every op on the emulated device");
  gradcheck_every_op(Device::CUDA);
}

// The ops are what engine/ops.hpp declares: every `Tensor NAME(` at the start of a line
// (tests run from the repository root). The operators below them are spelled with ops.
std::set<std::string> declared_ops() {
  std::ifstream f("engine/ops.hpp");
  REQUIRE(f);
  const std::regex op(R"(^Tensor ([a-z_0-9]+)\()");
  std::set<std::string> names;
  std::smatch m;
  for (std::string line; std::getline(f, line);)
    if (std::regex_search(line, m, op)) names.insert(m[1]);
  return names;
}

TEST_CASE("gradcheck: the table covers every op in engine/ops.hpp", "[ops][gradcheck]") {
  const std::set<std::string> ops = declared_ops();
  // What the header holds today, so that a broken reading of it cannot pass as coverage.
  REQUIRE(ops.size() >= 45);
  REQUIRE(ops.count("sign") == 1);
  REQUIRE(ops.count("group_norm_silu") == 1);
  std::set<std::string> covered;
  for (const OpCase& c : op_cases()) covered.insert(c.name.substr(0, c.name.find(':')));
  for (const std::string& op : ops) {
    INFO("op " << op << " has no row in op_cases()");
    CHECK(covered.count(op) == 1);
  }
}

// ---- cross-device: the same rows with CUDA tensors against the CPU


TEST_CASE("cross-device: every row of the table computes on CUDA tensors what it computes on the CPU", "[cuda][ops]") {
  uint64_t seed = 300;
  for (const OpCase& c : op_cases()) {
    INFO("op " << c.name);
    const auto cpu = fc::test::row_forward_backward(c, Device::CPU, seed);
    const auto gpu = fc::test::row_forward_backward(c, Device::CUDA, seed);
    seed += c.shapes.size();
    REQUIRE(cpu.size() == gpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) {
      INFO((i == 0 ? std::string("output") : "gradient of input " + std::to_string(i - 1)));
      REQUIRE(cpu[i].size() == gpu[i].size());
      CHECK(nmse(cpu[i], gpu[i]) <= 1e-9);
    }
  }
}

// ---- timing: the same rows, timed (hidden; FC_OP_TIMING_REPS repetitions, default 20)

TEST_CASE("timing: the median forward + backward of every row on each device", "[.timing]") {
  const char* reps_text = std::getenv("FC_OP_TIMING_REPS");
  const int reps = std::max(1, reps_text ? std::atoi(reps_text) : 20);
  std::vector<Device> devices = {Device::CPU};
  if (cuda::unavailable_reason().empty()) devices.push_back(Device::CUDA);
  std::printf("%-56s", "op (median of forward + backward, microseconds)");
  for (Device d : devices) std::printf(" %12s", d == Device::CUDA && cuda::emulated() ? "CUDA (emu)" : device_name(d));
  std::printf("\n");
  for (const OpCase& c : op_cases()) {
    std::printf("%-56s", c.name.substr(0, 56).c_str());
    for (Device d : devices) {
      std::vector<double> us;
      for (int r = 0; r <= reps; ++r) {  // the first run warms the caches; not counted
        std::vector<Tensor> inputs = fc::test::row_inputs(c, d, 1);
        const auto t0 = std::chrono::steady_clock::now();
        Tensor out = c.f(inputs);
        out.backward(Tensor::ones(out.shape(), d));
        for (const Tensor& x : inputs)  // reading a gradient back waits for the device
          if (x.grad().defined()) {
            x.grad().to_vector();
            break;
          }
        const auto t1 = std::chrono::steady_clock::now();
        if (r > 0) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
      const double median = us[us.size() / 2];
      std::printf(" %12.1f", median);
      CHECK(median > 0);
    }
    std::printf("\n");
  }
}

TEST_CASE("gradcheck: the checker catches a wrong gradient", "[ops][gradcheck]") {
  // square with the gradient g * x instead of 2 g x, and with the wrong shape.
  auto wrong_factor = [](V x) {
    Tensor y;
    {
      NoGradGuard guard;
      y = square(x[0]);
    }
    Tensor xs = x[0].detach();
    record(y, "bad_square", {&x[0]}, [xs](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{mul(g, xs)};
    });
    return y;
  };
  auto wrong_shape = [](V x) {
    Tensor y;
    {
      NoGradGuard guard;
      y = sum(x[0], {1});
    }
    record(y, "bad_sum", {&x[0]}, [](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{reshape(broadcast_to(reshape(g, Shape{1, 3}), Shape{5, 3}),
                                         Shape{3, 5})};
    });
    return y;
  };
  Tensor x = fc::test::make_input(Shape{3, 5}, Gen::Normal, 5);
  CHECK_FALSE(fc::test::gradcheck(wrong_factor, {x}, smooth_opt()).ok);
  // Numerically wrong (rows and columns mixed up) though of the right element count.
  CHECK_FALSE(fc::test::gradcheck(wrong_shape, {x}, linear_opt()).ok);
  // And an op that records nothing is reported, not passed.
  auto detached = [](V x) { return x[0].detach(); };
  fc::test::GradCheckResult r = fc::test::gradcheck(detached, {x}, linear_opt());
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.message, Contains("does not require grad"));
  // The right rule passes with the same tolerances.
  CHECK(fc::test::gradcheck([](V x) { return square(x[0]); }, {x}, smooth_opt()).ok);
}

// ---- forward values

TEST_CASE("unary ops: known values", "[ops]") {
  Tensor x = T({-2.f, -1.f, 0.f, 0.5f, 1.f, 2.f}, {6});
  check_values(neg(x), {2, 1, 0, -0.5f, -1, -2}, {6});
  check_values(fc::exp(x), {0.13533528f, 0.36787944f, 1.f, 1.6487213f, 2.7182818f, 7.3890561f},
               {6}, 2e-7);
  check_values(silu(x), {-0.23840584f, -0.26894142f, 0.f, 0.31122967f, 0.7310586f, 1.7615942f},
               {6}, 3e-7);
  check_values(sigmoid(x), {0.11920292f, 0.26894142f, 0.5f, 0.62245933f, 0.7310586f, 0.88079708f},
               {6}, 3e-7);
  check_values(fc::tanh(x), {-0.96402758f, -0.76159416f, 0.f, 0.46211716f, 0.76159416f, 0.96402758f},
               {6}, 2e-7);
  check_values(relu(x), {0, 0, 0, 0.5f, 1, 2}, {6});
  check_values(fc::abs(x), {2, 1, 0, 0.5f, 1, 2}, {6});
  check_values(sign(x), {-1, -1, 0, 1, 1, 1}, {6});
  check_values(square(x), {4, 1, 0, 0.25f, 1, 4}, {6});
  check_values(fc::pow(x, 3.f), {-8, -1, 0, 0.125f, 1, 8}, {6});
  check_values(add_scalar(x, 2.5f), {0.5f, 1.5f, 2.5f, 3.f, 3.5f, 4.5f}, {6});
  check_values(mul_scalar(x, -3.f), {6, 3, 0, -1.5f, -3, -6}, {6});
  check_values(rsub_scalar(1.f, x), {3, 2, 1, 0.5f, 0, -1}, {6});

  Tensor p = T({0.25f, 1.f, 2.f, 4.f, 2.7182818f}, {5});
  check_values(fc::log(p), {-1.3862944f, 0.f, 0.69314718f, 1.3862944f, 1.f}, {5}, 2e-7, 1e-7);
  check_values(fc::sqrt(p), {0.5f, 1.f, 1.4142136f, 2.f, 1.6487213f}, {5}, 2e-7);
  check_values(fc::pow(p, 0.5f), {0.5f, 1.f, 1.4142136f, 2.f, 1.6487213f}, {5}, 2e-7);
  check_values(fc::pow(p, -1.f), {4.f, 1.f, 0.5f, 0.25f, 0.36787944f}, {5}, 2e-7);
  check_values(rdiv_scalar(2.f, p), {8.f, 2.f, 1.f, 0.5f, 0.73575888f}, {5}, 2e-7);

  // The far tails stay finite and saturate instead of overflowing to NaN.
  Tensor big = T({-100.f, 100.f}, {2});
  check_values(sigmoid(big), {0.f, 1.f}, {2}, 0, 1e-30);
  check_values(silu(big), {0.f, 100.f}, {2}, 1e-7, 1e-30);
  check_values(fc::tanh(big), {-1.f, 1.f}, {2});
  CHECK(fc::exp(T({-100.f}, {1})).item() < 1e-37f);
  CHECK(fc::exp(T({-100.f}, {1})).item() >= 0.f);
}

TEST_CASE("unary ops: NaN in, NaN out", "[ops]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = T({nan, 1.f}, {2});
  for (auto op : {+[](const Tensor& t) { return fc::exp(t); },
                  +[](const Tensor& t) { return sigmoid(t); },
                  +[](const Tensor& t) { return silu(t); },
                  +[](const Tensor& t) { return fc::tanh(t); },
                  +[](const Tensor& t) { return fc::log(t); },
                  +[](const Tensor& t) { return fc::sqrt(t); },
                  +[](const Tensor& t) { return square(t); }}) {
    std::vector<float> v = op(x).to_vector();
    CHECK(std::isnan(v[0]));
    CHECK(std::isfinite(v[1]));
  }
}

TEST_CASE("fast exp in exp, sigmoid and silu: within 2e-7 of libm over [-80, 80]", "[ops]") {
  // 2^21 + 1 points: large enough to take the multi-threaded path of the kernels.
  const int64_t n = (1 << 21) + 1;
  std::vector<float> xs(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) xs[static_cast<size_t>(i)] = -80.f + 160.f * float(i) / float(n - 1);
  Tensor x = T(xs, {n});
  std::vector<float> e = fc::exp(x).to_vector(), s = sigmoid(x).to_vector(), si = silu(x).to_vector();
  double worst_exp = 0, worst_sig = 0, worst_silu = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double xi = xs[static_cast<size_t>(i)];
    const double ref = std::exp(xi), sref = 1.0 / (1.0 + std::exp(-xi));
    worst_exp = std::max(worst_exp, std::fabs(e[static_cast<size_t>(i)] - ref) / ref);
    worst_sig = std::max(worst_sig, std::fabs(s[static_cast<size_t>(i)] - sref) / sref);
    if (xi != 0)
      worst_silu = std::max(worst_silu, std::fabs(si[static_cast<size_t>(i)] - xi * sref) /
                                            std::fabs(xi * sref));
  }
  INFO("worst relative error: exp " << worst_exp << ", sigmoid " << worst_sig << ", silu "
                                    << worst_silu);
  // exp is within 2e-7 (under 2 ulp; about 8.5e-8 measured). sigmoid and silu add
  // the float rounding of 1 + e, of the division and of the product (about 1.4e-7
  // and 1.8e-7 measured).
  CHECK(worst_exp < 2e-7);
  CHECK(worst_sig < 3e-7);
  CHECK(worst_silu < 3e-7);
}

TEST_CASE("binary ops: hand-computed broadcasting", "[ops]") {
  Tensor m = T({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(add(m, T({10, 20, 30}, {3})), {11, 22, 33, 14, 25, 36}, {2, 3});
  check_values(add(m, T({100, 200}, {2, 1})), {101, 102, 103, 204, 205, 206}, {2, 3});
  check_values(sub(T({10}, {}), m), {9, 8, 7, 6, 5, 4}, {2, 3});
  check_values(sub(m, T({1}, {1})), {0, 1, 2, 3, 4, 5}, {2, 3});
  check_values(mul(T({1, 2, 3}, {3, 1}), T({1, 10, 100, 1000}, {1, 4})),
               {1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000}, {3, 4});
  check_values(div(m, T({1, 2, 4}, {3})), {1, 1, 0.75f, 4, 2.5f, 1.5f}, {2, 3});
  check_values(div(T({3}, {}), T({1, 2, 4}, {3})), {3, 1.5f, 0.75f}, {3});
  check_values(operator-(T({1, 2}, {2})), {-1, -2}, {2});
  check_values(2.f - T({1, 2}, {2}), {1, 0}, {2});
  check_values(T({1, 2}, {2}) / 4.f, {0.25f, 0.5f}, {2});
  check_values(8.f / T({1, 2}, {2}), {8, 4}, {2});
}

namespace {

// The broadcasting rule written as plainly as possible: out[i] = a[ia] op b[ib].
std::vector<float> naive_binary(const Tensor& a, const Tensor& b, char op, Shape* out_shape) {
  const int nd = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> od(static_cast<size_t>(nd));
  auto dim_of = [nd](const Tensor& t, int i) {
    int j = i - (nd - t.ndim());
    return j < 0 ? int64_t{1} : t.shape()[j];
  };
  for (int i = 0; i < nd; ++i) od[static_cast<size_t>(i)] = std::max(dim_of(a, i), dim_of(b, i));
  *out_shape = Shape(od);
  std::vector<float> va = a.to_vector(), vb = b.to_vector(), out;
  for (int64_t lin = 0; lin < out_shape->numel(); ++lin) {
    int64_t rem = lin, ia = 0, ib = 0, sa = 1, sb = 1;
    for (int i = nd - 1; i >= 0; --i) {
      int64_t c = rem % od[static_cast<size_t>(i)];
      rem /= od[static_cast<size_t>(i)];
      if (dim_of(a, i) != 1) ia += c * sa;
      if (dim_of(b, i) != 1) ib += c * sb;
      sa *= dim_of(a, i);
      sb *= dim_of(b, i);
    }
    float u = va[static_cast<size_t>(ia)], v = vb[static_cast<size_t>(ib)];
    out.push_back(op == '+' ? u + v : op == '-' ? u - v : op == '*' ? u * v : u / v);
  }
  return out;
}

}  // namespace

TEST_CASE("binary ops: every broadcasting pattern matches a naive loop exactly", "[ops]") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5}, {3, 5}},    {{3, 5}, {}},         {{}, {3, 5}},          {{1}, {3, 5}},
      {{3, 5}, {1, 1}},    {{3, 5}, {5}},        {{2, 3, 5}, {3, 5}},   {{3, 5}, {3, 1}},
      {{2, 3, 5}, {2, 3, 1}}, {{5}, {3, 5}},     {{3, 1}, {3, 5}},      {{2, 1, 3}, {4, 1}},
      {{3, 1}, {1, 4}},    {{3, 1, 5}, {1, 4, 1}}, {{1, 1}, {3}},       {{2, 3, 5}, {1, 3, 1}},
      {{4, 1, 1, 3}, {2, 5, 1}}, {{2, 3, 4, 5}, {2, 3, 1, 1}}, {{2, 3, 4}, {2, 1, 1}},
      {{2, 3, 4}, {1, 3, 1}}, {{}, {}}};
  uint64_t seed = 1;
  for (const auto& [sa, sb] : shapes) {
    Tensor a = Generator(seed++).normal(sa);
    Tensor b = fc::test::make_input(sb, Gen::Positive, seed++);
    const std::pair<char, Tensor (*)(const Tensor&, const Tensor&)> ops[] = {
        {'+', &fc::add}, {'-', &fc::sub}, {'*', &fc::mul}, {'/', &fc::div}};
    for (const auto& [sym, fn] : ops) {
      Shape want_shape;
      std::vector<float> want = naive_binary(a, b, sym, &want_shape);
      Tensor got = fn(a, b);
      INFO(sa << " " << sym << " " << sb);
      REQUIRE(got.shape() == want_shape);
      CHECK(got.to_vector() == want);
    }
  }
}

TEST_CASE("reductions: known values", "[ops]") {
  Tensor m = T({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(sum(m), {21}, {});
  check_values(mean(m), {3.5f}, {});
  check_values(sum(m, {0}), {5, 7, 9}, {3});
  check_values(sum(m, {1}), {6, 15}, {2});
  check_values(sum(m, {-1}, true), {6, 15}, {2, 1});
  check_values(sum(m, {0}, true), {5, 7, 9}, {1, 3});
  check_values(sum(m, {0, 1}), {21}, {});
  check_values(sum(m, {1, 0}, true), {21}, {1, 1});
  check_values(mean(m, {0}), {2.5f, 3.5f, 4.5f}, {3});
  check_values(mean(m, {1}, true), {2, 5}, {2, 1});

  Tensor c = T({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  check_values(sum(c, {1}), {9, 12, 27, 30}, {2, 2});
  check_values(sum(c, {0, 2}), {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12}, {3});
  check_values(mean(c, {2}), {1.5f, 3.5f, 5.5f, 7.5f, 9.5f, 11.5f}, {2, 3});

  Tensor mx = T({1, 5, 3, 4, 2, 6}, {2, 3});
  check_values(fc::max(mx, 0), {4, 5, 6}, {3});
  check_values(fc::max(mx, 1), {5, 6}, {2});
  check_values(fc::max(mx, -1, true), {5, 6}, {2, 1});
  check_values(fc::max(T({-3, -1, -2}, {3}), 0), {-1}, {});
  // The gradient of max goes to the winner only.
  Tensor mg = mx.clone();
  mg.requires_grad_();
  sum(fc::max(mg, 1)).backward();
  check_values(mg.grad(), {0, 1, 0, 0, 0, 1}, {2, 3});

  check_values(sum_to(c, Shape{3, 2}), {8, 10, 12, 14, 16, 18}, {3, 2});
  check_values(sum_to(c, Shape{2, 1, 2}), {9, 12, 27, 30}, {2, 1, 2});
  check_values(sum_to(c, Shape{1, 3, 1}), {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12},
               {1, 3, 1});
  check_values(sum_to(c, Shape{2}), {36, 42}, {2});
  check_values(sum_to(c, Shape{}), {78}, {});

  // Large sums: exact for integers; 2^20 copies of 0.1f within 1e-4 (the kernel adds
  // 2^11 values per float lane before folding into double, which costs about 1.6e-5
  // here); and the same bits whatever the thread count.
  CHECK(sum(Tensor::ones(Shape{1 << 20})).item() == float(1 << 20));
  CHECK(sum(Tensor::full(Shape{1 << 20}, 0.1f)).item() ==
        Approx(1048576.0 * double(0.1f)).epsilon(1e-4));
  {
    const int threads = num_threads();
    Tensor big = Generator(3).normal(Shape{(1 << 20) + 17});
    set_num_threads(1);
    const float one = sum(big).item(), one_axis = sum(reshape(big, Shape{(1 << 20) + 17, 1}), {0}).item();
    set_num_threads(2);
    const float two = sum(big).item(), two_axis = sum(reshape(big, Shape{(1 << 20) + 17, 1}), {0}).item();
    set_num_threads(threads);
    CHECK(one == two);
    CHECK(one_axis == two_axis);
  }
  CHECK(mse_loss(Tensor::full(Shape{1001}, 2.f), Tensor::zeros(Shape{1001})).item() == 4.f);
}

TEST_CASE("layout ops: known layouts", "[ops]") {
  Tensor m = T({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(reshape(m, Shape{3, 2}), {1, 2, 3, 4, 5, 6}, {3, 2});
  check_values(reshape(m, Dims{-1}), {1, 2, 3, 4, 5, 6}, {6});
  check_values(reshape(m, Dims{3, -1}), {1, 2, 3, 4, 5, 6}, {3, 2});
  // reshape is a view: it shares storage.
  CHECK(reshape(m, Shape{6}).data() == m.data());
  check_values(transpose(m, 0, 1), {1, 4, 2, 5, 3, 6}, {3, 2});
  check_values(permute(m, {1, 0}), {1, 4, 2, 5, 3, 6}, {3, 2});

  Tensor c = T({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  // out[i, j, k] = c[j, k, i]
  check_values(permute(c, {2, 0, 1}), {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}, {2, 2, 3});
  // out[i, j, k] = c[k, i, j]
  check_values(permute(c, {1, 2, 0}), {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}, {3, 2, 2});
  check_values(transpose(c, -1, -2), {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11}, {2, 2, 3});

  check_values(broadcast_to(T({1, 2}, {2, 1}), Shape{2, 3}), {1, 1, 1, 2, 2, 2}, {2, 3});
  check_values(broadcast_to(T({1, 2, 3}, {3}), Shape{2, 3}), {1, 2, 3, 1, 2, 3}, {2, 3});
  check_values(broadcast_to(T({7}, {}), Shape{2, 2}), {7, 7, 7, 7}, {2, 2});

  Tensor a = T({1, 2}, {1, 2}), b = T({3, 4, 5, 6}, {2, 2});
  check_values(concat({a, b}, 0), {1, 2, 3, 4, 5, 6}, {3, 2});
  check_values(concat({T({1, 2}, {2, 1}), b, T({7, 8}, {2, 1})}, 1), {1, 3, 4, 7, 2, 5, 6, 8},
               {2, 4});
  check_values(concat({b, b}, -1), {3, 4, 3, 4, 5, 6, 5, 6}, {2, 4});

  check_values(slice(c, 0, 1, 2), {6, 7, 8, 9, 10, 11}, {1, 3, 2});
  check_values(slice(c, 1, 1, 3), {2, 3, 4, 5, 8, 9, 10, 11}, {2, 2, 2});
  check_values(slice(c, -1, 1, 2), {1, 3, 5, 7, 9, 11}, {2, 3, 1});
  check_values(slice(c, 1, 2, 2), {}, {2, 0, 2});

  // Ops read views at an offset into a flat buffer (parameters live in one buffer).
  Tensor flat = T({9, 9, 1, 2, 3, 4, 5, 6, 9}, {9});
  Tensor v = Tensor::view_of(flat, 2, Shape{2, 3});
  check_values(add(v, T({10, 20, 30}, {3})), {11, 22, 33, 14, 25, 36}, {2, 3});
  check_values(transpose(v, 0, 1), {1, 4, 2, 5, 3, 6}, {3, 2});
  check_values(matmul(v, v, false, true), {14, 32, 32, 77}, {2, 2});
}

TEST_CASE("matmul and linear: known values", "[ops]") {
  Tensor a = T({1, 2, 3, 4}, {2, 2}), b = T({5, 6, 7, 8}, {2, 2});
  check_values(matmul(a, b), {19, 22, 43, 50}, {2, 2});
  check_values(matmul(a, b, true, false), {26, 30, 38, 44}, {2, 2});
  check_values(matmul(a, b, false, true), {17, 23, 39, 53}, {2, 2});
  check_values(matmul(a, b, true, true), {23, 31, 34, 46}, {2, 2});

  Tensor r = T({1, 2, 3, 4, 5, 6}, {2, 3}), s = T({7, 8, 9, 10, 11, 12}, {3, 2});
  check_values(matmul(r, s), {58, 64, 139, 154}, {2, 2});
  // Batched, and with a shared 2-D operand: batch 1 is batch 0 times 2.
  Tensor rb = concat({reshape(r, Shape{1, 2, 3}), reshape(mul_scalar(r, 2.f), Shape{1, 2, 3})}, 0);
  Tensor sb = concat({reshape(s, Shape{1, 3, 2}), reshape(s, Shape{1, 3, 2})}, 0);
  check_values(matmul(rb, sb), {58, 64, 139, 154, 116, 128, 278, 308}, {2, 2, 2});
  check_values(matmul(rb, s), {58, 64, 139, 154, 116, 128, 278, 308}, {2, 2, 2});
  check_values(matmul(r, sb), {58, 64, 139, 154, 58, 64, 139, 154}, {2, 2, 2});

  Tensor x = T({1, 2, 3, 4}, {2, 2}), w = T({1, 0, 0, 1, 1, 1}, {3, 2});
  check_values(linear(x, w, T({10, 20, 30}, {3})), {11, 22, 33, 13, 24, 37}, {2, 3});
  check_values(linear(x, w, Tensor()), {1, 2, 3, 3, 4, 7}, {2, 3});
  check_values(linear(reshape(x, Shape{2, 1, 2}), w, T({10, 20, 30}, {3})),
               {11, 22, 33, 13, 24, 37}, {2, 1, 3});

  check_values(mse_loss(T({1, 2, 3}, {3}), T({1, 0, 0}, {3})), {13.f / 3.f}, {}, 1e-7);
}

TEST_CASE("matmul: every transpose and batch layout matches a naive loop", "[ops]") {
  // Sizes large enough that the gemm kernel splits rows over threads.
  const int64_t B = 3, M = 37, K = 19, N = 23;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (int layout = 0; layout < 4; ++layout) {  // 2-D, batched, shared B, shared A
      const bool a3 = layout == 1 || layout == 2, b3 = layout == 1 || layout == 3;
      Shape sa = ta ? Shape{K, M} : Shape{M, K}, sb = tb ? Shape{N, K} : Shape{K, N};
      if (a3) sa = ta ? Shape{B, K, M} : Shape{B, M, K};
      if (b3) sb = tb ? Shape{B, N, K} : Shape{B, K, N};
      Tensor a = Generator(10 + t).normal(sa), b = Generator(20 + layout).normal(sb);
      std::vector<float> va = a.to_vector(), vb = b.to_vector();
      Tensor y = matmul(a, b, ta, tb);
      const int64_t batches = (a3 || b3) ? B : 1;
      REQUIRE(y.shape() == ((a3 || b3) ? Shape{B, M, N} : Shape{M, N}));
      std::vector<float> vy = y.to_vector();
      double worst = 0;
      for (int64_t bi = 0; bi < batches; ++bi)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) {
              const int64_t ia = (a3 ? bi * M * K : 0) + (ta ? k * M + i : i * K + k);
              const int64_t ib = (b3 ? bi * K * N : 0) + (tb ? j * K + k : k * N + j);
              acc += double(va[size_t(ia)]) * vb[size_t(ib)];
            }
            worst = std::max(worst, std::fabs(acc - vy[size_t((bi * M + i) * N + j)]));
          }
      INFO("trans_a " << ta << ", trans_b " << tb << ", layout " << layout);
      CHECK(worst < 1e-4);
    }
  }
}

TEST_CASE("matmul and linear ignore stale memory in reused blocks", "[ops]") {
  // The output buffer comes from the cache uninitialised; with beta = 0 the gemm
  // must not read it (NaN * 0 is NaN).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int round = 0; round < 2; ++round) {
    { Tensor junk = Tensor::full(Shape{3, 7}, nan); }
    Tensor a = Tensor::ones(Shape{3, 5}), b = Tensor::ones(Shape{5, 7});
    Tensor y = round == 0 ? matmul(a, b) : linear(a, Tensor::ones(Shape{7, 5}), Tensor());
    for (float v : y.to_vector()) REQUIRE(v == 5.f);
  }
}

// ---- errors

TEST_CASE("shape errors throw fc::Error naming the op", "[ops][errors]") {
  Tensor a35 = Tensor::ones(Shape{3, 5}), a45 = Tensor::ones(Shape{4, 5});
  Tensor a57 = Tensor::ones(Shape{5, 7}), a235 = Tensor::ones(Shape{2, 3, 5});

  for (const auto& [name, fn] : std::vector<std::pair<std::string, Tensor (*)(const Tensor&, const Tensor&)>>{
           {"add", &fc::add}, {"sub", &fc::sub}, {"mul", &fc::mul}, {"div", &fc::div}}) {
    REQUIRE_THROWS_AS(fn(a35, a45), Error);
    REQUIRE_THROWS_WITH(fn(a35, a45), Contains(name) && Contains("[3, 5]") && Contains("[4, 5]"));
    REQUIRE_THROWS_WITH(fn(a35, Tensor::ones(Shape{3})), Contains(name));
  }

  REQUIRE_THROWS_AS(matmul(a35, a35), Error);
  REQUIRE_THROWS_WITH(matmul(a35, a35), Contains("matmul") && Contains("[3, 5]"));
  REQUIRE_THROWS_WITH(matmul(a35, a57, true, false), Contains("matmul"));
  REQUIRE_THROWS_WITH(matmul(a35, a57, false, true), Contains("matmul"));
  REQUIRE_THROWS_WITH(matmul(Tensor::ones(Shape{5}), a57), Contains("matmul"));
  REQUIRE_THROWS_WITH(matmul(Tensor::ones(Shape{1, 2, 3, 5}), a57), Contains("matmul"));
  REQUIRE_THROWS_WITH(matmul(a235, Tensor::ones(Shape{3, 5, 7})), Contains("matmul"));

  REQUIRE_THROWS_AS(linear(a35, Tensor::ones(Shape{7, 4}), Tensor()), Error);
  REQUIRE_THROWS_WITH(linear(a35, Tensor::ones(Shape{7, 4}), Tensor()), Contains("linear"));
  REQUIRE_THROWS_WITH(linear(a35, Tensor::ones(Shape{7, 5}), Tensor::ones(Shape{5})),
                      Contains("linear") && Contains("bias"));
  REQUIRE_THROWS_WITH(linear(a35, Tensor::ones(Shape{7, 5, 1}), Tensor()), Contains("linear"));

  REQUIRE_THROWS_AS(mse_loss(a35, a45), Error);
  REQUIRE_THROWS_WITH(mse_loss(a35, a45), Contains("mse_loss"));
  REQUIRE_THROWS_WITH(mse_loss(a35, Tensor::ones(Shape{15})), Contains("mse_loss"));

  REQUIRE_THROWS_AS(reshape(a35, Shape{4, 4}), Error);
  REQUIRE_THROWS_WITH(reshape(a35, Shape{4, 4}), Contains("reshape"));
  REQUIRE_THROWS_WITH(reshape(a35, Dims{-1, -1}), Contains("reshape"));
  REQUIRE_THROWS_WITH(reshape(a35, Dims{-1, 4}), Contains("reshape"));
  REQUIRE_THROWS_WITH(reshape(a35, Dims{-2, 5}), Contains("reshape"));

  REQUIRE_THROWS_AS(permute(a235, {0, 1}), Error);
  REQUIRE_THROWS_WITH(permute(a235, {0, 1}), Contains("permute"));
  REQUIRE_THROWS_WITH(permute(a235, {0, 1, 1}), Contains("permute"));
  REQUIRE_THROWS_WITH(permute(a235, {0, 1, 3}), Contains("permute"));

  REQUIRE_THROWS_AS(transpose(a35, 0, 2), Error);
  REQUIRE_THROWS_WITH(transpose(a35, 0, 2), Contains("transpose"));
  REQUIRE_THROWS_WITH(transpose(a35, -3, 0), Contains("transpose"));

  REQUIRE_THROWS_AS(broadcast_to(a35, Shape{4, 5}), Error);
  REQUIRE_THROWS_WITH(broadcast_to(a35, Shape{4, 5}), Contains("broadcast_to"));
  REQUIRE_THROWS_WITH(broadcast_to(a235, Shape{3, 5}), Contains("broadcast_to"));
  REQUIRE_THROWS_WITH(broadcast_to(a35, Shape{3, 1}), Contains("broadcast_to"));

  REQUIRE_THROWS_AS(concat({a35, a45, Tensor::ones(Shape{3, 4})}, 1), Error);
  REQUIRE_THROWS_WITH(concat({a35, Tensor::ones(Shape{3, 4})}, 0), Contains("concat"));
  REQUIRE_THROWS_WITH(concat({a35, a235}, 0), Contains("concat"));
  REQUIRE_THROWS_WITH(concat({}, 0), Contains("concat"));
  REQUIRE_THROWS_WITH(concat({a35, a45}, 2), Contains("concat"));

  REQUIRE_THROWS_AS(slice(a35, 0, 2, 4), Error);
  REQUIRE_THROWS_WITH(slice(a35, 0, 2, 4), Contains("slice"));
  REQUIRE_THROWS_WITH(slice(a35, 1, 3, 2), Contains("slice"));
  REQUIRE_THROWS_WITH(slice(a35, 1, -1, 2), Contains("slice"));
  REQUIRE_THROWS_WITH(slice(a35, 2, 0, 1), Contains("slice"));

  REQUIRE_THROWS_AS(sum(a35, {2}), Error);
  REQUIRE_THROWS_WITH(sum(a35, {2}), Contains("sum"));
  REQUIRE_THROWS_WITH(sum(a35, {0, 0}), Contains("sum"));
  REQUIRE_THROWS_WITH(sum(a35, {-3}), Contains("sum"));
  REQUIRE_THROWS_WITH(mean(a35, {5}), Contains("mean"));
  REQUIRE_THROWS_WITH(mean(a35, {1, -1}), Contains("mean"));
  REQUIRE_THROWS_AS(fc::max(a35, 2), Error);
  REQUIRE_THROWS_WITH(fc::max(a35, 2), Contains("max"));
  REQUIRE_THROWS_WITH(fc::max(a35, -3), Contains("max"));
  REQUIRE_THROWS_WITH(fc::max(Tensor::ones(Shape{3, 0}), 1), Contains("max"));
  REQUIRE_THROWS_AS(sum_to(a35, Shape{4}), Error);
  REQUIRE_THROWS_WITH(sum_to(a35, Shape{4}), Contains("sum_to"));
  REQUIRE_THROWS_WITH(sum_to(a35, Shape{1, 3, 5}), Contains("sum_to"));

  // Tensor-level misuse.
  REQUIRE_THROWS_WITH(Tensor::from_vector({1, 2, 3}, Shape{2, 2}), Contains("from_vector"));
  REQUIRE_THROWS_WITH(a35.item(), Contains("item"));
  REQUIRE_THROWS_WITH(Tensor::view_of(a35, 10, Shape{2, 3}), Contains("view_of"));
  REQUIRE_THROWS_WITH(Tensor(a35).copy_(a45), Contains("copy_"));
  REQUIRE_THROWS_WITH(Tensor(a35).add_(a45), Contains("add_"));
  REQUIRE_THROWS_AS(Shape({1, 2, 3, 4, 5, 6, 7}), Error);
  REQUIRE_THROWS_AS(Shape({2, -1}), Error);
}

namespace {

// While alive, the CUDA device allocates host memory (so that CUDA tensors exist
// without a GPU) and then restores an allocator that throws, as in a build without
// CUDA. The kernel table stays empty, which is what the test needs.
void* host_alloc(size_t bytes) { return std::aligned_alloc(64, bytes); }
void host_free(void* p) { std::free(p); }
void* no_cuda_alloc(size_t) {
  throw Error("CUDA: this build has no CUDA backend (no GPU memory can be allocated)");
}
void no_cuda_free(void*) {}

struct FakeCudaMemory {
  FakeCudaMemory() { set_raw_allocator(Device::CUDA, {host_alloc, host_free}); }
  ~FakeCudaMemory() { set_raw_allocator(Device::CUDA, {no_cuda_alloc, no_cuda_free}); }
};

}  // namespace

TEST_CASE("CUDA tensors without a CUDA backend: errors mention CUDA", "[ops][errors]") {
  if (kernel_table(Device::CUDA).unary != nullptr) {
    WARN("skipped: this build has CUDA kernels");
    return;
  }
  REQUIRE_THROWS_AS(Tensor::empty(Shape{2, 3}, Device::CUDA), Error);
  REQUIRE_THROWS_WITH(Tensor::empty(Shape{2, 3}, Device::CUDA), Contains("CUDA"));
  REQUIRE_THROWS_WITH(Tensor::zeros(Shape{4}, Device::CUDA), Contains("CUDA"));
  REQUIRE_THROWS_WITH(Tensor::ones(Shape{4}).to(Device::CUDA), Contains("CUDA"));
  REQUIRE_THROWS_WITH(Generator(1).normal(Shape{4}, 0.f, 1.f, Device::CUDA), Contains("CUDA"));

  // With memory but no kernels, each op fails naming itself and the device.
  FakeCudaMemory fake;
  {
    Tensor t = Tensor::empty(Shape{2, 2}, Device::CUDA);
    Tensor c = Tensor::ones(Shape{2, 2});
    REQUIRE(t.device() == Device::CUDA);
    struct Named {
      const char* op;
      std::function<Tensor()> run;
    };
    const std::vector<Named> ops = {
        {"exp", [&] { return fc::exp(t); }},
        {"silu", [&] { return silu(t); }},
        {"add_scalar", [&] { return add_scalar(t, 1.f); }},
        {"add", [&] { return add(t, t); }},
        {"add", [&] { return add(t, c); }},  // mixed devices
        {"mul", [&] { return mul(c, t); }},
        {"sum", [&] { return sum(t); }},
        {"sum", [&] { return sum(t, {0}); }},
        {"max", [&] { return fc::max(t, 0); }},
        {"permute", [&] { return permute(t, {1, 0}); }},
        {"concat", [&] { return concat({t, t}, 0); }},
        {"slice", [&] { return slice(t, 0, 0, 1); }},
        {"matmul", [&] { return matmul(t, t); }},
        {"linear", [&] { return linear(t, t, Tensor()); }},
        {"mse_loss", [&] { return mse_loss(t, t); }},
        {"normal", [&] { return Generator(1).normal(Shape{4}, 0.f, 1.f, Device::CUDA); }},
        {"to_vector", [&] { return Tensor::scalar(t.to_vector()[0]); }},
        {"fill_", [&] { return Tensor::zeros(Shape{2}, Device::CUDA); }},
    };
    for (const Named& n : ops) {
      INFO("op " << n.op);
      REQUIRE_THROWS_AS(n.run(), Error);
      REQUIRE_THROWS_WITH(n.run(), Contains(n.op) && Contains("CUDA"));
    }
    REQUIRE_THROWS_WITH(t.cpu_data(), Contains("CUDA"));
    REQUIRE_THROWS_WITH(Tensor::empty(Shape{1}, Device::CUDA).item(), Contains("CUDA"));
    // A view needs no kernel.
    REQUIRE(reshape(t, Shape{4}).shape() == Shape{4});
  }
}
