// The image ops of engine/ops.hpp against naive loops written from their definitions
// (the gradients are checked in tests/test_ops.cpp's table), their shape errors, and
// dropout's train / eval behaviour.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/cpu/fast_math.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"

using namespace fc;
using Catch::Matchers::Contains;

namespace {

// max |a - b| / max(1, max |b|)
double max_rel_diff(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0, scale = 1;
  for (double v : b) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst / scale;
}

std::vector<double> naive_conv(const std::vector<float>& x, const std::vector<float>& w,
                               const std::vector<float>& b, int64_t n, int64_t c, int64_t h,
                               int64_t wd, int64_t o, int64_t k, int stride, int pad) {
  int64_t ho = (h + 2 * pad - k) / stride + 1, wo = (wd + 2 * pad - k) / stride + 1;
  std::vector<double> y(static_cast<size_t>(n * o * ho * wo));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double s = b.empty() ? 0 : b[oc];
          for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += double(x[((i * c + ci) * h + iy) * wd + ix]) * w[((oc * c + ci) * k + ky) * k + kx];
              }
          y[((i * o + oc) * ho + oy) * wo + ox] = s;
        }
  return y;
}

}  // namespace

TEST_CASE("conv2d matches a direct convolution, on 1 and 2 threads", "[ops][image]") {
  struct Case { int64_t n, c, h, w, o, k; int stride, pad; bool bias; };
  const Case cases[] = {{3, 4, 9, 7, 5, 3, 1, 1, true},  {2, 3, 8, 8, 6, 3, 2, 1, false},
                        {1, 2, 7, 9, 3, 2, 2, 0, true},  {4, 6, 5, 5, 4, 1, 1, 0, true},
                        {2, 3, 6, 6, 2, 5, 1, 2, false}};
  const int saved_threads = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& k : cases) {
      Generator g(static_cast<uint64_t>(k.c * 100 + k.k));
      Tensor x = g.normal(Shape{k.n, k.c, k.h, k.w}), w = g.normal(Shape{k.o, k.c, k.k, k.k});
      Tensor b = k.bias ? g.normal(Shape{k.o}) : Tensor();
      Tensor y = conv2d(x, w, b, k.stride, k.pad);
      std::vector<double> want = naive_conv(x.to_vector(), w.to_vector(),
                                            k.bias ? b.to_vector() : std::vector<float>{}, k.n,
                                            k.c, k.h, k.w, k.o, k.k, k.stride, k.pad);
      INFO("threads " << threads << ", x " << x.shape() << ", w " << w.shape() << ", stride "
                      << k.stride << ", padding " << k.pad);
      CHECK(y.dim(2) == (k.h + 2 * k.pad - k.k) / k.stride + 1);
      CHECK(max_rel_diff(y.to_vector(), want) < 1e-5);
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("group_norm matches its definition", "[ops][image]") {
  Generator g(3);
  const int64_t n = 2, c = 6, s = 10, groups = 3;
  Tensor x = g.normal(Shape{n, c, 2, 5}, 3.f, 2.f), gamma = g.normal(Shape{c}), beta = g.normal(Shape{c});
  std::vector<float> xv = x.to_vector(), gv = gamma.to_vector(), bv = beta.to_vector();
  std::vector<double> want(xv.size());
  const int64_t len = c / groups * s;
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < len; ++i) m += xv[ng * len + i];
    m /= len;
    for (int64_t i = 0; i < len; ++i) v += (xv[ng * len + i] - m) * (xv[ng * len + i] - m);
    v /= len;  // the biased variance, as PyTorch's GroupNorm
    for (int64_t i = 0; i < len; ++i) {
      int64_t ch = (ng % groups) * (c / groups) + i / s;
      want[ng * len + i] = (xv[ng * len + i] - m) / std::sqrt(v + 1e-5) * gv[ch] + bv[ch];
    }
  }
  CHECK(max_rel_diff(group_norm(x, groups, gamma, beta).to_vector(), want) < 1e-5);
  for (double& v : want) v = v / (1 + std::exp(-v));
  CHECK(max_rel_diff(group_norm_silu(x, groups, gamma, beta).to_vector(), want) < 1e-5);
}

TEST_CASE("softmax: known values, and large inputs do not overflow", "[ops][image]") {
  Tensor y = softmax(Tensor::from_vector({0.f, std::log(3.f), 1000.f, 1000.f}, Shape{2, 2}));
  std::vector<float> v = y.to_vector();
  CHECK(v[0] == Approx(0.25f));
  CHECK(v[1] == Approx(0.75f));
  CHECK(v[2] == Approx(0.5f));
  CHECK(v[3] == Approx(0.5f));
}

