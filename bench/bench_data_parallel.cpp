// Data-parallel training steps and the all-reduce under them (engine/dist.hpp):
//   bench_data_parallel --model unet|mlp    one training step at a global batch, split
//       over the ranks (run it alone, or under mpirun -np N); prints one JSON line (rank
//       0): the median step and the median of its gradient all-reduce.
//   bench_data_parallel --model allreduce   the all-reduce alone over buffers of 1 KiB to
//       16 MiB and the 64-channel UNet's gradients: one JSON line per size with the
//       median time and the bus bandwidth
//       2 (N - 1) / N * bytes / time (what a ring moves per rank).
// The quick UNet is cfm_image's quick preset (32 channels, 1 res block, attention at
// the coarsest level, MNIST 28x28, batch 64); the paper 2-D step is cfm2d's (MLP width
// 512, batch 4096).
#include <cxxopts.hpp>

#include <chrono>
#include <cstdio>

#include "apps/cli/main_guard.hpp"
#include "apps/cli/number_text.hpp"
#include "bench/bench_util.hpp"
#include "engine/autograd.hpp"
#include "engine/dist.hpp"
#include "engine/ops.hpp"
#include "engine/random.hpp"
#include "nn/data_parallel.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "nn/unet.hpp"

using namespace fc;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void allreduce_sweep(const bench::TimingOptions& timing) {
  const int n = dist::size();
  std::vector<int64_t> sizes;
  for (int64_t bytes = 1024; bytes <= (int64_t{16} << 20); bytes *= 4) sizes.push_back(bytes);
  // And the gradients of the paper's 64-channel MNIST UNet.
  Generator init(0);
  sizes.push_back(4 * nn::UNet(nn::UNetConfig::mnist(64), init).num_parameters());
  for (int64_t bytes : sizes) {
    std::vector<float> buf(static_cast<size_t>(bytes / 4), 1.f);
    std::vector<double> ms;
    for (int64_t i = 0; i < timing.warmup + timing.iters; ++i) {
      dist::barrier();
      auto t0 = Clock::now();
      dist::all_reduce_sum(buf.data(), static_cast<int64_t>(buf.size()));
      if (i >= timing.warmup) ms.push_back(ms_since(t0));
    }
    double med = bench::median(ms);
    double bus = n > 1 ? 2.0 * (n - 1) / n * static_cast<double>(bytes) / (med * 1e-3) / 1e9 : 0;
    if (dist::is_root())
      std::printf("{\"case\": \"allreduce\", \"ranks\": %d, \"bytes\": %lld, \"median_ms\": %.4f, "
                  "\"bus_gb_per_s\": %.3f}\n",
                  n, static_cast<long long>(bytes), med, bus);
  }
}

int run(int argc, char** argv) {
  std::string model;
  int64_t batch = 0;
  double bucket_mb = 0;
  bench::TimingOptions timing;
  cxxopts::Options o("bench_data_parallel", "A data-parallel training step, or the all-reduce alone, timed "
                                            "(run under mpirun -np N for N ranks).");
  o.add_options()
      ("model", "unet (cfm_image quick), mlp (cfm2d paper) or allreduce",
       cxxopts::value<std::string>(model)->default_value("mlp"))
      ("batch", "global batch (0: the preset's, 64 for unet, 4096 for mlp)",
       cxxopts::value<int64_t>(batch)->default_value("0"))
      ("bucket-mb", "under mpirun: all-reduce in buckets of this many MiB overlapped with backward, as the "
                    "programs do (0: one all-reduce after backward, timed apart)",
       cxxopts::value<double>(bucket_mb)->default_value("0"));
  bench::add_timing_options(o, timing, 5, 1);
  bench::parse_options(o, timing, argc, argv);
  bench::require_one_of("model", model, {"unet", "mlp", "allreduce"});
  dist::init();
  if (model == "allreduce") {
    allreduce_sweep(timing);
    return 0;
  }
  if (batch == 0) batch = model == "unet" ? 64 : 4096;
  app::require_batch_split("batch", batch);
  if (!(bucket_mb >= 0 && bucket_mb <= 1024))
    throw app::UsageError("option '--bucket-mb': must be in [0, 1024], got " + app::fmt(bucket_mb));
  const dist::Rows rows = dist::my_rows(batch);
  const int64_t local = rows.count();

  Generator gen(0);
  std::unique_ptr<nn::Module> net;
  nn::UNet* unet = nullptr;
  Shape x_shape;
  if (model == "unet") {
    nn::UNetConfig cfg = nn::UNetConfig::mnist(32);
    cfg.num_res_blocks = 1;
    cfg.attention_resolutions = {1 << (cfg.channel_mult.size() - 1)};
    auto u = std::make_unique<nn::UNet>(cfg, gen);
    unet = u.get();
    net = std::move(u);
    x_shape = Shape{local, cfg.in_channels, cfg.image_size, cfg.image_size};
  } else {
    nn::MLPConfig mc;
    mc.hidden = 512;
    net = std::make_unique<nn::MLP>(mc, gen);
    x_shape = Shape{local, 3};
  }
  net->flatten_parameters();
  nn::AdamW opt(*net);
  // The data is drawn once: the benchmark times the model and the all-reduce.
  Tensor x = gen.normal(x_shape);
  Shape target_shape = x_shape;
  if (!unet) target_shape = Shape{local, 2};
  Tensor target = gen.normal(target_shape);
  Tensor t = gen.uniform(Shape{local}), y = gen.randint(Shape{local}, 0, 10);
  std::vector<double> reduce_ms;
  double reduce_this_step = 0;
  std::vector<double> ms = bench::time_it(static_cast<int>(timing.warmup), static_cast<int>(timing.iters), [&] {
    opt.zero_grad();
    Tensor out = unet ? unet->forward(x, t, y) : net->forward(x);
    Tensor loss = mse_loss(out, target);
    if (bucket_mb > 0) {  // overlapped: the all-reduce cannot be timed apart from backward
      nn::backward_and_average(*net, loss, static_cast<int64_t>(bucket_mb * 1048576.0));
      reduce_this_step = -1;
    } else {
      loss.backward();
      auto t0 = Clock::now();
      nn::average_gradients(*net);
      reduce_this_step = ms_since(t0);
    }
    if (unet) nn::clip_grad_norm(*net, 1.f);
    opt.step();
    reduce_ms.push_back(reduce_this_step);
  });
  reduce_ms.erase(reduce_ms.begin(), reduce_ms.begin() + timing.warmup);
  const double step = bench::median(ms), reduce = bench::median(reduce_ms);
  if (dist::is_root())
    std::printf("{\"case\": \"dp_%s\", \"ranks\": %d, \"threads\": %d, \"batch\": %lld, \"params\": %lld, "
                "\"bucket_mb\": %g, \"median_step_ms\": %.2f, \"median_allreduce_ms\": %.3f, "
                "\"allreduce_share\": %.4f}\n",
                model.c_str(), dist::size(), num_threads(), static_cast<long long>(batch),
                static_cast<long long>(net->num_parameters()), bucket_mb, step, reduce, reduce > 0 ? reduce / step : -1.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return app::main_guard("bench_data_parallel", [&] { return run(argc, argv); });
}
