// flowcpp side of `make bench`: the 2-D CFM training step of the reference recipe
// (draw a checkerboard batch, x_t = (1-t) x0 + t x1, MLP [x_t, t] -> H -> H -> H -> 2
// with SiLU, MSE to x1 - x0, backward, AdamW), or the forward pass alone under no-grad,
// or sampling (--batch points from noise, midpoint, --steps steps), or bare sgemm on the
// step's shapes. --device cuda times it on the GPU (bench/gpu.sh). Prints one JSON line;
// bench/run.sh compares it with bench/torch_mlp.py.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "apps/cli/device.hpp"
#include "apps/cli/main_guard.hpp"
#include "apps/flow2d/mlp_flow.hpp"
#include "bench/bench_util.hpp"
#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "flow/ode.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"

using namespace fc;
using bench::median;
using bench::peak_rss_mb;
using bench::time_it;

namespace {

// The checkerboard of the reference: x in [-2, 2), y in one of the alternating unit
// squares, both divided by 0.45. Same arithmetic as bench/torch_mlp.py.
Tensor checkerboard(Generator& gen, int64_t n) {
  Tensor u = gen.uniform(Shape{n, 2});
  Tensor k = gen.randint(Shape{n}, 0, 2);
  Tensor out = Tensor::empty(Shape{n, 2});
  const float* pu = u.cpu_data();
  const float* pk = k.cpu_data();
  float* po = out.cpu_data();
  for (int64_t i = 0; i < n; ++i) {
    float x = pu[2 * i] * 4.f - 2.f;
    float fl = std::floor(x);
    float parity = fl - 2.f * std::floor(fl / 2.f);
    po[2 * i] = x / 0.45f;
    po[2 * i + 1] = (pu[2 * i + 1] - 2.f * pk[i] + parity) / 0.45f;
  }
  return out;
}

}  // namespace

int run(int argc, char** argv) {
  std::string mode, device_choice;
  int64_t batch = 0, hidden = 0, steps = 20;
  bench::TimingOptions timing;
  cxxopts::Options o("bench_mlp", "The 2-D CFM training step of the reference recipe, its forward "
                                  "pass or its big sgemm, timed; prints one JSON line.");
  o.add_options()
      ("mode", "train, forward, sample or sgemm", cxxopts::value<std::string>(mode)->default_value("train"))
      ("steps", "midpoint steps of --mode sample", cxxopts::value<int64_t>(steps)->default_value("20"))
      ("batch", "points per step", cxxopts::value<int64_t>(batch)->default_value("4096"))
      ("hidden", "the MLP's width", cxxopts::value<int64_t>(hidden)->default_value("512"));
  bench::add_timing_options(o, timing, 20, 3);
  app::add_device_option(o, device_choice);
  bench::parse_options(o, timing, argc, argv);
  bench::require_one_of("mode", mode, {"train", "forward", "sample", "sgemm"});
  app::require_range("batch", batch, 1, 1 << 24);
  app::require_range("hidden", hidden, 1, 1 << 16);
  app::require_range("steps", steps, 1, 10000);
  const Device device = app::resolve_device(device_choice);
  if (mode == "sgemm" && device != Device::CPU)
    throw app::UsageError("option '--mode sgemm': times OpenBLAS's sgemm, on the CPU; use --device cpu");
  const int iters = static_cast<int>(timing.iters), warmup = static_cast<int>(timing.warmup);
  Generator gen(0);
  nn::MLPConfig cfg;
  cfg.hidden = hidden;
  nn::MLP mlp(cfg, gen);
  mlp.to(device);
  nn::AdamW opt(mlp);
  std::vector<double> ms;
  double gflop = 0;

  if (mode == "train") {
    ms = time_it(warmup, iters, [&] {
      // The batch as cfm2d makes it: drawn on the host, x_t, the target and the input
      // (x_t with t appended) made there, then two copies up to the device.
      Tensor x1 = checkerboard(gen, batch);
      Tensor x0 = gen.normal(Shape{batch, 2}, 0.f, 1.f);
      Tensor t = gen.uniform(Shape{batch, 1}, 0.f, 1.f);
      Tensor xt = add(mul(rsub_scalar(1.f, t), x0), mul(t, x1));
      Tensor input = concat({xt, t}, 1).to(device), target = sub(x1, x0).to(device);
      Tensor loss = mse_loss(mlp.forward(input), target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }, device);
    // forward 1x, backward 2x the matmul flops (no input gradient for layer 0)
    double f = 2.0 * batch * (3 * hidden + 2 * hidden * hidden + hidden * 2);
    gflop = 3 * f / 1e9;
  } else if (mode == "forward") {
    Tensor x = gen.normal(Shape{batch, 3}, 0.f, 1.f, device);
    ms = time_it(warmup, iters, [&] {
      NoGradGuard no_grad;
      Tensor y = mlp.forward(x);
    }, device);
    gflop = 2.0 * batch * (3 * hidden + 2 * hidden * hidden + hidden * 2) / 1e9;
  } else if (mode == "sample") {  // what cfm2d's sampling does, on one batch of every point
    flow::OdeOptions ode;
    ode.method = flow::Method::Midpoint;
    ode.step_size = 1.f / static_cast<float>(steps);
    ms = time_it(warmup, iters, [&] {
      NoGradGuard no_grad;
      Tensor x0 = gen.normal(Shape{batch, 2}, 0.f, 1.f, device);
      Tensor x1 = flow::odeint(app::mlp_velocity(mlp), x0, {0.f, 1.f}, ode).states.back();
    }, device);
    gflop = 2.0 * steps * 2.0 * batch * (3 * hidden + 2 * hidden * hidden + hidden * 2) / 1e9;
  } else {  // sgemm: the step's big product, [B, H] x [H, H]^T, as OpenBLAS runs it
    Tensor a = gen.normal(Shape{batch, hidden}), w = gen.normal(Shape{hidden, hidden});
    Tensor c = Tensor::empty(Shape{batch, hidden});
    ms = time_it(warmup, iters, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, hidden, hidden, 1.f, a.data(),
                  hidden, w.data(), hidden, 0.f, c.data(), hidden);
    });
    gflop = 2.0 * batch * hidden * hidden / 1e9;
  }
  double med = median(ms);
  // FLOWCPP_PROFILE=1: where the time of the timed iterations went, on stderr.
  if (profiler::enabled()) profiler::report(stderr);
  MemoryStats mem = memory_stats(device);
  std::printf("{\"impl\": \"flowcpp\", \"device\": \"%s\", \"mode\": \"%s\", \"batch\": %lld, "
              "\"hidden\": %lld, \"steps\": %lld, \"threads\": %d, \"median_ms\": %.4f, \"gflops\": %.2f, "
              "\"peak_rss_mb\": %.1f, \"tensor_peak_mb\": %.1f, \"tensor_active_peak_mb\": %.1f, "
              "\"launches_per_iter\": %.1f, \"times_ms\": [",
              app::describe_device(device).c_str(), mode.c_str(), (long long)batch, (long long)hidden,
              (long long)(mode == "sample" ? steps : 0), num_threads(), med, gflop / (med / 1e3), peak_rss_mb(),
              mem.peak_reserved_bytes / 1048576.0, mem.peak_active_bytes / 1048576.0, bench::launches_per_run());
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.4f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
  return 0;
}

int main(int argc, char** argv) { return app::main_guard("bench_mlp", [&] { return run(argc, argv); }); }