TEST_CASE("softmax's exp and attention's 2^x for x <= 0: within 2e-7 of libm, NaN stays NaN",
          "[ops][image]") {
  double worst = 0, worst2 = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = -87.f * float(i) / 200000.f, x2 = -125.f * float(i) / 200000.f;
    const double ref = std::exp(double(x)), ref2 = std::exp2(double(x2));
    worst = std::max(worst, std::fabs(fc::cpu::fast_exp_nonpositive(x) - ref) / ref);
    worst2 = std::max(worst2, std::fabs(fc::cpu::fast_exp2_nonpositive(x2) - ref2) / ref2);
  }
  INFO("worst relative error: exp " << worst << ", 2^x " << worst2);
  CHECK(worst < 2e-7);
  CHECK(worst2 < 2e-7);
  // A rounding error above 0 (a score minus its log-sum-exp) is still exact enough.
  CHECK(fc::cpu::fast_exp_nonpositive(1e-6f) == Approx(1.000001).epsilon(1e-7));
  CHECK(fc::cpu::fast_exp2_nonpositive(1e-6f) == Approx(std::exp2(1e-6)).epsilon(1e-7));
  CHECK(std::isnan(fc::cpu::fast_exp_nonpositive(std::nanf(""))));
  CHECK(std::isnan(fc::cpu::fast_exp2_nonpositive(std::nanf(""))));
  // A NaN score poisons its softmax row and its attention output instead of vanishing.
  std::vector<float> row = {0.f, std::nanf(""), 1.f};
  CHECK(std::isnan(fc::cpu::softmax_in_place(row.data(), 3)));
  CHECK(std::isnan(row[0]));
  Tensor qkv = Tensor::from_vector({1.f, 2.f, 3.f, std::nanf(""), 5.f, 6.f}, Shape{1, 3, 2});
  std::vector<float> out = qkv_attention(qkv, 1).to_vector();
  CHECK(std::isnan(out[0]));
  CHECK(std::isnan(out[1]));
}

TEST_CASE("qkv_attention matches the reference's legacy split, with several heads", "[ops][image]") {
  // 300 positions: three blocks of query rows, the last one partial.
  const int64_t b = 2, heads = 2, d = 3, t = 300;
  Generator g(11);
  Tensor qkv = g.normal(Shape{b, heads * 3 * d, t});
  std::vector<float> q = qkv.to_vector();
  std::vector<double> want(static_cast<size_t>(b * heads * d * t));
  // QKVAttentionLegacy: qkv viewed [b * heads, 3d, t], split into q, k, v of d rows.
  for (int64_t bh = 0; bh < b * heads; ++bh) {
    const float* base = q.data() + bh * 3 * d * t;
    for (int64_t r = 0; r < t; ++r) {
      std::vector<double> w(static_cast<size_t>(t));
      double mx = -1e300, sum = 0;
      for (int64_t s = 0; s < t; ++s) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += double(base[c * t + r]) * base[(d + c) * t + s];
        w[s] = dot / std::sqrt(double(d));
        mx = std::max(mx, w[s]);
      }
      for (double& v : w) sum += (v = std::exp(v - mx));
      for (int64_t c = 0; c < d; ++c) {
        double a = 0;
        for (int64_t s = 0; s < t; ++s) a += w[s] / sum * base[(2 * d + c) * t + s];
        want[(bh * d + c) * t + r] = a;
      }
    }
  }
  Tensor out = qkv_attention(qkv, static_cast<int>(heads));
  CHECK(out.shape() == Shape{b, heads * d, t});
  CHECK(max_rel_diff(out.to_vector(), want) < 1e-5);
}

TEST_CASE("upsampling, pooling, embedding and timestep embedding: known values", "[ops][image]") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, Shape{1, 1, 2, 2});
  CHECK(upsample_nearest2x(x).to_vector() ==
        std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  CHECK(avg_pool2x(upsample_nearest2x(x)).to_vector() == x.to_vector());
  CHECK(avg_pool2x(x).to_vector() == std::vector<float>{2.5f});
  Tensor table = Tensor::from_vector({0, 1, 10, 11, 20, 21}, Shape{3, 2});
  CHECK(embedding(table, Tensor::from_vector({2, 0, 2}, Shape{3})).to_vector() ==
        std::vector<float>{20, 21, 0, 1, 20, 21});
  // dim 4: frequencies 1 and 10000^(-1/2) = 0.01; cos first, then sin.
  std::vector<float> e = timestep_embedding(Tensor::from_vector({0.5f}, Shape{1}), 4).to_vector();
  CHECK(e[0] == Approx(std::cos(0.5)));
  CHECK(e[1] == Approx(std::cos(0.005)));
  CHECK(e[2] == Approx(std::sin(0.5)));
  CHECK(e[3] == Approx(std::sin(0.005)));
}

