// The rows of the op table (tests/op_cases.hpp): the template for a new row is there.
#include "tests/op_cases.hpp"

#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"

namespace fc::test {

namespace {

using V = const std::vector<Tensor>&;
using Dims = std::vector<int64_t>;  // reshape targets (a braced list alone is ambiguous)

Tensor T(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

}  // namespace

std::vector<OpCase> op_cases() {
  std::vector<OpCase> c;
  const Gen N = Gen::Normal, P = Gen::Positive, NZ = Gen::NonZero, D = Gen::Distinct;
  auto add_case = [&c](std::string name, std::vector<Shape> shapes, std::vector<Gen> gens,
                       TensorFn f, GradCheckOptions opt, bool on_cuda = true) {
    c.push_back({std::move(name), std::move(shapes), std::move(gens), std::move(f), opt, on_cuda});
  };

  // ---- unary
  const Shape u{3, 5};
  add_case("neg", {u}, {N}, [](V x) { return neg(x[0]); }, linear_opt());
  add_case("exp", {u}, {N}, [](V x) { return fc::exp(x[0]); }, smooth_opt());
  add_case("log", {u}, {P}, [](V x) { return fc::log(x[0]); }, steep_opt());
  add_case("sqrt", {u}, {P}, [](V x) { return fc::sqrt(x[0]); }, steep_opt());
  add_case("square", {u}, {N}, [](V x) { return square(x[0]); }, smooth_opt());
  add_case("pow: 3 on signed x", {u}, {NZ}, [](V x) { return fc::pow(x[0], 3.f); }, smooth_opt());
  add_case("pow: 2.5", {u}, {P}, [](V x) { return fc::pow(x[0], 2.5f); }, smooth_opt());
  add_case("pow: 0.5", {u}, {P}, [](V x) { return fc::pow(x[0], 0.5f); }, steep_opt());
  add_case("pow: -1.5", {u}, {P}, [](V x) { return fc::pow(x[0], -1.5f); }, steep_opt());
  add_case("abs", {u}, {NZ}, [](V x) { return fc::abs(x[0]); }, linear_opt());
  add_case("silu", {u}, {N}, [](V x) { return silu(x[0]); }, smooth_opt());
  // Over 1024 elements silu runs as rows of 1024 plus a remainder.
  add_case("silu: 2 rows of 1024 and a tail", {{3, 700}}, {N}, [](V x) { return silu(x[0]); },
           smooth_opt());
  add_case("silu: 3-D", {{2, 3, 5}}, {N}, [](V x) { return silu(mul_scalar(x[0], 3.f)); },
           smooth_opt());
  add_case("sigmoid", {u}, {N}, [](V x) { return sigmoid(x[0]); }, smooth_opt());
  add_case("tanh", {u}, {N}, [](V x) { return fc::tanh(x[0]); }, smooth_opt());
  add_case("relu", {u}, {NZ}, [](V x) { return relu(x[0]); }, linear_opt());
  // sign records no gradient (it is zero almost everywhere): checked inside a sum that
  // has one, which must come out as if sign were a constant.
  add_case("sign: beside x^2 and |x|^1.5", {{33}}, {NZ},
           [](V x) { return add(square(x[0]), add(fc::pow(fc::abs(x[0]), 1.5f), sign(x[0]))); }, smooth_opt());
  add_case("add_scalar", {u}, {N}, [](V x) { return add_scalar(x[0], 2.5f); }, linear_opt());
  add_case("mul_scalar", {u}, {N}, [](V x) { return mul_scalar(x[0], -1.7f); }, linear_opt());
  add_case("rsub_scalar", {u}, {N}, [](V x) { return rsub_scalar(3.f, x[0]); }, linear_opt());
  add_case("rdiv_scalar", {u}, {P}, [](V x) { return rdiv_scalar(2.f, x[0]); }, steep_opt());
  add_case("rdiv_scalar: negative s", {u}, {P}, [](V x) { return rdiv_scalar(-1.5f, x[0]); },
           steep_opt());

  // ---- binary, every broadcasting pattern the kernel distinguishes
  struct Pattern {
    const char* name;
    Shape a, b;
  };
  const std::vector<Pattern> patterns = {
      {"same shape", {3, 5}, {3, 5}},
      {"scalar rhs", {3, 5}, {}},
      {"scalar lhs", {}, {3, 5}},
      {"one-element lhs [1]", {1}, {3, 5}},
      {"one-element rhs [1,1]", {3, 5}, {1, 1}},
      {"bias row [R,C]+[C]", {3, 5}, {5}},
      {"bias block [2,3,5]+[3,5]", {2, 3, 5}, {3, 5}},
      {"per-row [R,C]+[R,1]", {3, 5}, {3, 1}},
      {"per-row [2,3,5]+[2,3,1]", {2, 3, 5}, {2, 3, 1}},
      {"broadcast lhs [C]+[R,C]", {5}, {3, 5}},
      {"broadcast lhs [R,1]+[R,C]", {3, 1}, {3, 5}},
      {"general [2,1,3]+[4,1]", {2, 1, 3}, {4, 1}},
      {"outer [3,1]*[1,4]", {3, 1}, {1, 4}},
      {"general [3,1,5]+[1,4,1]", {3, 1, 5}, {1, 4, 1}},
      {"scalars [] + []", {}, {}},
  };
  for (const Pattern& p : patterns) {
    const std::string tail = std::string(": ") + p.name;
    add_case("add" + tail, {p.a, p.b}, {N, N}, [](V x) { return add(x[0], x[1]); }, linear_opt());
    add_case("sub" + tail, {p.a, p.b}, {N, N}, [](V x) { return sub(x[0], x[1]); }, linear_opt());
    add_case("mul" + tail, {p.a, p.b}, {N, N}, [](V x) { return mul(x[0], x[1]); }, smooth_opt());
    add_case("div" + tail, {p.a, p.b}, {N, P}, [](V x) { return div(x[0], x[1]); }, steep_opt());
  }
  add_case("div: negative denominators", {{3, 5}, {3, 5}}, {N, NZ},
           [](V x) { return div(x[0], x[1]); }, {1e-3f, 1e-2f, 1e-3f, 977});
  // One tensor on both sides: the two gradients must accumulate.
  add_case("add: x + x", {{3, 5}}, {N}, [](V x) { return add(x[0], x[0]); }, linear_opt());
  add_case("sub: x - x", {{3, 5}}, {N}, [](V x) { return sub(x[0], x[0]); }, linear_opt());
  add_case("mul: x * x", {{3, 5}}, {N}, [](V x) { return mul(x[0], x[0]); }, smooth_opt());
  add_case("div: x / x", {{3, 5}}, {P}, [](V x) { return div(x[0], x[0]); }, steep_opt());

  // ---- reductions
  const Shape r{2, 3, 5};
  add_case("sum: all", {r}, {N}, [](V x) { return sum(x[0]); }, linear_opt());
  add_case("mean: all", {r}, {N}, [](V x) { return mean(x[0]); }, linear_opt());
  add_case("sum: 1-D", {{7}}, {N}, [](V x) { return sum(x[0], {0}); }, linear_opt());
  for (bool keep : {false, true}) {
    const std::string k = keep ? ", keepdim" : "";
    add_case("sum: axis 0" + k, {r}, {N}, [keep](V x) { return sum(x[0], {0}, keep); }, linear_opt());
    add_case("sum: axis 1" + k, {r}, {N}, [keep](V x) { return sum(x[0], {1}, keep); }, linear_opt());
    add_case("sum: axis -1" + k, {r}, {N}, [keep](V x) { return sum(x[0], {-1}, keep); }, linear_opt());
    add_case("sum: axes {2,0}" + k, {r}, {N}, [keep](V x) { return sum(x[0], {2, 0}, keep); },
             linear_opt());
    add_case("sum: axes {0,1,2}" + k, {r}, {N},
             [keep](V x) { return sum(x[0], {0, 1, 2}, keep); }, linear_opt());
    add_case("mean: axis 1" + k, {r}, {N}, [keep](V x) { return mean(x[0], {1}, keep); },
             linear_opt());
    add_case("mean: axes {0,2}" + k, {r}, {N}, [keep](V x) { return mean(x[0], {0, 2}, keep); },
             linear_opt());
    add_case("mean: axis -1" + k, {r}, {N}, [keep](V x) { return mean(x[0], {-1}, keep); },
             linear_opt());
    for (int axis : {0, 1, 2, -1})
      add_case("max: axis " + std::to_string(axis) + k, {r}, {D},
               [axis, keep](V x) { return fc::max(x[0], axis, keep); }, linear_opt());
  }
  add_case("max: 2-D axis 1", {{3, 7}}, {D}, [](V x) { return fc::max(x[0], 1); }, linear_opt());
  for (Shape to : std::vector<Shape>{{3, 5}, {3, 1}, {1, 5}, {2, 1, 5}, {2, 3, 1}, {1, 1, 1},
                                     {5}, {1}, {}})
    add_case("sum_to: [2,3,5] to " + to.str(), {r}, {N},
             [to](V x) { return sum_to(x[0], to); }, linear_opt());

  // ---- layout
  add_case("reshape: [3,5] to [5,3]", {{3, 5}}, {N},
           [](V x) { return reshape(x[0], Shape{5, 3}); }, linear_opt());
  add_case("reshape: -1 first", {r}, {N}, [](V x) { return reshape(x[0], Dims{-1, 5}); },
           linear_opt());
  add_case("reshape: -1 last", {r}, {N}, [](V x) { return reshape(x[0], Dims{6, -1}); },
           linear_opt());
  add_case("reshape: to 4-D with ones", {{3, 5}}, {N},
           [](V x) { return reshape(x[0], Shape{1, 3, 1, 5}); }, linear_opt());
  add_case("reshape: then a nonlinear op", {r}, {N},
           [](V x) { return square(reshape(x[0], Dims{-1})); }, smooth_opt());
  for (std::vector<int> perm : std::vector<std::vector<int>>{{2, 0, 1}, {1, 0, 2}, {0, 2, 1},
                                                            {-1, 0, 1}}) {
    std::string ps;
    for (int p : perm) ps += (ps.empty() ? "" : ",") + std::to_string(p);
    add_case("permute: {" + ps + "}", {r}, {N}, [perm](V x) { return permute(x[0], perm); },
             linear_opt());
  }
  add_case("permute: 2-D", {{3, 5}}, {N}, [](V x) { return permute(x[0], {1, 0}); }, linear_opt());
  add_case("permute: 4-D", {{3, 1, 5, 2}}, {N}, [](V x) { return permute(x[0], {3, 1, 0, 2}); },
           linear_opt());
  add_case("transpose: (0,2)", {r}, {N}, [](V x) { return transpose(x[0], 0, 2); }, linear_opt());
  add_case("transpose: (-1,-2)", {r}, {N}, [](V x) { return transpose(x[0], -1, -2); },
           linear_opt());
  add_case("transpose: 2-D", {{3, 5}}, {N}, [](V x) { return transpose(x[0], 1, 0); },
           linear_opt());
  for (auto [from, to] : std::vector<std::pair<Shape, Shape>>{{{3, 1}, {2, 3, 5}},
                                                              {{5}, {2, 3, 5}},
                                                              {{1, 5}, {3, 5}},
                                                              {{}, {3, 5}},
                                                              {{2, 1, 5}, {2, 3, 5}},
                                                              {{3, 5}, {3, 5}}})
    add_case("broadcast_to: " + from.str() + " to " + to.str(), {from}, {N},
             [to = to](V x) { return broadcast_to(x[0], to); }, linear_opt());
  add_case("concat: axis 0", {{2, 3, 5}, {1, 3, 5}, {3, 3, 5}}, {N, N, N},
           [](V x) { return concat({x[0], x[1], x[2]}, 0); }, linear_opt());
  add_case("concat: axis 1", {{2, 1, 5}, {2, 3, 5}, {2, 2, 5}}, {N, N, N},
           [](V x) { return concat({x[0], x[1], x[2]}, 1); }, linear_opt());
  add_case("concat: axis 2", {{2, 3, 1}, {2, 3, 5}, {2, 3, 3}}, {N, N, N},
           [](V x) { return concat({x[0], x[1], x[2]}, 2); }, linear_opt());
  add_case("concat: axis -1, 2-D", {{3, 2}, {3, 5}, {3, 1}}, {N, N, N},
           [](V x) { return concat({x[0], x[1], x[2]}, -1); }, linear_opt());
  add_case("concat: one tensor twice", {{3, 5}, {2, 5}}, {N, N},
           [](V x) { return concat({x[0], x[1], x[0]}, 0); }, linear_opt());
  add_case("slice: axis 0", {{5, 3}}, {N}, [](V x) { return slice(x[0], 0, 1, 4); }, linear_opt());
  add_case("slice: axis 1 of 3-D", {{3, 7, 5}}, {N}, [](V x) { return slice(x[0], 1, 2, 5); },
           linear_opt());
  add_case("slice: axis -1 from 0", {{3, 5, 7}}, {N}, [](V x) { return slice(x[0], -1, 0, 3); },
           linear_opt());
  add_case("slice: whole axis", {{3, 5}}, {N}, [](V x) { return slice(x[0], 0, 0, 3); },
           linear_opt());
  add_case("slice: two slices of one tensor", {{7, 3}}, {N},
           [](V x) { return mul(slice(x[0], 0, 0, 3), slice(x[0], 0, 2, 5)); }, smooth_opt());

  // ---- linear algebra: 2-D, 3-D batched, and 3-D with a shared 2-D operand
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const std::string tt = std::string(ta ? "A^T" : "A") + " @ " + (tb ? "B^T" : "B");
    const Shape a2 = ta ? Shape{5, 3} : Shape{3, 5}, b2 = tb ? Shape{7, 5} : Shape{5, 7};
    const Shape a3 = ta ? Shape{2, 5, 3} : Shape{2, 3, 5}, b3 = tb ? Shape{2, 7, 5} : Shape{2, 5, 7};
    auto mm = [ta, tb](V x) { return matmul(x[0], x[1], ta, tb); };
    add_case("matmul: 2-D " + tt, {a2, b2}, {N, N}, mm, bilinear_opt());
    add_case("matmul: batched " + tt, {a3, b3}, {N, N}, mm, bilinear_opt());
    add_case("matmul: batched, shared B " + tt, {a3, b2}, {N, N}, mm, bilinear_opt());
    add_case("matmul: batched, shared A " + tt, {a2, b3}, {N, N}, mm, bilinear_opt());
  }
  add_case("matmul: x @ x^T", {{3, 5}}, {N}, [](V x) { return matmul(x[0], x[0], false, true); },
           smooth_opt());
  add_case("linear: 2-D with bias", {{3, 5}, {7, 5}, {7}}, {N, N, N},
           [](V x) { return linear(x[0], x[1], x[2]); }, bilinear_opt());
  add_case("linear: 2-D without bias", {{3, 5}, {7, 5}}, {N, N},
           [](V x) { return linear(x[0], x[1], Tensor()); }, bilinear_opt());
  add_case("linear: 3-D with bias", {{2, 3, 5}, {7, 5}, {7}}, {N, N, N},
           [](V x) { return linear(x[0], x[1], x[2]); }, bilinear_opt());
  add_case("linear: 3-D without bias", {{2, 3, 5}, {7, 5}}, {N, N},
           [](V x) { return linear(x[0], x[1], Tensor()); }, bilinear_opt());
  add_case("linear+silu: 2-D with bias", {{3, 5}, {7, 5}, {7}}, {N, N, N},
           [](V x) { return linear(x[0], x[1], x[2], Activation::Silu); }, smooth_opt());
  add_case("linear+silu: 3-D without bias", {{2, 3, 5}, {7, 5}}, {N, N},
           [](V x) { return linear(x[0], x[1], Tensor(), Activation::Silu); }, smooth_opt());
  add_case("linear: 1-D input", {{5}, {3, 5}, {3}}, {N, N, N},
           [](V x) { return linear(x[0], x[1], x[2]); }, bilinear_opt());

