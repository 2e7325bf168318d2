// Loads a checkpoint trained by ./apps/cfm_image and samples images of one class, using
// flowcpp as a library (only its installed headers and libflowcpp.a):
//
//   c++ -std=c++17 sample_class.cpp $(pkg-config --cflags --libs flowcpp)
//   ./a.out outputs/cfm/mnist/ckpt.safetensors --class 7 --count 16 --out sevens.png
//
// It uses the checkpoint's EMA weights when it has them, integrates N(0, I) images from
// t = 0 to 1 with the midpoint rule, and writes a PNG grid and the images as .npy
// ([count, C, H, W] in [-1, 1]).
#include <cstdio>
#include <filesystem>

#include "apps/cli/main_guard.hpp"
#include "apps/cli/options.hpp"
#include "apps/image/flow.hpp"  // load_unet_for_sampling, sample_images
#include "datasets/npy.hpp"
#include "engine/autograd.hpp"
#include "engine/threads.hpp"
#include "viz/image_grid.hpp"
#include "viz/png.hpp"

using namespace fc;

int run(int argc, char** argv) {
  std::string checkpoint, out = "class_samples.png";
  int64_t cls = 0, count = 16, steps = 20, columns = 8, seed = 0, threads = 0;
  double guidance = 0;
  cxxopts::Options options("sample_class", "Sample one class from a cfm_image checkpoint");
  options.positional_help("CHECKPOINT");
  options.add_options()
      ("checkpoint", "a cfm_image checkpoint (.safetensors)", cxxopts::value(checkpoint))
      ("class", "the class label to sample", cxxopts::value(cls)->default_value("0"))
      ("count", "images to sample", cxxopts::value(count)->default_value("16"))
      ("steps", "midpoint steps from t = 0 to 1", cxxopts::value(steps)->default_value("20"))
      ("guidance", "classifier-free guidance scale (needs a model trained with class dropout)",
       cxxopts::value(guidance)->default_value("0"))
      ("seed", "seed of the starting noise", cxxopts::value(seed)->default_value("0"))
      ("threads", "threads (0: all cores)", cxxopts::value(threads)->default_value("0"))
      ("out", "the PNG grid to write; the .npy goes beside it", cxxopts::value(out)->default_value("class_samples.png"));
  options.parse_positional({"checkpoint"});
  auto given = app::parse_with_help(options, argc, argv);
  if (!given.count("checkpoint")) throw app::UsageError("missing CHECKPOINT (see --help)");
  app::require_positive("count", count);
  app::require_positive("steps", steps);
  set_num_threads(static_cast<int>(threads));

  // 28: the image size to assume only for a checkpoint without metadata (MNIST's).
  std::unique_ptr<nn::UNet> unet = app::load_unet_for_sampling(checkpoint, 28);
  const nn::UNetConfig& cfg = unet->config();
  app::require_range("class", cls, 0, cfg.num_classes - 1);

  NoGradGuard no_grad;
  Generator gen(static_cast<uint64_t>(seed));
  flow::OdeOptions ode;
  ode.step_size = 1.f / static_cast<float>(steps);
  Tensor labels = Tensor::full(Shape{count}, static_cast<float>(cls));
  Tensor images = app::sample_images(*unet, gen, labels, {0.f, 1.f}, ode,
                                     static_cast<float>(guidance), 64)
                      .back();
  viz::write_png(out, viz::image_grid(images, std::min(columns, count)));
  std::string npy = std::filesystem::path(out).replace_extension(".npy").string();
  data::save_npy(npy, images);
  std::printf("wrote %s and %s: %lld images of class %lld (%lldx%lldx%lld)\n", out.c_str(),
              npy.c_str(), static_cast<long long>(count), static_cast<long long>(cls),
              static_cast<long long>(cfg.in_channels), static_cast<long long>(cfg.image_size),
              static_cast<long long>(cfg.image_size));
  return 0;
}

int main(int argc, char** argv) {
  return app::main_guard("sample_class", [&] { return run(argc, argv); });
}
