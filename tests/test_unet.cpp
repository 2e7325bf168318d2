// nn/ image layers and the UNet: parameter names, shapes and counts of the reference
// model, its forward, loss and every gradient against PyTorch
// (tests/fixtures/unet_{mnist,cifar}_c32.safetensors), config metadata, and the
// errors that bad configs and inputs get.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "engine/allocator.hpp"
#include "engine/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/unet.hpp"
#include "test_util.hpp"

using namespace fc;

namespace {

// How far a tensor is from the reference b: ||a - b|| / ||b|| (the tolerance), and the
// worst element relative to the largest |b| (reported beside it).
struct Mismatch {
  double norm_rel = 0, elem_rel = 0;
  void worst_of(const Mismatch& m) {
    norm_rel = std::max(norm_rel, m.norm_rel);
    elem_rel = std::max(elem_rel, m.elem_rel);
  }
};

// (Helpers throw rather than REQUIRE, so that `-s` shows the few checks that matter.)
Mismatch mismatch(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) throw std::runtime_error("shapes " + a.shape().str() + " and " + b.shape().str());
  auto va = a.to_vector(), vb = b.to_vector();
  double diff2 = 0, norm2 = 0, diff_max = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double d = double(va[i]) - vb[i];
    diff2 += d * d;
    norm2 += double(vb[i]) * vb[i];
    diff_max = std::max(diff_max, std::fabs(d));
    scale = std::max(scale, std::fabs(double(vb[i])));
  }
  return {std::sqrt(diff2 / (norm2 > 0 ? norm2 : 1.0)), diff_max / (scale > 0 ? scale : 1.0)};
}

const Tensor& need(const nn::SafetensorsFile& file, const std::string& name) {
  const Tensor* t = file.find(name);
  if (!t) throw std::runtime_error("the fixture has no tensor " + name);
  return *t;
}

double l2_norm(const Tensor& t) {
  double n2 = 0;
  for (float f : t.to_vector()) n2 += double(f) * f;
  return std::sqrt(n2);
}

// The fixture's parameter names, in its order (the reference model's).
std::vector<std::string> parameter_names(const nn::SafetensorsFile& file) {
  std::vector<std::string> names;
  for (auto& nt : file.tensors) {
    bool other = false;
    for (const char* prefix : {"input.", "output.", "grad."}) other = other || nt.name.rfind(prefix, 0) == 0;
    if (!other) names.push_back(nt.name);
  }
  return names;
}

// What one list has and the other lacks, for a failure message.
std::string name_difference(const std::vector<std::string>& ours, const std::vector<std::string>& theirs) {
  std::set<std::string> our_set(ours.begin(), ours.end()), their_set(theirs.begin(), theirs.end());
  std::string missing, extra;
  for (auto& n : their_set)
    if (!our_set.count(n)) missing += " " + n;
  for (auto& n : our_set)
    if (!their_set.count(n)) extra += " " + n;
  return "in the fixture, not the model:" + missing + "; in the model, not the fixture:" + extra;
}

// Every parameter gradient against the fixture's grad.<name>.
//
// Some gradients are zero in exact arithmetic: a bias (or the time/class embedding)
// that shifts every position of a channel which then enters a GroupNorm of one channel
// per group (32 channels in 32 groups) is removed by the norm's mean. Both sides hold
// rounding noise (~1e-8) there, so those are checked to be noise, measured against the
// norm of the whole gradient, instead of being compared with each other.
struct GradientReport {
  Mismatch worst;
  std::string worst_name;
  double whole_norm = 0, noise = 0;
  int zero_in_exact_arithmetic = 0;
  double largest_noise = 0;  // our largest norm among those
};

