// nn/classifier: the evaluation CNN's names and shapes, features as its penultimate
// layer, training on a tiny synthetic problem, config metadata and checkpoints, bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/autograd.hpp"
#include "engine/error.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "nn/checkpoint.hpp"
#include "nn/classifier.hpp"
#include "test_util.hpp"

using namespace fc;

namespace {

// 1 x 28 x 28 images in 10 classes (the defaults), narrow.
nn::ClassifierConfig small_config() {
  nn::ClassifierConfig c;
  c.width = 4;
  c.feature_dim = 16;
  return c;
}

// These tensors are tiny: one thread is faster than a parallel region, and does not
// stall (seconds instead of a fifth of one) when background jobs hold the cores.
struct OneThread {
  int saved = num_threads();
  OneThread() { set_num_threads(1); }
  ~OneThread() { set_num_threads(saved); }
};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::fabs(double(va[i]) - vb[i]));
  return m;
}

// n images [n, C, S, S] of noise around -0.5 whose left half (label 0) or right half
// (label 1) is brighter by 1, and their labels.
std::pair<Tensor, Tensor> left_or_right(Generator& gen, int64_t n, int64_t channels, int64_t size) {
  Tensor labels = gen.randint(Shape{n}, 0, 2);
  std::vector<float> x = gen.normal(Shape{n, channels, size, size}, -0.5f, 0.3f).to_vector();
  std::vector<float> y = labels.to_vector();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t r = 0; r < size; ++r)
        for (int64_t col = 0; col < size; ++col)
          if ((col < size / 2) == (y[static_cast<size_t>(i)] == 0))
            x[static_cast<size_t>(((i * channels + c) * size + r) * size + col)] += 1.f;
  return {Tensor::from_vector(x, Shape{n, channels, size, size}), labels};
}

}  // namespace

TEST_CASE("Classifier has its parameter names, shapes and outputs", "[classifier]") {
  OneThread one_thread;
  Generator gen(1);
  nn::Classifier net(small_config(), gen);
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  for (auto& [name, t] : net.named_parameters()) {
    names.push_back(name);
    shapes.push_back(t->shape());
  }
  REQUIRE(names == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                            "conv3.weight", "conv3.bias", "conv4.weight", "conv4.bias",
                                            "fc.weight", "fc.bias", "head.weight", "head.bias"});
  REQUIRE(shapes == std::vector<Shape>{{4, 1, 3, 3}, {4}, {4, 4, 3, 3}, {4}, {8, 4, 3, 3}, {8}, {8, 8, 3, 3}, {8},
                                       {16, 8 * 7 * 7}, {16}, {10, 16}, {10}});
  // The default (width 32, 128 features) at 32 x 32 RGB.
  nn::ClassifierConfig cifar;
  cifar.in_channels = 3;
  cifar.image_size = 32;
  nn::Classifier big(cifar, gen);
  REQUIRE(big.num_parameters() == (3 * 9 * 32 + 32) + (32 * 9 * 32 + 32) + (32 * 9 * 64 + 64) +
                                      (64 * 9 * 64 + 64) + (64 * 8 * 8 * 128 + 128) + (128 * 10 + 10));
  Tensor x = gen.uniform(Shape{3, 1, 28, 28}, -1, 1);
  Tensor f = net.features(x), z = net.logits(x);
  REQUIRE(f.shape() == Shape{3, 16});
  REQUIRE(z.shape() == Shape{3, 10});
  for (float v : f.to_vector()) REQUIRE(v >= 0.f);  // after the ReLU
  REQUIRE(net.forward(x).to_vector() == z.to_vector());
}

TEST_CASE("Classifier features are the penultimate layer", "[classifier]") {
  OneThread one_thread;
  Generator gen(2);
  nn::Classifier net(small_config(), gen);
  Tensor x = gen.uniform(Shape{5, 1, 28, 28}, -1, 1);
  Tensor z = linear(net.features(x), net.head.weight, net.head.bias);
  REQUIRE(z.to_vector() == net.logits(x).to_vector());
  // Batched extraction (graph-free, on the CPU) gives the same features.
  Tensor batched = nn::extract_features(net, x, 2);
  REQUIRE(!batched.requires_grad());
  REQUIRE(max_abs_diff(batched, net.features(x)) < 1e-5);
  // Gradients reach the input through the features (no detach inside).
  Tensor xg = x.clone();
  xg.requires_grad_();
  sum(net.features(xg)).backward();
  REQUIRE(xg.grad().defined());
}

TEST_CASE("Classifier learns a synthetic two-class problem", "[classifier]") {
  OneThread one_thread;
  for (int64_t channels : {1, 3}) {
    Generator gen(7 + channels);
    nn::ClassifierConfig c;
    c.in_channels = channels;
    c.image_size = 8;
    c.classes = 2;
    c.width = 4;
    c.feature_dim = 16;
    nn::Classifier net(c, gen);
    auto [test_x, test_y] = left_or_right(gen, 200, channels, 8);
    float before = nn::accuracy(net, test_x, test_y, 64);
    std::vector<float> losses;
    std::vector<int64_t> steps_seen;
    nn::ClassifierTrainOptions opt;
    opt.lr = 1e-2f;
    float final_loss = nn::train_classifier(
        net, [&](int64_t, Tensor& x, Tensor& y) { std::tie(x, y) = left_or_right(gen, 32, channels, 8); }, 40,
        opt, [&](int64_t step, float loss) {
          steps_seen.push_back(step);
          losses.push_back(loss);
        });
    REQUIRE(steps_seen.size() == 40);
    REQUIRE(steps_seen.front() == 1);
    REQUIRE(steps_seen.back() == 40);
    REQUIRE(losses.front() > 0.5f);  // about log 2 at the start
    REQUIRE(final_loss < 0.05f);
    float after = nn::accuracy(net, test_x, test_y, 64);
    INFO("channels " << channels << ": accuracy " << before << " -> " << after << ", loss "
                     << losses.front() << " -> " << final_loss);
    REQUIRE(after >= 0.98f);
    REQUIRE(net.training());  // accuracy() restores the mode it found
  }
}

