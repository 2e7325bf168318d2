// The seed corpora of the fuzz targets: small valid files of each kind, made by
// flowcpp's own writers where it has one (safetensors, npy, checkpoints, PNG) and by
// the format's definition otherwise (IDX, CIFAR-10, tar, CSV, the other picture formats).
#include "fuzz/seeds.hpp"

#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/train/state.hpp"
#include "datasets/npy.hpp"
#include "engine/error.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"
#include "nn/unet.hpp"
#include "tests/gzip_bytes.hpp"
#include "tests/pth_writer.hpp"  // the .pth layout, byte for byte
#include "tests/tar_writer.hpp"  // ustar, byte for byte
#include "viz/png.hpp"

namespace fc::fuzz {
namespace {

namespace fs = std::filesystem;

std::string g_root;

std::string seed_path(const std::string& target, const std::string& name) {
  fs::create_directories(g_root + "/" + target);
  return g_root + "/" + target + "/" + name;
}

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  std::ofstream f(seed_path(target, name), std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FC_CHECK(f.good(), "make_seeds: cannot write " << target << "/" << name);
}

Tensor ramp(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.cpu_data()[i] = 0.25f * static_cast<float>(i) - 1.f;
  return t;
}

void safetensors_seeds() {
  nn::save_safetensors(seed_path("safetensors", "empty.safetensors"), {});
  nn::save_safetensors(seed_path("safetensors", "meta_only.safetensors"), {}, {{"model", "mlp"}, {"note", "x"}});
  nn::save_safetensors(seed_path("safetensors", "tensors.safetensors"),
                       {{"a", ramp({2, 3})}, {"b.weight", ramp({1, 1, 2})}, {"scalar", ramp(Shape{})}, {"none", ramp({0, 4})}},
                       {{"k", "v"}});
}

// npy files in the versions and dtypes the reader takes; ours is 1.0 '<f4'.
std::string npy_by_hand(int major, const std::string& descr, const std::string& shape, const std::string& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t len_bytes = major == 1 ? 2 : 4;
  dict.append((64 - (10 + len_bytes - 2 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xff));
  return out + dict + data;
}

void npy_seeds() {
  data::save_npy(seed_path("npy", "vector.npy"), ramp({3}));
  data::save_npy(seed_path("npy", "matrix.npy"), ramp({2, 2}));
  data::save_npy(seed_path("npy", "empty.npy"), ramp({0, 4}));
  data::save_npy(seed_path("npy", "scalar.npy"), ramp(Shape{}));
  const double d[2] = {1.5, -2.0};
  write("npy", "f8_v2.npy", npy_by_hand(2, "<f8", "(2,)", std::string(reinterpret_cast<const char*>(d), 16)));
  write("npy", "f4_v3.npy", npy_by_hand(3, "<f4", "(1, 1)", std::string(4, '\0')));
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  return s;
}

void idx_seeds() {
  std::string images = be32(0x803) + be32(2) + be32(3) + be32(4);
  for (int i = 0; i < 24; ++i) images.push_back(static_cast<char>(i * 10));
  const std::string labels = be32(0x801) + be32(5) + std::string("\x00\x01\x09\x03\x07", 5);
  write("idx", "images", images);
  write("idx", "labels", labels);
  write("idx", "images.gz", gzip_bytes(images));
  write("idx", "labels.gz", gzip_bytes(labels));
  write("idx_gz", "images", images);
  write("idx_gz", "labels", labels);
}

void cifar10_seeds() {
  std::string rec(3073, '\0');
  for (int i = 1; i < 3073; ++i) rec[i] = static_cast<char>(i % 251);
  rec[0] = 3;
  write("cifar10", "one_batch.bin", rec);
  rec[0] = 9;
  write("cifar10", "two_batch.bin", rec + rec);
  write("cifar10", "batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
}

// The CIFAR-10 tarball's shape (a folder, batch files), and each kind of name.
void tar_seeds() {
  std::string rec(3073, '\x05');
  const std::string plain = tar::folder("cifar-10-batches-bin/") + tar::member("cifar-10-batches-bin/data_batch_1.bin", rec) +
                            tar::member("cifar-10-batches-bin/batches.meta.txt", "airplane\nautomobile\n") + tar::end();
  write("tar", "cifar.tar", plain);
  write("tar", "cifar.tar.gz", gzip_bytes(plain));
  write("tar", "names.tar",
        tar::long_name(std::string(120, 'l') + ".bin", "long") + tar::pax_path("pax/p.bin", "pax") +
            tar::member(std::string(60, 'a') + "/" + std::string(70, 'b'), "ustar prefix") + tar::member("ln", "", '2') +
            tar::end());
}

// A picture with dark and light pixels, in each format stb_image reads that we can write.
void image_seeds() {
  const int w = 5, h = 3;
  viz::Canvas canvas(w, h);
  canvas.set(1, 1, viz::RGB{0, 0, 0});
  canvas.set(3, 2, viz::RGB{40, 80, 120});
  for (const char* target : {"image", "folder"}) {
    viz::write_png(seed_path(target, "rgb.png"), canvas);
    std::vector<unsigned char> grey(w * h), rgba(4 * w * h);
    for (int i = 0; i < w * h; ++i) {
      grey[i] = static_cast<unsigned char>(255 - 17 * i);
      for (int c = 0; c < 4; ++c) rgba[4 * i + c] = static_cast<unsigned char>(c == 3 ? 128 + i : 9 * i + 50 * c);
    }
    stbi_write_png(seed_path(target, "grey.png").c_str(), w, h, 1, grey.data(), w);
    stbi_write_png(seed_path(target, "rgba.png").c_str(), w, h, 4, rgba.data(), 4 * w);
    stbi_write_bmp(seed_path(target, "rgb.bmp").c_str(), w, h, 4, rgba.data());
    stbi_write_jpg(seed_path(target, "rgb.jpg").c_str(), w, h, 4, rgba.data(), 90);
    stbi_write_tga(seed_path(target, "rgb.tga").c_str(), w, h, 1, grey.data());
  }
}

void points_seeds() {
  write("points", "header.csv", "x,y\n0.5,-1.25\n3,4e-3\n-2.5,1\n");
  write("points", "spaces.csv", "# comment\n1 2\n\t-3.5   7\n1e2 -1e-2\r\n");
  write("points", "bare.csv", "0,0\n");
}

// A UNet checkpoint as cfm_image writes it (config in the metadata), the same
// parameters without metadata (a converted reference checkpoint), and with the
// reference fixtures' metadata keys.
void unet_seeds() {
  nn::UNetConfig c;
  c.in_channels = c.out_channels = 1;
  c.image_size = 8;
  c.model_channels = 32;
  c.num_res_blocks = 1;
  c.channel_mult = {1};
  c.attention_resolutions = {};
  c.num_classes = 2;
  Generator init(3);
  nn::UNet unet(c, init);
  std::vector<nn::NamedTensor> params;
  for (auto& [name, t] : unet.named_parameters()) params.push_back({name, *t});
  nn::save_safetensors(seed_path("unet_config", "with_metadata.safetensors"), params, c.to_metadata());
  nn::save_safetensors(seed_path("unet_config", "state_dict.safetensors"), params);
  std::map<std::string, std::string> reference = c.to_metadata();  // the reference fixtures' keys
  reference.erase("model");
  reference.erase("attention_ds");
  reference["attention_resolutions"] = "16";
  nn::save_safetensors(seed_path("unet_config", "reference_metadata.safetensors"), params, reference);
}

// cfm2d's checkpoint of the MLP the train_state target resumes (hidden 8, 2 layers).
void train_state_seeds() {
  nn::MLPConfig c;
  c.hidden = 8;
  c.hidden_layers = 2;
  Generator init(1);
  nn::MLP mlp(c, init);
  nn::AdamW opt(mlp);
  Generator gen(5);
  std::map<std::string, std::string> meta = c.to_metadata();
  meta["dataset"] = "checkerboard";
  app::TrainState state;
  app::save_train_checkpoint(seed_path("train_state", "fresh.safetensors"), mlp, &opt, gen, state, meta);
  for (int64_t i = 0; i < opt.exp_avg().numel(); ++i) opt.exp_avg().cpu_data()[i] = 0.001f * static_cast<float>(i);
  opt.set_steps(3);
  gen.normal(Shape{4});
  state.iteration = 3;
  state.losses = {1.5f, 1.25f, 1.0f};
  app::save_train_checkpoint(seed_path("train_state", "three_steps.safetensors"), mlp, &opt, gen, state, meta);
}

// CelebA's zip: one face deflated (as zip(1) writes it), stored, and in Kaggle's
// doubled folder.
void zip_seeds() {
  const int w = 6, h = 8;
  std::vector<unsigned char> rgb(static_cast<size_t>(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>(i * 13);
  std::string jpg;
  stbi_write_jpg_to_func([](void* out, void* data, int n) { static_cast<std::string*>(out)->append(static_cast<char*>(data), n); },
                         &jpg, w, h, 3, rgb.data(), 90);
  write("zip", "deflated.zip", pth::zip_members({{"img_align_celeba/", ""}, {"img_align_celeba/000001.jpg", jpg}}, true));
  write("zip", "stored.zip", pth::zip_members({{"img_align_celeba/000001.jpg", jpg}, {"img_align_celeba/000002.jpg", jpg}}));
  write("zip", "kaggle.zip", pth::zip_members({{"img_align_celeba/img_align_celeba/000001.jpg", jpg}}, true));
}

// .pth files as torch.save writes them (tests/pth_writer.hpp): the reference's MLP
// shape at width 8, and a two-tensor state_dict under another archive name.
void pth_seeds() {
  nn::MLPConfig c;
  c.hidden = 8;
  Generator init(4);
  nn::MLP mlp(c, init);
  std::vector<pth::TensorSpec> specs;
  for (auto& [name, t] : mlp.named_parameters()) specs.push_back({name, t->shape().vec(), t->to_vector()});
  write("pth", "mlp.pth", pth::pth_bytes(specs));
  write("pth", "archive.pth",
        pth::pth_bytes({{"layers.0.weight", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"layers.0.bias", {2}, {0.5f, -0.5f}},
                        {"layers.2.weight", {2, 2}, {1, 0, 0, 1}}, {"layers.2.bias", {2}, {0, 0}}},
                       "archive"));
}

}  // namespace

void write_seeds(const std::string& dir) {
  g_root = dir;
  safetensors_seeds();
  npy_seeds();
  idx_seeds();
  cifar10_seeds();
  tar_seeds();
  zip_seeds();
  image_seeds();
  points_seeds();
  unet_seeds();
  train_state_seeds();
  pth_seeds();
}

}  // namespace fc::fuzz