GradientReport compare_parameter_gradients(nn::Module& net, const nn::SafetensorsFile& file) {
  GradientReport r;
  double whole2 = 0;
  for (auto& [name, t] : net.named_parameters()) whole2 += std::pow(l2_norm(need(file, "grad." + name)), 2);
  r.whole_norm = std::sqrt(whole2);
  r.noise = 1e-6 * r.whole_norm;
  for (auto& [name, t] : net.named_parameters()) {
    if (!t->grad().defined()) throw std::runtime_error("no gradient reached " + name);
    const Tensor& want = need(file, "grad." + name);
    if (l2_norm(want) < r.noise) {
      ++r.zero_in_exact_arithmetic;
      r.largest_noise = std::max(r.largest_noise, l2_norm(t->grad()));
      continue;
    }
    Mismatch m = mismatch(t->grad(), want);
    if (m.norm_rel >= r.worst.norm_rel) r.worst_name = name;
    r.worst.worst_of(m);
  }
  return r;
}

// Loads the reference's weights into a UNet built from the fixture's metadata, runs
// its batch forward and backward on `device`, and compares the velocity, the loss and
// every gradient with PyTorch's (the same tolerances on both devices).
void check_against_reference(const std::string& path, Device device = Device::CPU) {
  // (The emulated device opens every block it has handed out at each launch: start
  // without the blocks earlier tests left cached.)
  if (device != Device::CPU) empty_cache(device);
  auto file = nn::load_safetensors(path);
  Generator gen(0);
  nn::UNet net(nn::UNetConfig::from_metadata(file.metadata), gen);
  net.train(false);
  std::vector<std::string> ours;
  for (auto& [name, t] : net.named_parameters()) ours.push_back(name);
  std::vector<std::string> theirs = parameter_names(file);
  INFO(name_difference(ours, theirs));
  REQUIRE(ours == theirs);  // the same names, in the same order
  REQUIRE(net.num_parameters() == std::stoll(file.metadata.at("params")));
  nn::load_parameters(net, file, path);
  net.to(device);

  Tensor x = need(file, "input.x").to(device).clone();
  x.requires_grad_();
  Tensor v = net.forward(x, need(file, "input.t").to(device), need(file, "input.y").to(device));
  REQUIRE(v.device() == device);
  Tensor loss = mse_loss(v, need(file, "input.target").to(device));
  loss.backward();

  Mismatch out = mismatch(v, need(file, "output.v"));
  double want_loss = need(file, "output.loss").to_vector().at(0);
  double loss_rel = std::fabs(loss.item() - want_loss) / std::fabs(want_loss);
  Mismatch input_grad = mismatch(x.grad(), need(file, "grad.input.x"));
  GradientReport grads = compare_parameter_gradients(net, file);
  INFO(path << ": norm-relative error (worst element / max |ref|) output " << out.norm_rel << " ("
            << out.elem_rel << "), loss " << loss_rel << ", input grad " << input_grad.norm_rel << " ("
            << input_grad.elem_rel << "), parameter grads " << grads.worst.norm_rel << " ("
            << grads.worst.elem_rel << ", worst " << grads.worst_name << "); "
            << grads.zero_in_exact_arithmetic << " gradients zero in exact arithmetic, ours of norm <= "
            << grads.largest_noise << " (whole gradient " << grads.whole_norm << ")");
  CHECK(out.norm_rel <= 1e-4);
  CHECK(loss_rel <= 1e-4);
  CHECK(input_grad.norm_rel <= 1e-4);
  CHECK(grads.worst.norm_rel <= 1e-4);
  CHECK(grads.largest_noise < grads.noise);
}

}  // namespace

TEST_CASE("UNet matches the reference on MNIST (fixture)", "[unet][fixture]") {
  check_against_reference("tests/fixtures/unet_mnist_c32.safetensors");
}

TEST_CASE("UNet matches the reference on CIFAR-10 (fixture)", "[unet][fixture]") {
  check_against_reference("tests/fixtures/unet_cifar_c32.safetensors");
}

// The same fixtures on the CUDA backend (the emulated device in make test, a GPU in
// build/run_tests_gpu): its conv, group norm, tiled attention, embedding and resampling
// kernels, forward and backward, against PyTorch.
TEST_CASE("UNet on CUDA matches the reference on MNIST (fixture)", "[unet][fixture][cuda]") {
  FC_SKIP_IN_SANITIZER_BUILD("the MNIST UNet fixture on the emulated device");
  check_against_reference("tests/fixtures/unet_mnist_c32.safetensors", Device::CUDA);
}