  // ---- images: odd sizes, stride 2, padding 0 and 1, groups of several channels
  add_case("sin", {u}, {N}, [](V x) { return fc::sin(x[0]); }, smooth_opt());
  add_case("cos", {u}, {N}, [](V x) { return fc::cos(x[0]); }, smooth_opt());
  add_case("conv2d: 3x3, stride 1, padding 1, bias", {{2, 3, 5, 6}, {4, 3, 3, 3}, {4}}, {N, N, N},
           [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); }, bilinear_opt());
  add_case("conv2d: 2x3, stride 2, padding 0", {{2, 2, 7, 6}, {3, 2, 2, 3}}, {N, N},
           [](V x) { return conv2d(x[0], x[1], Tensor(), 2, 0); }, bilinear_opt());
  add_case("conv2d: 3x3, stride 2, padding 1 (downsampling)", {{1, 2, 6, 5}, {2, 2, 3, 3}, {2}},
           {N, N, N}, [](V x) { return conv2d(x[0], x[1], x[2], 2, 1); }, bilinear_opt());
  add_case("conv2d: 1x1", {{2, 3, 4, 3}, {5, 3, 1, 1}, {5}}, {N, N, N},
           [](V x) { return conv2d(x[0], x[1], x[2]); }, bilinear_opt());
  add_case("conv2d: 1x1, stride 2, padding 1", {{2, 3, 4, 3}, {2, 3, 1, 1}}, {N, N},
           [](V x) { return conv2d(x[0], x[1], Tensor(), 2, 1); }, bilinear_opt());
  add_case("group_norm: 3 groups of 2 channels, affine", {{2, 6, 3, 4}, {6}, {6}}, {N, N, N},
           [](V x) { return group_norm(x[0], 3, x[1], x[2]); }, smooth_opt());
  add_case("group_norm: one channel per group, no affine", {{2, 4, 5}}, {N},
           [](V x) { return group_norm(x[0], 4, Tensor(), Tensor()); }, smooth_opt());
  add_case("group_norm: one group", {{3, 6, 2, 2}, {6}, {6}}, {N, N, N},
           [](V x) { return group_norm(x[0], 1, x[1], x[2]); }, smooth_opt());
  add_case("group_norm_silu: 3 groups of 2 channels, affine", {{2, 6, 3, 4}, {6}, {6}},
           {N, N, N}, [](V x) { return group_norm_silu(x[0], 3, x[1], x[2]); }, smooth_opt());
  add_case("group_norm_silu: one channel per group, no affine", {{2, 4, 5}}, {N},
           [](V x) { return group_norm_silu(x[0], 4, Tensor(), Tensor()); }, smooth_opt());
  add_case("softmax", {{3, 7}}, {N}, [](V x) { return softmax(x[0]); }, smooth_opt());
  add_case("softmax: 3-D", {{2, 3, 5}}, {N}, [](V x) { return softmax(x[0]); }, smooth_opt());
  add_case("qkv_attention: one head", {{2, 12, 9}}, {N},
           [](V x) { return qkv_attention(x[0], 1); }, smooth_opt());
  add_case("qkv_attention: two heads", {{2, 18, 7}}, {N},
           [](V x) { return qkv_attention(x[0], 2); }, smooth_opt());
  // (133 positions cross the CPU kernel's blocks; on the emulated device its 1,596
  // forward passes of the tiled kernels take a minute, so the CUDA run takes the next
  // case, whose 37 positions cross a tile of 32, instead.)
  add_case("qkv_attention: positions over two query blocks", {{1, 6, 133}}, {N},
           [](V x) { return qkv_attention(x[0], 1); }, smooth_opt(), /*on_cuda=*/false);
  add_case("qkv_attention: positions over two tiles of 32", {{1, 6, 37}}, {N},
           [](V x) { return qkv_attention(x[0], 1); }, smooth_opt());
  add_case("upsample_nearest2x", {{2, 3, 3, 5}}, {N},
           [](V x) { return upsample_nearest2x(x[0]); }, linear_opt());
  add_case("avg_pool2x", {{2, 3, 4, 6}}, {N}, [](V x) { return avg_pool2x(x[0]); }, linear_opt());
  add_case("embedding: a repeated id", {{5, 4}}, {N},
           [](V x) { return embedding(x[0], T({3, 0, 3, 1}, {4}).to(x[0].device())); }, linear_opt());
  add_case("timestep_embedding: odd dimension", {{5}}, {N},
           [](V x) { return timestep_embedding(x[0], 7); }, smooth_opt());
  add_case("timestep_embedding: fast frequencies", {{4}}, {N},
           [](V x) { return timestep_embedding(x[0], 6, 4.f); }, smooth_opt());
  add_case("dropout: training", {{4, 5}}, {N},
           [](V x) {
             Generator g(7);  // the same mask at every evaluation
             return dropout(x[0], 0.3f, true, g);
           },
           linear_opt());

