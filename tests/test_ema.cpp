// nn/ema: the moving average of a model's parameters, with its warm-up.
#include <catch2/catch.hpp>

#include "engine/random.hpp"
#include "nn/ema.hpp"
#include "nn/layers.hpp"

using namespace fc;

TEST_CASE("EMA: warmed-up decay, exact arithmetic, copy into another model", "[ema]") {
  Generator gen(1);
  nn::Linear model(2, 1, gen), other(2, 1, gen);
  CHECK_THROWS_WITH(nn::EMA(model, 0.9f), Catch::Matchers::Contains("flattened"));
  model.flatten_parameters();
  other.flatten_parameters();
  CHECK_THROWS_WITH(nn::EMA(model, 1.5f), Catch::Matchers::Contains("decay"));
  nn::EMA ema(model, 0.99f);
  std::vector<float> start = ema.shadow().to_vector();
  std::vector<double> avg(start.begin(), start.end());
  for (int n = 0; n < 30; ++n) {
    Tensor p = model.flat_parameters();
    p.copy_(gen.normal(p.shape()));
    ema.update();
    // The warm-up: (1 + n) / (10 + n) until it exceeds the decay itself.
    double d = std::min(0.99, (1.0 + n) / (10.0 + n));
    std::vector<float> pv = p.to_vector();
    for (size_t i = 0; i < avg.size(); ++i) avg[i] = d * avg[i] + (1 - d) * pv[i];
  }
  CHECK(ema.updates() == 30);
  std::vector<float> got = ema.shadow().to_vector();
  for (size_t i = 0; i < avg.size(); ++i) CHECK(got[i] == Approx(avg[i]).margin(1e-5));
  ema.copy_to(other);
  CHECK(other.flat_parameters().to_vector() == got);
  nn::Linear wider(3, 1, gen);
  wider.flatten_parameters();
  CHECK_THROWS_WITH(ema.copy_to(wider), Catch::Matchers::Contains("do not match"));
}