TEST_CASE("UNet on CUDA matches the reference on CIFAR-10 (fixture)", "[unet][fixture][cuda]") {
  FC_SKIP_IN_SANITIZER_BUILD("the CIFAR-10 UNet fixture on the emulated device");
  check_against_reference("tests/fixtures/unet_cifar_c32.safetensors", Device::CUDA);
}

TEST_CASE("UNet parameter counts match the reference recipes", "[unet]") {
  Generator gen(1);
  CHECK(nn::UNet(nn::UNetConfig::mnist(64), gen).num_parameters() == 6224769);
  CHECK(nn::UNet(nn::UNetConfig::cifar10(64), gen).num_parameters() == 8954627);
  CHECK(nn::UNet(nn::UNetConfig::mnist(32), gen).num_parameters() == 1562049);
  CHECK(nn::UNet(nn::UNetConfig::cifar10(32), gen).num_parameters() == 2247043);
}

TEST_CASE("UNet zero-initialises the last layer of every residual branch", "[unet]") {
  Generator gen(2);
  nn::UNet net(nn::UNetConfig::mnist(32), gen);
  int zeroed = 0;
  std::string wrong;
  for (auto& [name, t] : net.named_parameters()) {
    bool zero_init = name.find("out_layers.3.") != std::string::npos ||
                     name.find("proj_out.") != std::string::npos || name.rfind("out.2.", 0) == 0;
    // GroupNorm biases start at zero too.
    bool norm_bias = name.find("norm.bias") != std::string::npos ||
                     name.find("layers.0.bias") != std::string::npos || name == "out.0.bias";
    auto v = t->to_vector();
    bool all_zero = std::all_of(v.begin(), v.end(), [](float f) { return f == 0.f; });
    if (zero_init) ++zeroed;
    if (zero_init != all_zero && !norm_bias) wrong += " " + name;
  }
  INFO("wrongly (not) zero:" << wrong);
  CHECK(wrong.empty());
  CHECK(zeroed == 2 * (17 + 6 + 1));  // weight and bias of 17 res blocks, 6 attention blocks, out.2
}

TEST_CASE("UNet config: recipes, metadata round trip, reference metadata", "[unet]") {
  nn::UNetConfig c = nn::UNetConfig::cifar10(64);
  CHECK(c.attention_resolutions == std::vector<int>{2});
  CHECK(nn::UNetConfig::mnist(64).attention_resolutions == std::vector<int>{1});
  c.dropout = 0.1f;
  c.null_class = true;
  nn::UNetConfig back = nn::UNetConfig::from_metadata(c.to_metadata());
  CHECK(back.in_channels == 3);
  CHECK(back.out_channels == 3);
  CHECK(back.image_size == 32);
  CHECK(back.model_channels == 64);
  CHECK(back.num_res_blocks == 2);
  CHECK(back.channel_mult == c.channel_mult);
  CHECK(back.attention_resolutions == c.attention_resolutions);
  CHECK(back.num_heads == 1);
  CHECK(back.dropout == 0.1f);
  CHECK(back.num_classes == 10);
  CHECK(back.null_class);

  // The reference's metadata, as in the fixtures: attention given as a resolution.
  std::map<std::string, std::string> ref{{"image_shape", "1,28,28"}, {"model_channels", "32"},
                                         {"num_res_blocks", "2"},    {"channel_mult", "1,2,2"},
                                         {"attention_resolutions", "16"}, {"num_heads", "1"},
                                         {"num_classes", "10"},      {"dropout", "0"}};
  nn::UNetConfig m = nn::UNetConfig::from_metadata(ref);
  CHECK(m.attention_resolutions == std::vector<int>{1});
  CHECK(m.out_channels == 1);
  CHECK_FALSE(m.null_class);

  REQUIRE_THROWS_WITH(nn::UNetConfig::from_metadata({{"model", "mlp"}}), Catch::Contains("not a UNet"));
  auto bad = ref;
  bad["channel_mult"] = "1,x,2";
  REQUIRE_THROWS_WITH(nn::UNetConfig::from_metadata(bad), Catch::Contains("channel_mult") && Catch::Contains("1,x,2"));
  bad = ref;
  bad.erase("num_heads");
  REQUIRE_THROWS_WITH(nn::UNetConfig::from_metadata(bad), Catch::Contains("lacks 'num_heads'"));
  bad = ref;
  bad["image_shape"] = "1,28,27";
  REQUIRE_THROWS_WITH(nn::UNetConfig::from_metadata(bad), Catch::Contains("image_shape"));
}

