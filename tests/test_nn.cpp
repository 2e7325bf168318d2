// nn/: module names, Linear initialisation, the MLP, AdamW and clipping against
// PyTorch (tests/fixtures/mlp_adamw.safetensors), checkpoint round trips.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <unistd.h>

#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/image_layers.hpp"
#include "nn/layers.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "test_util.hpp"

using namespace fc;

namespace {

const char* kFixture = "tests/fixtures/mlp_adamw.safetensors";

// Relative error of a tensor, ||a - b|| / ||b||. (Elementwise relative error is
// meaningless for entries near zero: a gradient of 5e-8 comes out of sums of terms
// a million times larger, and AdamW's first step divides it by |g| + 1e-8, so float
// rounding that PyTorch and OpenBLAS do in different orders moves such a weight by
// ~1e-6 after 5 steps. The worst single weight is reported beside it.)
double rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  double diff = 0, norm = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff += (double(va[i]) - vb[i]) * (double(va[i]) - vb[i]);
    norm += double(vb[i]) * vb[i];
  }
  return std::sqrt(diff / (norm > 0 ? norm : 1.0));
}

// max |a - b| / max |b|.
double max_abs_err_over_scale(const Tensor& a, const Tensor& b) {
  auto va = a.to_vector(), vb = b.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::fabs(double(va[i]) - vb[i]));
    scale = std::max(scale, std::fabs(double(vb[i])));
  }
  return diff / (scale > 0 ? scale : 1.0);
}

nn::MLPConfig fixture_config() {
  nn::MLPConfig c;
  c.in_dim = 3;
  c.hidden = 64;
  c.out_dim = 2;
  c.hidden_layers = 3;
  return c;
}

}  // namespace

TEST_CASE("MLP has PyTorch's parameter names and counts", "[nn]") {
  Generator gen(1);
  nn::MLP mlp(fixture_config(), gen);
  auto named = mlp.named_parameters();
  std::vector<std::string> names;
  for (auto& [n, t] : named) names.push_back(n);
  REQUIRE(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight",
                                            "layers.2.bias", "layers.4.weight", "layers.4.bias",
                                            "layers.6.weight", "layers.6.bias"});
  REQUIRE(mlp.num_parameters() == 3 * 64 + 64 + 2 * (64 * 64 + 64) + 64 * 2 + 2);
  nn::MLPConfig paper;
  nn::MLP big(paper, gen);
  REQUIRE(big.num_parameters() == 3 * 512 + 512 + 2 * (512 * 512 + 512) + 512 * 2 + 2);
}

TEST_CASE("Linear initialises within PyTorch's bound", "[nn]") {
  Generator gen(7);
  nn::Linear lin(100, 50, gen);
  float bound = 1.f / std::sqrt(100.f);
  auto w = lin.weight.to_vector();
  float lo = 1, hi = -1;
  for (float v : w) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  REQUIRE(lo >= -bound);
  REQUIRE(hi <= bound);
  REQUIRE(hi > 0.9f * bound);  // fills the range, not a narrower one
  REQUIRE(lo < -0.9f * bound);
  REQUIRE(lin.bias.shape() == Shape{50});
}

TEST_CASE("flatten_parameters keeps values and shares one gradient buffer", "[nn]") {
  Generator gen(3);
  nn::MLP mlp(fixture_config(), gen);
  std::vector<std::vector<float>> before;
  for (Tensor* t : mlp.parameters()) before.push_back(t->to_vector());
  mlp.flatten_parameters();
  auto params = mlp.parameters();
  for (size_t i = 0; i < params.size(); ++i) REQUIRE(params[i]->to_vector() == before[i]);
  REQUIRE(mlp.flat_parameters().numel() == mlp.num_parameters());
  // A backward accumulates into the flat gradient buffer, and zero_grad clears it.
  Tensor x = gen.normal(Shape{5, 3});
  sum(mlp.forward(x)).backward();
  Tensor sq = sum(square(mlp.flat_gradients()));
  REQUIRE(sq.item() > 0.f);
  REQUIRE(params[0]->grad().data() == mlp.flat_gradients().data());
  mlp.zero_grad();
  REQUIRE(sum(square(mlp.flat_gradients())).item() == 0.f);
}

