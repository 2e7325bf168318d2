// The op layer on CUDA tensors beyond the op table (whose every row tests/test_ops.cpp
// runs on CUDA tensors against the CPU): ids on the device, random tensors, Tensor::to,
// modules and gradient clipping moved to the device, and the host's waits. On the
// emulated device this also proves that no op reads or writes tensor memory from the
// host behind the kernel table: such an access would crash.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "engine/tensor.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "tests/test_util.hpp"

using namespace fc;

TEST_CASE("CUDA ops: embedding and cross-entropy take ids on the device", "[cuda][ops]") {
  for (Device d : {Device::CPU, Device::CUDA}) {
    INFO("device " << device_name(d));
    Tensor table = Generator(3).normal(Shape{6, 4}).to(d);
    table.requires_grad_();
    Tensor ids = Tensor::from_vector({0, 5, 2, 2, 1}, Shape{5}, d);
    Tensor logits = Generator(4).normal(Shape{5, 6}).to(d);
    logits.requires_grad_();
    Tensor loss = add(sum(square(embedding(table, ids))), cross_entropy(logits, ids));
    loss.backward();
    static std::vector<float> want_loss, want_gt, want_gl;
    if (d == Device::CPU) {
      want_loss = loss.to_vector();
      want_gt = table.grad().to_vector();
      want_gl = logits.grad().to_vector();
    } else {
      CHECK(nmse(want_loss, loss.to_vector()) <= 1e-10);
      CHECK(nmse(want_gt, table.grad().to_vector()) <= 1e-10);
      CHECK(nmse(want_gl, logits.grad().to_vector()) <= 1e-10);
    }
  }
  // A bad id on the device: no host read to stop on, so its row is NaN and the others
  // are the table's (the CPU op refuses it: tests/test_image_ops.cpp).
  Tensor table = Generator(3).normal(Shape{6, 4});
  std::vector<float> got = embedding(table.to(Device::CUDA), Tensor::from_vector({1, 6, 0}, Shape{3}, Device::CUDA))
                               .to_vector(),
                     want = table.to_vector();
  for (int j = 0; j < 4; ++j) {
    CHECK(got[static_cast<size_t>(j)] == want[static_cast<size_t>(4 + j)]);
    CHECK(std::isnan(got[static_cast<size_t>(4 + j)]));
    CHECK(got[static_cast<size_t>(8 + j)] == want[static_cast<size_t>(j)]);
  }
}

TEST_CASE("CUDA ops: the same seed gives the same random tensors on both devices", "[cuda][random]") {
  Generator a(2024), b(2024);
  CHECK(a.uniform(Shape{1001}, -1.f, 2.f).to_vector() == b.uniform(Shape{1001}, -1.f, 2.f, Device::CUDA).to_vector());
  std::vector<float> na = a.normal(Shape{333}).to_vector(), nb = b.normal(Shape{333}, 0.f, 1.f, Device::CUDA).to_vector();
  CHECK(nmse(na, nb) <= 1e-12);
}

TEST_CASE("CUDA ops: Tensor::to is differentiable across devices", "[cuda][ops]") {
  // f(x) = sum(((x on CUDA) * 3)^2), x on the CPU: df/dx = 18 x, back on the CPU.
  Tensor x = Generator(7).uniform(Shape{3, 5}, -1.f, 1.f);
  x.requires_grad_();
  Tensor y = square(mul_scalar(x.to(Device::CUDA), 3.f));
  REQUIRE(y.device() == Device::CUDA);
  sum(y.to(Device::CPU)).backward();
  REQUIRE(x.grad().defined());
  REQUIRE(x.grad().device() == Device::CPU);
  std::vector<float> xv = x.to_vector(), gv = x.grad().to_vector();
  for (size_t i = 0; i < xv.size(); ++i) CHECK(gv[i] == Approx(18.f * xv[i]).margin(1e-6));
  // Without a gradient to record, to() is a plain copy.
  Tensor c = Tensor::ones(Shape{2}).to(Device::CUDA);
  CHECK(!c.requires_grad());
}