TEST_CASE("UNet checkpoint round trip", "[unet][checkpoint]") {
  TempDir dir;
  Generator gen(3);
  nn::UNetConfig c = nn::UNetConfig::mnist(32);
  c.channel_mult = {1, 2};
  nn::UNet a(c, gen);
  std::string path = dir.file("unet.safetensors");
  nn::save_checkpoint(path, a, c.to_metadata());
  auto file = nn::load_safetensors(path);
  nn::UNet b(nn::UNetConfig::from_metadata(file.metadata), gen);
  nn::load_parameters(b, file, path);
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  bool same = true;
  for (size_t i = 0; i < pa.size(); ++i) same = same && pa[i]->to_vector() == pb[i]->to_vector();
  CHECK(same);
}

TEST_CASE("null_class adds exactly one label embedding row", "[unet]") {
  Generator gen(4);
  nn::UNetConfig c = nn::UNetConfig::mnist(32);
  nn::UNet plain(c, gen);
  c.null_class = true;
  nn::UNet with_null(c, gen);
  CHECK(with_null.num_parameters() - plain.num_parameters() == 4 * 32);
  for (auto& [name, t] : with_null.named_parameters())
    if (name == "label_emb.weight") CHECK(t->shape() == Shape{11, 128});
  c.num_classes = 0;
  REQUIRE_THROWS_WITH(nn::UNet(c, gen), Catch::Contains("null_class"));
}

TEST_CASE("bad configs and inputs are refused with clear errors", "[unet]") {
  Generator gen(5);
  REQUIRE_THROWS_WITH(nn::GroupNorm(32, 48), Catch::Contains("32 groups do not divide 48 channels"));
  nn::UNetConfig c = nn::UNetConfig::mnist(48);
  REQUIRE_THROWS_WITH(nn::UNet(c, gen), Catch::Contains("48 channels") && Catch::Contains("not divisible by the 32"));
  c = nn::UNetConfig::mnist(32);
  c.channel_mult = {1, 2, 2, 2};  // 28 -> 14 -> 7 -> 4 would not come back to 7
  REQUIRE_THROWS_WITH(nn::UNet(c, gen), Catch::Contains("image_size 28 cannot be halved 3 times"));

  nn::UNet net(nn::UNetConfig::mnist(32), gen);
  Tensor t = Tensor::zeros(Shape{2}), y = Tensor::zeros(Shape{2});
  REQUIRE_THROWS_WITH(net.forward(Tensor::zeros(Shape{2, 3, 32, 32}), t, y),
                      Catch::Contains("[N, 1, 28, 28]") && Catch::Contains("[2, 3, 32, 32]"));
  REQUIRE_THROWS_WITH(net.forward(Tensor::zeros(Shape{2, 1, 28}), t, y), Catch::Contains("[2, 1, 28]"));
  Tensor x = Tensor::zeros(Shape{2, 1, 28, 28});
  REQUIRE_THROWS_WITH(net.forward(x, Tensor::zeros(Shape{3}), y), Catch::Contains("t of shape [2]"));
  REQUIRE_THROWS_WITH(net.forward(x, t), Catch::Contains("no labels y"));
  REQUIRE_THROWS_WITH(net.forward(x, t, Tensor::zeros(Shape{2, 1})), Catch::Contains("labels y of shape [2]"));
  // A label outside [0, 10) is refused by the embedding op.
  REQUIRE_THROWS_AS(net.forward(x, t, Tensor::from_vector({3.f, 10.f}, Shape{2})), Error);
  nn::UNetConfig uc = nn::UNetConfig::mnist(32);
  uc.num_classes = 0;
  nn::UNet unconditional(uc, gen);
  REQUIRE_THROWS_WITH(unconditional.forward(x, t, y), Catch::Contains("unconditional"));
}