  // ---- losses, and a small network made of them all
  add_case("mse_loss", {{3, 5}, {3, 5}}, {N, N}, [](V x) { return mse_loss(x[0], x[1]); },
           smooth_opt());
  add_case("mse_loss: 3-D", {{2, 3, 5}, {2, 3, 5}}, {N, N},
           [](V x) { return mse_loss(x[0], x[1]); }, smooth_opt());
  add_case("cross_entropy", {{4, 5}}, {N},
           [](V x) { return cross_entropy(x[0], T({2, 0, 4, 2}, {4}).to(x[0].device())); }, smooth_opt());
  add_case("mse_loss: of an MLP", {{3, 5}, {7, 5}, {7}, {3, 7}, {3}, {3, 3}},
           {N, N, N, N, N, N},
           [](V x) {
             Tensor h = silu(linear(x[0], x[1], x[2]));
             return mse_loss(linear(h, x[3], x[4]), x[5]);
           },
           smooth_opt());
  return c;
}


std::vector<Tensor> row_inputs(const OpCase& c, Device device, uint64_t seed) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    Tensor x = make_input(c.shapes[i], c.gens[i], seed + i).to(device);
    x.requires_grad_();
    inputs.push_back(x);
  }
  return inputs;
}

std::vector<std::vector<float>> row_forward_backward(const OpCase& c, Device device, uint64_t seed) {
  std::vector<Tensor> inputs = row_inputs(c, device, seed);
  Tensor out = c.f(inputs);
  std::vector<std::vector<float>> results = {out.to_vector()};
  out.backward(Generator(c.opt.weight_seed).normal(out.shape()).to(device));
  for (Tensor& x : inputs) results.push_back(x.grad().defined() ? x.grad().to_vector() : std::vector<float>());
  return results;
}

}  // namespace fc::test