TEST_CASE("MLP + AdamW match PyTorch for 5 steps (fixture)", "[nn][fixture]") {
  auto file = nn::load_safetensors(kFixture);
  Generator gen(0);
  nn::MLP mlp(fixture_config(), gen);
  nn::load_parameters(mlp, file, kFixture, "init.");
  nn::AdamWOptions o;
  o.lr = 1e-2f;
  o.weight_decay = 0.01f;
  nn::AdamW opt(mlp, o);
  const Tensor* losses = file.find("losses");
  REQUIRE(losses);
  auto want_losses = losses->to_vector();
  REQUIRE(want_losses.size() == 5);
  double worst_loss = 0, worst_grad = 0, worst_grad_elem = 0;
  for (int step = 0; step < 5; ++step) {
    std::string s = "step" + std::to_string(step);
    const Tensor* in = file.find(s + ".input");
    const Tensor* target = file.find(s + ".target");
    REQUIRE(in);
    REQUIRE(target);
    opt.zero_grad();
    Tensor loss = mse_loss(mlp.forward(*in), *target);
    loss.backward();
    worst_loss = std::max(worst_loss, std::fabs(double(loss.item()) - want_losses[step]) /
                                          std::fabs(double(want_losses[step])));
    if (step == 0) {
      for (auto& [name, t] : mlp.named_parameters()) {
        const Tensor* g = file.find("step0.grad." + name);
        REQUIRE(g);
        worst_grad = std::max(worst_grad, rel_err(t->grad(), *g));
        worst_grad_elem = std::max(worst_grad_elem, max_abs_err_over_scale(t->grad(), *g));
      }
    }
    opt.step();
  }
  double worst_final = 0, worst_final_elem = 0;
  for (auto& [name, t] : mlp.named_parameters()) {
    const Tensor* w = file.find("final." + name);
    REQUIRE(w);
    worst_final = std::max(worst_final, rel_err(*t, *w));
    worst_final_elem = std::max(worst_final_elem, max_abs_err_over_scale(*t, *w));
  }
  INFO("loss rel err " << worst_loss << "; grad rel err " << worst_grad << " (worst element "
                       << worst_grad_elem << "); final weight rel err " << worst_final
                       << " (worst element " << worst_final_elem << ")");
  CHECK(worst_loss < 1e-5);
  CHECK(worst_grad < 1e-5);
  CHECK(worst_grad_elem < 1e-5);
  CHECK(worst_final < 1e-5);
  CHECK(worst_final_elem < 5e-5);
}

TEST_CASE("clip_grad_norm scales to the limit like torch", "[nn]") {
  Generator gen(5);
  nn::MLP mlp(fixture_config(), gen);
  mlp.flatten_parameters();
  Tensor x = gen.normal(Shape{16, 3});
  mul_scalar(sum(square(mlp.forward(x))), 100.f).backward();
  float norm = std::sqrt(sum(square(mlp.flat_gradients())).item());
  REQUIRE(norm > 1.f);
  float reported = nn::clip_grad_norm(mlp, 1.f).item();
  REQUIRE(reported == Approx(norm).epsilon(1e-5));
  float after = std::sqrt(sum(square(mlp.flat_gradients())).item());
  REQUIRE(after == Approx(1.f).epsilon(1e-4));
  // Below the limit nothing changes.
  float again = nn::clip_grad_norm(mlp, 10.f).item();
  REQUIRE(again == Approx(after).epsilon(1e-5));
  REQUIRE(std::sqrt(sum(square(mlp.flat_gradients())).item()) == Approx(after).epsilon(1e-6));
}