TEST_CASE("image layers: shapes and PyTorch's initialisation bound", "[unet]") {
  Generator gen(6);
  nn::Conv2d conv(4, 8, 3, 1, 1, gen);
  CHECK(conv.weight.shape() == Shape{8, 4, 3, 3});
  CHECK(conv.bias.shape() == Shape{8});
  float bound = 1.f / std::sqrt(4.f * 9.f);
  auto w = conv.weight.to_vector();
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
  CHECK(*std::max_element(w.begin(), w.end()) > 0.8f * bound);
  nn::PointwiseConv1d qkv(8, 24, gen);
  CHECK(qkv.weight.shape() == Shape{24, 8, 1});
  nn::GroupNorm norm(4, 8);
  CHECK(norm.weight.to_vector() == std::vector<float>(8, 1.f));
  CHECK(norm.bias.to_vector() == std::vector<float>(8, 0.f));
  nn::Embedding emb(10, 16, gen);
  CHECK(emb.weight.shape() == Shape{10, 16});
}

TEST_CASE("Dropout: identity in eval mode, zeroes and rescales in training", "[unet]") {
  Generator gen(7);
  nn::Dropout drop(0.25f, gen);
  Tensor x = Tensor::ones(Shape{4000});
  drop.train(false);
  CHECK(drop.forward(x).to_vector() == x.to_vector());
  drop.train(true);
  auto v = drop.forward(x).to_vector();
  int64_t zeros = std::count(v.begin(), v.end(), 0.f);
  int64_t scaled = std::count(v.begin(), v.end(), 1.f / 0.75f);
  CHECK(zeros + scaled == 4000);
  CHECK(zeros > 800);  // expect 1000
  CHECK(zeros < 1200);
}

TEST_CASE("UNet config read off a plain state_dict (no metadata)", "[unet]") {
  // The fixtures are the reference model's parameters under its names: their shapes
  // alone give back the config their metadata states.
  for (const char* name : {"unet_mnist_c32", "unet_cifar_c32"}) {
    auto file = nn::load_safetensors(std::string("tests/fixtures/") + name + ".safetensors");
    nn::UNetConfig meta = nn::UNetConfig::from_metadata(file.metadata);
    nn::UNetConfig shapes = nn::UNetConfig::infer_from_parameters(file, meta.image_size);
    INFO(name);
    CHECK(shapes.to_metadata() == meta.to_metadata());
  }
  // A variant: one res block per level, attention only at the coarsest level, no classes.
  nn::UNetConfig cfg = nn::UNetConfig::mnist(64);
  cfg.num_res_blocks = 1;
  cfg.attention_resolutions = {4};
  cfg.num_classes = 0;
  Generator gen(2);
  nn::UNet model(cfg, gen);
  TempDir dir;
  std::vector<nn::NamedTensor> tensors;
  for (auto& [n, p] : model.named_parameters()) tensors.push_back({n, *p});
  nn::save_safetensors(dir.file("plain.safetensors"), tensors, {});
  auto plain = nn::load_safetensors(dir.file("plain.safetensors"));
  CHECK(nn::UNetConfig::infer_from_parameters(plain, 28).to_metadata() == cfg.to_metadata());
  nn::save_safetensors(dir.file("other.safetensors"), {{"w", Tensor::ones(Shape{2})}}, {});
  CHECK_THROWS_WITH(nn::UNetConfig::infer_from_parameters(nn::load_safetensors(dir.file("other.safetensors")), 28),
                    Catch::Matchers::Contains("not a UNet"));
}