TEST_CASE("Classifier accuracy counts argmax hits", "[classifier]") {
  OneThread one_thread;
  Generator gen(4);
  nn::Classifier net(small_config(), gen);
  Tensor x = gen.uniform(Shape{7, 1, 28, 28}, -1, 1);
  std::vector<float> z = net.logits(x).to_vector(), right, wrong;
  for (int64_t i = 0; i < 7; ++i) {
    const float* row = z.data() + i * 10;
    float best = static_cast<float>(std::max_element(row, row + 10) - row);
    right.push_back(best);
    wrong.push_back(i < 3 ? best : std::fmod(best + 1.f, 10.f));
  }
  REQUIRE(nn::accuracy(net, x, Tensor::from_vector(right, Shape{7}), 3) == 1.f);
  REQUIRE(nn::accuracy(net, x, Tensor::from_vector(wrong, Shape{7}), 2) == Approx(3.f / 7.f));
  REQUIRE_THROWS_WITH(nn::accuracy(net, x, Tensor::from_vector(right, Shape{7}), 0), Catch::Contains("batch"));
  REQUIRE_THROWS_WITH(nn::accuracy(net, x, Tensor::zeros(Shape{6})), Catch::Contains("labels [N]"));
}

TEST_CASE("Classifier config survives metadata and checkpoints", "[classifier][checkpoint]") {
  OneThread one_thread;
  nn::ClassifierConfig c = small_config();
  c.in_channels = 3;
  c.image_size = 12;
  c.classes = 5;
  c.width = 6;
  c.feature_dim = 20;
  nn::ClassifierConfig back = nn::ClassifierConfig::from_metadata(c.to_metadata());
  REQUIRE(back.to_metadata() == c.to_metadata());
  REQUIRE(c.to_metadata().at("feature_dim") == "20");

  Generator gen(5);
  nn::Classifier a(c, gen);
  TempDir dir;
  std::string path = dir.file("classifier.safetensors");
  nn::save_checkpoint(path, a, c.to_metadata());
  auto file = nn::load_safetensors(path);
  nn::Classifier b(nn::ClassifierConfig::from_metadata(file.metadata), gen);
  nn::load_parameters(b, file, path);
  Tensor x = gen.uniform(Shape{2, 3, 12, 12}, -1, 1);
  REQUIRE(a.logits(x).to_vector() == b.logits(x).to_vector());

  REQUIRE_THROWS_WITH(nn::ClassifierConfig::from_metadata({{"model", "mlp"}}), Catch::Contains("not a classifier"));
  auto meta = c.to_metadata();
  meta["width"] = "4x";
  REQUIRE_THROWS_WITH(nn::ClassifierConfig::from_metadata(meta), Catch::Contains("'width'") && Catch::Contains("4x"));
  meta = c.to_metadata();
  meta.erase("classes");
  REQUIRE_THROWS_WITH(nn::ClassifierConfig::from_metadata(meta), Catch::Contains("lacks 'classes'"));
  meta = c.to_metadata();
  meta["image_size"] = "30";
  REQUIRE_THROWS_WITH(nn::ClassifierConfig::from_metadata(meta), Catch::Contains("multiple of 4"));
}

TEST_CASE("Classifier refuses bad shapes and configs in one line", "[classifier]") {
  Generator gen(6);
  nn::Classifier net(small_config(), gen);
  for (const Shape& bad : {Shape{2, 3, 28, 28}, Shape{2, 1, 32, 32}, Shape{1, 28, 28}, Shape{2, 1, 28, 27}}) {
    try {
      net.features(Tensor::zeros(bad));
      FAIL("accepted " << bad);
    } catch (const Error& e) {
      std::string what = e.what();
      REQUIRE(what.find('\n') == std::string::npos);
      REQUIRE_THAT(what, Catch::Contains("[N, 1, 28, 28]") && Catch::Contains(bad.str()));
    }
  }
  REQUIRE_THROWS_WITH(net.logits(Tensor()), Catch::Contains("[N, 1, 28, 28]"));
  // Evaluation that fails midway leaves the model in the mode it found.
  REQUIRE_THROWS_WITH(nn::accuracy(net, Tensor::zeros(Shape{2, 3, 28, 28}), Tensor::zeros(Shape{2})),
                      Catch::Contains("[N, 1, 28, 28]"));
  REQUIRE(net.training());
  REQUIRE_THROWS_WITH(nn::extract_features(net, Tensor::zeros(Shape{2, 28, 28})), Catch::Contains("[N, C, H, W]"));
  nn::ClassifierConfig c = small_config();
  c.image_size = 30;
  REQUIRE_THROWS_WITH(nn::Classifier(c, gen), Catch::Contains("image_size 30"));
  c = small_config();
  c.classes = 1;
  REQUIRE_THROWS_WITH(nn::Classifier(c, gen), Catch::Contains("classes 1"));
  REQUIRE_THROWS_WITH(nn::train_classifier(net, {}, 5), Catch::Contains("no batch function"));
  REQUIRE_THROWS_WITH(nn::train_classifier(net, [](int64_t, Tensor&, Tensor&) {}, 0), Catch::Contains("steps"));
  REQUIRE_THROWS_WITH(nn::train_classifier(net, [](int64_t, Tensor&, Tensor&) {}, 3),
                      Catch::Contains("gave no x or y"));
}