TEST_CASE("checkpoint round trip restores parameters and config", "[nn][checkpoint]") {
  Generator gen(11);
  nn::MLPConfig c = fixture_config();
  c.hidden = 17;
  nn::MLP a(c, gen);
  std::string path = "/tmp/flowcpp_test_ckpt_" + std::to_string(::getpid()) + ".safetensors";
  nn::save_checkpoint(path, a, c.to_metadata());
  auto file = nn::load_safetensors(path);
  nn::MLPConfig back = nn::MLPConfig::from_metadata(file.metadata);
  REQUIRE(back.hidden == 17);
  nn::MLP b(back, gen);
  nn::load_parameters(b, file, path);
  auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i) REQUIRE(pa[i]->to_vector() == pb[i]->to_vector());
  // A model of another size is refused, naming the tensor and both shapes.
  nn::MLPConfig other = c;
  other.hidden = 18;
  nn::MLP wrong(other, gen);
  REQUIRE_THROWS_WITH(nn::load_parameters(wrong, file, path),
                      Catch::Contains(path) && Catch::Contains("layers.0.weight") &&
                          Catch::Contains("[17, 3]"));
  // Metadata that is not an MLP's is refused.
  REQUIRE_THROWS_WITH(nn::MLPConfig::from_metadata({{"model", "unet"}}), Catch::Contains("not an MLP"));
  REQUIRE_THROWS_WITH(nn::MLPConfig::from_metadata({{"model", "mlp"}, {"in_dim", "x3"}}),
                      Catch::Contains("in_dim"));
  std::remove(path.c_str());
}

namespace {

// A state_dict as a file holds it: named tensors, no metadata (the reference's
// checkpoints, converted with safetensors.torch.save_file or read from a .pth).
nn::SafetensorsFile state_dict(const std::vector<std::pair<std::string, Shape>>& shapes) {
  nn::SafetensorsFile f;
  for (const auto& [name, shape] : shapes) f.tensors.push_back({name, Tensor::zeros(shape)});
  return f;
}

}  // namespace

TEST_CASE("MLPConfig reads the architecture off a state_dict without metadata", "[nn][checkpoint]") {
  Generator gen(5);
  nn::MLPConfig c;
  c.in_dim = 3;
  c.hidden = 24;
  c.out_dim = 2;
  c.hidden_layers = 2;
  nn::MLP a(c, gen);
  TempDir dir;
  const std::string path = dir.file("plain.safetensors");
  nn::save_checkpoint(path, a, {});  // no metadata at all
  nn::SafetensorsFile file = nn::load_safetensors(path);
  REQUIRE(file.metadata.empty());
  nn::MLPConfig back = nn::MLPConfig::from_checkpoint(file);
  CHECK(back.to_metadata() == c.to_metadata());
  nn::MLP b(back, gen);
  nn::load_parameters(b, file, path);
  Tensor x = gen.normal(Shape{7, 3});
  CHECK(b.forward(x).to_vector() == a.forward(x).to_vector());
  // The reference's shape: [x, t] -> 512 -> 512 -> 512 -> 2.
  nn::MLPConfig ref = nn::MLPConfig::infer_from_parameters(
      state_dict({{"layers.0.weight", Shape{512, 3}}, {"layers.0.bias", Shape{512}},
                  {"layers.2.weight", Shape{512, 512}}, {"layers.2.bias", Shape{512}},
                  {"layers.4.weight", Shape{512, 512}}, {"layers.4.bias", Shape{512}},
                  {"layers.6.weight", Shape{2, 512}}, {"layers.6.bias", Shape{2}}}));
  CHECK(ref.to_metadata() == nn::MLPConfig{}.to_metadata());
  // Metadata naming a model still decides (our own checkpoints).
  file.metadata = {{"model", "unet"}};
  CHECK_THROWS_WITH(nn::MLPConfig::from_checkpoint(file), Catch::Contains("not an MLP"));
}