TEST_CASE("cross_entropy: known values, large logits, bad labels", "[ops][image]") {
  // Uniform logits over 4 classes: log 4 whatever the label.
  CHECK(cross_entropy(Tensor::zeros(Shape{3, 4}), Tensor::from_vector({0, 3, 1}, Shape{3})).item() ==
        Approx(std::log(4.0)));
  // [1000, 0]: the first class has probability 1 (loss 0), the second e^-1000 (loss 1000).
  Tensor logits = Tensor::from_vector({1000, 0, 1000, 0}, Shape{2, 2});
  CHECK(cross_entropy(logits, Tensor::from_vector({0, 1}, Shape{2})).item() == Approx(500.0));
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector({0, 2}, Shape{2})),
                    Contains("cross_entropy") && Contains("label 2"));
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector({0}, Shape{1})), Contains("[2, 2]"));
}

TEST_CASE("dropout: identity in eval mode, unbiased mask in training", "[ops][image]") {
  Generator g(5);
  Tensor x = Tensor::ones(Shape{200, 100});
  Tensor eval = dropout(x, 0.3f, false, g);
  CHECK(eval.to_vector() == x.to_vector());
  CHECK(g.offset() == 0);  // eval draws nothing
  std::vector<float> y = dropout(x, 0.3f, true, g).to_vector();
  int64_t zeros = 0;
  double sum = 0;
  for (float v : y) {
    CHECK((v == 0.f || v == Approx(1.f / 0.7f)));
    zeros += v == 0.f;
    sum += v;
  }
  // 20,000 draws: the dropped fraction is 0.3 within 4 standard deviations (0.013).
  CHECK(std::fabs(double(zeros) / y.size() - 0.3) < 0.013);
  CHECK(std::fabs(sum / y.size() - 1.0) < 0.03);
  CHECK(dropout(x, 0.f, true, g).to_vector() == x.to_vector());
}

TEST_CASE("image ops: bad shapes and arguments throw errors naming the op", "[ops][image][errors]") {
  Tensor x = Tensor::ones(Shape{2, 6, 4, 4});
  CHECK_THROWS_WITH(conv2d(x, Tensor::ones(Shape{3, 5, 3, 3}), Tensor()),
                    Contains("conv2d") && Contains("[2, 6, 4, 4]") && Contains("[3, 5, 3, 3]"));
  CHECK_THROWS_WITH(conv2d(x, Tensor::ones(Shape{3, 6, 7, 7}), Tensor()), Contains("larger"));
  CHECK_THROWS_WITH(conv2d(x, Tensor::ones(Shape{3, 6, 3, 3}), Tensor(), 0, 1), Contains("stride"));
  CHECK_THROWS_WITH(conv2d(x, Tensor::ones(Shape{3, 6, 3, 3}), Tensor::ones(Shape{4})),
                    Contains("bias"));
  CHECK_THROWS_WITH(group_norm(x, 4, Tensor(), Tensor()),
                    Contains("group_norm") && Contains("4 groups do not divide the 6 channels"));
  CHECK_THROWS_WITH(group_norm(x, 3, Tensor::ones(Shape{5}), Tensor()), Contains("group_norm"));
  CHECK_THROWS_WITH(qkv_attention(Tensor::ones(Shape{2, 10, 4}), 1), Contains("qkv_attention"));
  CHECK_THROWS_WITH(qkv_attention(Tensor::ones(Shape{2, 12, 4}), 3), Contains("3 heads"));
  CHECK_THROWS_WITH(avg_pool2x(Tensor::ones(Shape{1, 1, 3, 4})), Contains("even"));
  CHECK_THROWS_WITH(upsample_nearest2x(Tensor::ones(Shape{4, 4})), Contains("upsample"));
  Tensor table = Tensor::ones(Shape{3, 2});
  CHECK_THROWS_WITH(embedding(table, Tensor::from_vector({3}, Shape{1})), Contains("[0, 3)"));
  CHECK_THROWS_WITH(embedding(table, Tensor::from_vector({-1}, Shape{1})), Contains("id -1"));
  CHECK_THROWS_WITH(embedding(table, Tensor::from_vector({0.5f}, Shape{1})), Contains("integer"));
  CHECK_THROWS_WITH(timestep_embedding(Tensor::ones(Shape{2, 2}), 4), Contains("timestep_embedding"));
  Generator g(1);
  CHECK_THROWS_WITH(dropout(x, 1.f, true, g), Contains("dropout"));
  CHECK_THROWS_WITH(dropout(x, -0.1f, true, g), Contains("dropout"));
}
