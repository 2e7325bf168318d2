// flowcpp side of `make bench` for the image model: one training step of the reference
// recipe (UNet forward on x_t, MSE to a target, backward, clipping at 1.0, AdamW lr
// 1e-3) or one forward pass alone under no-grad, at batch 128 on MNIST's 1x28x28 or
// CIFAR's 3x32x32, at 32 or 64 base channels. Prints one JSON line (the fields of
// bench_mlp); bench/run.sh compares it with bench/torch_unet.py. FLOWCPP_PROFILE=1
// prints where the time of the timed iterations went. On CUDA, --attention gemm times
// the cuBLAS form of attention instead of the tiled kernels (bench/gpu.sh runs both).
#include <cstdio>
#include <string>
#include <vector>

#include "apps/cli/device.hpp"
#include "apps/cli/main_guard.hpp"
#include "bench/bench_util.hpp"
#include "engine/allocator.hpp"
#include "engine/autograd.hpp"
#include "engine/cuda/backend.hpp"
#include "engine/ops.hpp"
#include "engine/profiler.hpp"
#include "engine/random.hpp"
#include "engine/threads.hpp"
#include "nn/optim.hpp"
#include "nn/unet.hpp"

using namespace fc;

int run(int argc, char** argv) {
  std::string mode, dataset, device_choice, attention;
  int64_t batch = 0, channels = 0;
  bench::TimingOptions timing;
  cxxopts::Options o("bench_unet", "One UNet training step or forward pass of the reference recipe, "
                                   "timed; prints one JSON line.");
  o.add_options()
      ("mode", "train or forward", cxxopts::value<std::string>(mode)->default_value("train"))
      ("dataset", "mnist (1x28x28) or cifar (3x32x32)", cxxopts::value<std::string>(dataset)->default_value("mnist"))
      ("batch", "images per step", cxxopts::value<int64_t>(batch)->default_value("128"))
      ("channels", "the UNet's base channels", cxxopts::value<int64_t>(channels)->default_value("64"))
      ("attention", "CUDA attention: tiled (online softmax, d <= 64 a head) or gemm (cuBLAS, t x t weights)",
       cxxopts::value<std::string>(attention)->default_value("tiled"));
  bench::add_timing_options(o, timing, 3, 1);
  app::add_device_option(o, device_choice);
  bench::parse_options(o, timing, argc, argv);
  bench::require_one_of("mode", mode, {"train", "forward"});
  bench::require_one_of("dataset", dataset, {"mnist", "cifar"});
  bench::require_one_of("attention", attention, {"tiled", "gemm"});
  cuda::set_attention_kernel(attention == "gemm" ? cuda::AttentionKernel::gemm : cuda::AttentionKernel::tiled);
  app::require_range("batch", batch, 1, 1 << 16);
  app::require_range("channels", channels, 32, 1024);
  const int iters = static_cast<int>(timing.iters), warmup = static_cast<int>(timing.warmup);
  const Device device = app::resolve_device(device_choice);
  Generator gen(0);
  nn::UNetConfig cfg = dataset == "mnist" ? nn::UNetConfig::mnist(channels)
                                          : nn::UNetConfig::cifar10(channels);
  nn::UNet model(cfg, gen);
  model.to(device);
  model.flatten_parameters();
  nn::AdamW opt(model);
  const Shape image{batch, cfg.in_channels, cfg.image_size, cfg.image_size};
  // The data is drawn once: the benchmark times the model, not the sampler.
  Tensor x = gen.normal(image, 0.f, 1.f, device), target = gen.normal(image, 0.f, 1.f, device);
  Tensor t = gen.uniform(Shape{batch}, 0.f, 1.f, device), y = gen.randint(Shape{batch}, 0, cfg.num_classes, device);
  std::vector<double> ms;
  if (mode == "train") {
    ms = bench::time_it(warmup, iters, [&] {
      opt.zero_grad();
      Tensor loss = mse_loss(model.forward(x, t, y), target);
      loss.backward();
      nn::clip_grad_norm(model, 1.f);
      opt.step();
    }, device);
  } else {
    model.train(false);
    ms = bench::time_it(warmup, iters, [&] {
      NoGradGuard no_grad;
      Tensor v = model.forward(x, t, y);
    }, device);
  }
  double med = bench::median(ms);
  if (profiler::enabled()) profiler::report(stderr);
  MemoryStats mem = memory_stats(device);
  std::printf("{\"impl\": \"flowcpp\", \"device\": \"%s\", \"mode\": \"%s\", \"dataset\": \"%s\", "
              "\"attention\": \"%s\", \"channels\": %lld, "
              "\"batch\": %lld, \"threads\": %d, \"params\": %lld, \"median_ms\": %.2f, "
              "\"peak_rss_mb\": %.1f, \"tensor_peak_mb\": %.1f, \"tensor_active_peak_mb\": %.1f, "
              "\"launches_per_iter\": %.1f, \"times_ms\": [",
              app::describe_device(device).c_str(), mode.c_str(), dataset.c_str(), attention.c_str(), (long long)channels, (long long)batch, num_threads(),
              (long long)model.num_parameters(), med, bench::peak_rss_mb(),
              mem.peak_reserved_bytes / 1048576.0, mem.peak_active_bytes / 1048576.0, bench::launches_per_run());
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.2f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
  return 0;
}

int main(int argc, char** argv) { return app::main_guard("bench_unet", [&] { return run(argc, argv); }); }