TEST_CASE("CUDA ops: a module moved to CUDA computes what it computed on the CPU", "[cuda][ops]") {
  Generator init(11);
  nn::MLPConfig cfg;
  cfg.hidden = 24;
  nn::MLP cpu(cfg, init), cuda(cfg, init = Generator(11));
  cuda.flatten_parameters();  // a flattened module stays flattened, in one buffer on the device
  cuda.to(Device::CUDA);
  REQUIRE(cuda.device() == Device::CUDA);
  REQUIRE(cuda.flattened());
  REQUIRE(cuda.flat_parameters().device() == Device::CUDA);
  for (Tensor* p : cuda.parameters()) CHECK(p->device() == Device::CUDA);
  Tensor x = Generator(12).normal(Shape{9, 3});
  std::vector<float> want = cpu.forward(x).to_vector();
  Tensor out = cuda.forward(x.to(Device::CUDA));
  CHECK(nmse(want, out.to_vector()) <= 1e-10);
  // Backward fills the flat gradient buffer on the device.
  sum(out).backward();
  std::vector<float> g = cuda.flat_gradients().to_vector();
  double norm = 0;
  for (float v : g) norm += static_cast<double>(v) * v;
  CHECK(norm > 0);
  // Sampling-sized batches go through in blocks of rows (64K on a device, 4K on the
  // CPU): 140,000 points cross three of the device's blocks, the last one partial.
  {
    NoGradGuard no_grad;
    Tensor many = Generator(13).normal(Shape{140000, 3});
    std::vector<float> want_many = cpu.forward(many).to_vector();
    CHECK(nmse(want_many, cuda.forward(many.to(Device::CUDA)).to_vector()) <= 1e-10);
  }
  cuda.to(Device::CPU);
  CHECK(cuda.device() == Device::CPU);
  CHECK(nmse(want, cuda.forward(x).to_vector()) <= 1e-10);
}

TEST_CASE("CUDA ops: clip_grad_norm clips on the device as on the CPU", "[cuda][ops]") {
  std::vector<float> want_grads;
  float want_norm = 0;
  for (Device d : {Device::CPU, Device::CUDA}) {
    INFO("device " << device_name(d));
    Generator init(21);
    nn::MLPConfig cfg;
    cfg.hidden = 16;
    nn::MLP mlp(cfg, init);
    mlp.to(d);
    mlp.flatten_parameters();
    mul_scalar(sum(square(mlp.forward(Generator(22).normal(Shape{8, 3}).to(d)))), 50.f).backward();
    Tensor norm = nn::clip_grad_norm(mlp, 0.5f);
    CHECK(norm.device() == d);
    if (d == Device::CPU) {
      want_norm = norm.item();
      want_grads = mlp.flat_gradients().to_vector();
      REQUIRE(want_norm > 0.5f);
    } else {
      CHECK(norm.item() == Approx(want_norm).epsilon(1e-5));
      CHECK(nmse(want_grads, mlp.flat_gradients().to_vector()) <= 1e-10);
    }
  }
}

TEST_CASE("CUDA: the host waits for the device only to read from it", "[cuda][ops][staging]") {
  Tensor warm = Tensor::from_vector({1.f}, Shape{1}, Device::CUDA);  // the runtime started
  const uint64_t w0 = cuda::host_waits();
  // Uploads of a batch's size go through the pinned ring: queued, not waited for.
  std::vector<float> batch(64 * 784, 0.5f);
  Tensor a = Tensor::from_vector(batch, Shape{64, 784}, Device::CUDA);
  Tensor b = Generator(1).normal(Shape{64, 784}).to(Device::CUDA);
  Tensor c = add(mul(a, b), b);  // kernels: queued
  CHECK(cuda::host_waits() == w0);
  // Reading a number back waits, once.
  std::vector<float> got = sum(c).to_vector();
  CHECK(cuda::host_waits() == w0 + 1);
  // An upload larger than a quarter of the ring (a checkpoint's weights) is copied in
  // waited-for chunks: one wait.
  std::vector<float> big(size_t{1} << 21, 1.f);
  Tensor g = Tensor::from_vector(big, Shape{static_cast<int64_t>(big.size())}, Device::CUDA);
  CHECK(cuda::host_waits() == w0 + 2);
  // The values made it (the ring's regions were not overwritten before their copies).
  CHECK(a.to_vector() == batch);
  CHECK(sum(g).to_vector()[0] == static_cast<float>(big.size()));
  CHECK(got[0] == Approx(sum(add(mul(a, b), b)).to_vector()[0]));
}
