#include <catch2/catch.hpp>

#include "engine/ops.hpp"

TEST_CASE("smoke") {
  fc::Tensor a = fc::Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  a.requires_grad_();
  fc::Tensor y = fc::sum(fc::mul(a, a));
  y.backward();
  REQUIRE(y.item() == 30.f);
  REQUIRE(a.grad().to_vector() == std::vector<float>{2, 4, 6, 8});
}