TEST_CASE("MLPConfig refuses a state_dict that is not a chain of Linear layers, naming the tensor",
          "[nn][checkpoint]") {
  using Catch::Contains;
  const std::pair<std::string, Shape> w0{"layers.0.weight", Shape{8, 3}}, b0{"layers.0.bias", Shape{8}},
      w2{"layers.2.weight", Shape{8, 8}}, b2{"layers.2.bias", Shape{8}}, w4{"layers.4.weight", Shape{2, 8}},
      b4{"layers.4.bias", Shape{2}};
  struct Case {
    const char* what;
    std::vector<std::pair<std::string, Shape>> tensors;
    const char* names;  // the tensor the message must name
  };
  const Case cases[] = {
      {"no layers at all", {{"weight", Shape{2, 3}}}, "layers.0.weight"},
      {"one Linear", {w0, b0}, "layers.0.weight"},
      {"a missing bias", {w0, b0, w2, w4, b4}, "layers.2.bias"},
      {"a bias of the wrong size", {w0, b0, w2, {"layers.2.bias", Shape{9}}, w4, b4}, "layers.2.bias"},
      {"a weight that is not a matrix", {w0, b0, {"layers.2.weight", Shape{64}}, b2, w4, b4}, "layers.2.weight"},
      {"widths that do not follow on", {w0, b0, w2, b2, {"layers.4.weight", Shape{2, 7}}, b4}, "layers.4.weight"},
      {"hidden layers of different widths",
       {w0, b0, {"layers.2.weight", Shape{6, 8}}, {"layers.2.bias", Shape{6}}, {"layers.4.weight", Shape{2, 6}}, b4},
       "layers.2.weight"},
      {"a Linear where a SiLU belongs", {w0, b0, w2, b2, w4, b4, {"layers.3.weight", Shape{8, 8}}}, "layers.3.weight"},
      {"a layer after a gap", {w0, b0, w2, b2, w4, b4, {"layers.8.weight", Shape{2, 2}}}, "layers.8.weight"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(nn::MLPConfig::from_checkpoint(state_dict(c.tensors)),
                      Contains("not an MLP checkpoint") && Contains(c.names));
  }
  // Other tensors beside the chain (a foreign file's extras) are left alone.
  CHECK(nn::MLPConfig::from_checkpoint(state_dict({w0, b0, w2, b2, w4, b4, {"step", Shape{1}}})).hidden_layers == 2);
}

TEST_CASE("fused linear + SiLU equals the two ops, forward and backward", "[nn]") {
  Generator gen(21);
  Tensor x = gen.normal(Shape{33, 7}), w = gen.normal(Shape{5, 7}), b = gen.normal(Shape{5});
  Tensor g = gen.normal(Shape{33, 5});
  auto run = [&](bool fused) {
    Tensor xr = x.clone(), wr = w.clone(), br = b.clone();
    xr.requires_grad_();
    wr.requires_grad_();
    br.requires_grad_();
    Tensor y = fused ? linear(xr, wr, br, Activation::Silu) : silu(linear(xr, wr, br));
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_vector(), xr.grad().to_vector(), wr.grad().to_vector(),
                                           br.grad().to_vector()};
  };
  auto a = run(true), c = run(false);
  for (size_t k = 0; k < a.size(); ++k)
    for (size_t i = 0; i < a[k].size(); ++i) REQUIRE(a[k][i] == Approx(c[k][i]).margin(1e-5));
}

TEST_CASE("Sequential runs GroupNorm + SiLU fused: same values and gradients as the two ops",
          "[nn]") {
  Generator gen(22);
  Tensor x = gen.normal(Shape{3, 8, 5, 7}, 0.5f, 2.f), g = gen.normal(Shape{3, 8, 5, 7});
  nn::Sequential seq;
  auto& norm = seq.add(std::make_shared<nn::GroupNorm>(4, 8));
  seq.add(std::make_shared<nn::SiLU>());
  norm.weight = gen.normal(Shape{8}).requires_grad_();
  norm.bias = gen.normal(Shape{8}).requires_grad_();
  auto run = [&](bool fused) {
    seq.zero_grad();
    Tensor xr = x.clone();
    xr.requires_grad_();
    Tensor y = fused ? seq.forward(xr) : silu(norm.forward(xr));
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_vector(), xr.grad().to_vector(),
                                           norm.weight.grad().to_vector(), norm.bias.grad().to_vector()};
  };
  auto a = run(true), c = run(false);
  for (size_t k = 0; k < a.size(); ++k)
    for (size_t i = 0; i < a[k].size(); ++i) REQUIRE(a[k][i] == Approx(c[k][i]).margin(1e-5));
}

namespace {

// One of each layer whose backward writes a parameter's gradient through
// fc::gradient_buffer (linear with and without SiLU, conv2d, group norm, embedding),
// the linear weight used twice so that one leaf gets two gradients in one walk, and
// the bias also through an op that returns a new gradient (added before or after).
class GradientZoo : public nn::Module {
 public:
  explicit GradientZoo(Generator& gen)
      : lin(register_module("lin", std::make_shared<nn::Linear>(4, 4, gen))),
        conv(register_module("conv", std::make_shared<nn::Conv2d>(2, 4, 3, 1, 1, gen))),
        norm(register_module("norm", std::make_shared<nn::GroupNorm>(2, 4))),
        emb(register_module("emb", std::make_shared<nn::Embedding>(5, 4, gen))) {}
  Tensor loss(const Tensor& x, const Tensor& pic, const Tensor& ids) {
    Tensor h = linear(x, lin.weight, lin.bias, Activation::Silu);
    h = linear(add(h, emb.forward(ids)), lin.weight, lin.bias);  // the same weight again
    Tensor p = norm.forward(conv.forward(pic));                  // [3, 4, 5, 5]
    return add(add(sum(square(h)), sum(mul(p, p))), sum(mul(lin.bias, lin.bias)));
  }
  nn::Linear& lin;
  nn::Conv2d& conv;
  nn::GroupNorm& norm;
  nn::Embedding& emb;
};

}  // namespace

TEST_CASE("backward writes the first gradient into a zeroed .grad, and adds what follows", "[nn][autograd]") {
  Generator gen(3);
  Tensor x = gen.normal(Shape{3, 4}), pic = gen.normal(Shape{3, 2, 5, 5});
  Tensor ids = Tensor::from_vector({1, 4, 1}, Shape{3});
  for (bool flat : {false, true}) {
    INFO((flat ? "flattened" : "one gradient tensor a parameter"));
    Generator init(5);
    GradientZoo zoo(init);
    if (flat) zoo.flatten_parameters();
    std::vector<Tensor> inputs;
    for (Tensor* p : zoo.parameters()) inputs.push_back(*p);
    // fc::grad returns fresh gradients and never writes into .grad: the reference.
    std::vector<Tensor> want = fc::grad(zoo.loss(x, pic, ids), inputs);
    zoo.loss(x, pic, ids).backward();  // the first backward makes the .grad tensors
    for (int round = 0; round < 2; ++round) {
      zoo.zero_grad();
      std::vector<const float*> where;
      for (Tensor* p : zoo.parameters()) where.push_back(p->grad().data());
      zoo.loss(x, pic, ids).backward();
      auto params = zoo.parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        CHECK(params[i]->grad().data() == where[i]);  // written in place, not replaced
        CHECK(max_abs_err_over_scale(params[i]->grad(), want[i]) < 1e-6);
      }
    }
    // Without zero_grad the next backward adds: twice the gradient.
    zoo.loss(x, pic, ids).backward();
    auto params = zoo.parameters();
    for (size_t i = 0; i < params.size(); ++i) CHECK(max_abs_err_over_scale(params[i]->grad(), mul_scalar(want[i], 2.f)) < 1e-6);
  }
}

TEST_CASE("gradient_buffer hands out a zeroed .grad once, and only inside backward()", "[nn][autograd]") {
  Generator gen(1);
  nn::Linear lin(3, 2, gen);
  Tensor x = gen.normal(Shape{4, 3});
  lin.forward(x).backward(Tensor::ones(Shape{4, 2}));  // makes .grad
  lin.zero_grad();
  const float* grad = lin.weight.grad().data();
  std::vector<const float*> handed;
  Tensor y = mul_scalar(lin.weight, 1.f);
  // An op whose backward asks twice for input 0's buffer: the .grad, then a new tensor.
  Tensor out = Tensor::empty(y.shape());
  out.copy_(y);
  record(out, "probe", {&lin.weight}, [&](const Tensor& g, const std::vector<bool>&) {
    Tensor a = gradient_buffer(0, g.shape(), g.device()), b = gradient_buffer(0, g.shape(), g.device());
    handed = {a.data(), b.data()};
    a.copy_(g);
    return std::vector<Tensor>{a};
  });
  out.backward(Tensor::full(out.shape(), 2.f));
  REQUIRE(handed.size() == 2);
  CHECK(handed[0] == grad);
  CHECK(handed[1] != grad);
  for (float v : lin.weight.grad().to_vector()) CHECK(v == 2.f);  // written once, not added to itself
  // Outside a backward walk (and in fc::grad) it is always a new tensor.
  CHECK(gradient_buffer(0, lin.weight.shape(), Device::CPU).data() != grad);
}
