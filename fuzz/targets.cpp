#include "fuzz/targets.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "apps/flow2d/mlp_flow.hpp"
#include "apps/flow2d/train.hpp"
#include "apps/train/state.hpp"
#include "datasets/celeba.hpp"
#include "datasets/cifar10.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_file.hpp"
#include "datasets/image_folder.hpp"
#include "datasets/npy.hpp"
#include "datasets/tar_archive.hpp"
#include "datasets/toy2d.hpp"
#include "engine/error.hpp"
#include "engine/zip_archive.hpp"
#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"
#include "nn/unet.hpp"
#include "tests/gzip_bytes.hpp"  // the .gz the idx_gz target reads

namespace fc::fuzz {
namespace {

namespace fs = std::filesystem;

struct Bytes {
  const uint8_t* data;
  size_t size;
  std::string str() const { return std::string(reinterpret_cast<const char*>(data), size); }
};

#define FUZZ_EXPECT(cond, msg)                                   \
  do {                                                           \
    if (!(cond)) {                                               \
      std::ostringstream fuzz_oss_;                              \
      fuzz_oss_ << __func__ << ": " << #cond << ": " << msg;     \
      throw Violation(fuzz_oss_.str());                          \
    }                                                            \
  } while (0)

// One scratch folder per process (tmpfs when there is one: the loaders take paths, and
// every input is written out before it is read).
const std::string& scratch() {
  // Never freed, so that the removal at exit still has the name.
  static const std::string* dir = [] {
    std::error_code ec;
    std::string base = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path().string();
    auto* d = new std::string(base + "/flowcpp-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(*d);
    std::atexit([] {
      std::error_code e;
      fs::remove_all(scratch(), e);
    });
    return d;
  }();
  return *dir;
}

std::string write_input(const std::string& name, const std::string& bytes) {
  const std::string path = scratch() + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.good()) throw std::runtime_error("fuzz: cannot write " + path);
  return path;
}

// How many loads of the current input were accepted (and checked).
int g_accepted = 0;

// Runs `body`, treating fc::Error as the loader's (legitimate) refusal.
void refused_or_checked(const std::function<void()>& body) {
  try {
    body();
    ++g_accepted;
  } catch (const Error& e) {
    FUZZ_EXPECT(std::strchr(e.what(), '\n') == nullptr, "error message is not one line: " << e.what());
  }
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         (a.numel() == 0 || std::memcmp(a.cpu_data(), b.cpu_data(), static_cast<size_t>(a.numel()) * 4) == 0);
}

uint64_t le_u64(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// ---- safetensors -------------------------------------------------------------------

// The tensors' bytes fit in the data section, and saving what was loaded and loading
// it again gives the same names, shapes, bits and metadata.
void check_safetensors_file(const nn::SafetensorsFile& f, Bytes in) {
  FUZZ_EXPECT(in.size >= 8, "a file of " << in.size << " bytes loaded");
  const uint64_t data_size = in.size - 8 - le_u64(in.data, 8);
  uint64_t total = 0;
  for (const nn::NamedTensor& t : f.tensors) {
    FUZZ_EXPECT(!t.name.empty() && t.name != "__metadata__", "tensor name '" << t.name << "'");
    FUZZ_EXPECT(t.tensor.numel() >= 0, "negative numel");
    total += static_cast<uint64_t>(t.tensor.numel()) * 4;
  }
  FUZZ_EXPECT(total <= data_size, total << " tensor bytes in a data section of " << data_size);
  const std::string again = scratch() + "/again.safetensors";
  nn::save_safetensors(again, f.tensors, f.metadata);
  nn::SafetensorsFile g = nn::load_safetensors(again);
  FUZZ_EXPECT(g.metadata == f.metadata, "metadata changed in a round trip");
  FUZZ_EXPECT(g.tensors.size() == f.tensors.size(), "tensor count changed in a round trip");
  for (size_t i = 0; i < g.tensors.size(); ++i)
    FUZZ_EXPECT(g.tensors[i].name == f.tensors[i].name && same_bits(g.tensors[i].tensor, f.tensors[i].tensor),
                "tensor '" << f.tensors[i].name << "' changed in a round trip");
}

void target_safetensors(Bytes in) {
  const std::string path = write_input("in.safetensors", in.str());
  refused_or_checked([&] { check_safetensors_file(nn::load_safetensors(path), in); });
}

// ---- npy ---------------------------------------------------------------------------

void target_npy(Bytes in) {
  const std::string path = write_input("in.npy", in.str());
  refused_or_checked([&] {
    Tensor t = data::load_npy(path);
    FUZZ_EXPECT(in.size >= 10, "a file of " << in.size << " bytes loaded");
    const int len_bytes = in.data[6] == 1 ? 2 : 4;
    const uint64_t data_begin = 8 + len_bytes + le_u64(in.data + 8, len_bytes);
    const uint64_t have = in.size - data_begin, n = static_cast<uint64_t>(t.numel());
    FUZZ_EXPECT(have == 4 * n || have == 8 * n, have << " data bytes for " << n << " elements");
    if (have == 4 * n && have != 8 * n)  // '<f4': the floats are the file's bytes
      FUZZ_EXPECT(std::memcmp(t.cpu_data(), in.data + data_begin, have) == 0, "data differs from the file");
    const std::string again = scratch() + "/again.npy";
    data::save_npy(again, t);
    FUZZ_EXPECT(same_bits(data::load_npy(again), t), "round trip changed the array");
  });
}

// ---- IDX ---------------------------------------------------------------------------

// `content` is what the file holds once decompressed.
void check_idx(const std::string& path, const std::string& content) {
  const auto* c = reinterpret_cast<const uint8_t*>(content.data());
  refused_or_checked([&] {
    data::IdxImages im = data::read_idx_images(path);
    FUZZ_EXPECT(im.rows > 0 && im.cols > 0 && im.count >= 0, im.count << "x" << im.rows << "x" << im.cols);
    FUZZ_EXPECT(content.size() == 16 + im.pixels.size() &&
                    im.pixels.size() == static_cast<uint64_t>(im.count * im.rows * im.cols),
                im.pixels.size() << " pixels for " << im.count << "x" << im.rows << "x" << im.cols << " from "
                                 << content.size() << " bytes");
    FUZZ_EXPECT(std::equal(im.pixels.begin(), im.pixels.end(), c + 16), "pixels differ from the file");
  });
  refused_or_checked([&] {
    std::vector<int32_t> labels = data::read_idx_labels(path, 10);
    FUZZ_EXPECT(content.size() == 8 + labels.size(), labels.size() << " labels from " << content.size() << " bytes");
    for (size_t i = 0; i < labels.size(); ++i)
      FUZZ_EXPECT(labels[i] == c[8 + i] && labels[i] < 10, "label " << i << " is " << labels[i]);
  });
}

// The bytes as they are: raw IDX, and (from the seeds) gzip streams, whole or damaged.
void target_idx(Bytes in) {
  const std::string bytes = in.str();
  const std::string path = write_input("in-idx3-ubyte", bytes);
  const bool gzip = in.size >= 2 && in.data[0] == 0x1f && in.data[1] == 0x8b;
  if (!gzip) {
    check_idx(path, bytes);
    return;
  }
  // Damaged gzip: each reader refuses it or returns what the header says.
  refused_or_checked([&] {
    data::IdxImages im = data::read_idx_images(path);
    FUZZ_EXPECT(im.pixels.size() == static_cast<uint64_t>(im.count * im.rows * im.cols),
                im.pixels.size() << " pixels for " << im.count << "x" << im.rows << "x" << im.cols);
  });
  refused_or_checked([&] {
    for (int32_t l : data::read_idx_labels(path, 10)) FUZZ_EXPECT(l >= 0 && l < 10, "label " << l);
  });
}

// The bytes are the decompressed content of a valid .gz file.
void target_idx_gz(Bytes in) {
  const std::string raw = in.str();
  check_idx(write_input("in-idx3-ubyte.gz", gzip_bytes(raw)), raw);
}

// ---- CIFAR-10 ----------------------------------------------------------------------

void target_cifar10(Bytes in) {
  const std::string path = write_input("data_batch_1.bin", in.str());
  refused_or_checked([&] {
    data::ImageDataset ds;
    ds.channels = 3;
    ds.height = ds.width = 32;
    data::append_cifar10_batch(path, ds);
    const size_t records = in.size / data::kCifarRecordBytes;
    FUZZ_EXPECT(in.size % data::kCifarRecordBytes == 0 && ds.labels.size() == records &&
                    ds.pixels.size() == records * (data::kCifarRecordBytes - 1),
                ds.labels.size() << " labels, " << ds.pixels.size() << " pixels from " << in.size << " bytes");
    for (size_t r = 0; r < records; ++r) {
      const uint8_t* rec = in.data + r * data::kCifarRecordBytes;
      FUZZ_EXPECT(ds.labels[r] == rec[0] && ds.labels[r] < 10, "label of record " << r);
      FUZZ_EXPECT(std::memcmp(ds.pixels.data() + r * 3072, rec + 1, 3072) == 0, "pixels of record " << r);
    }
  });
  // The same bytes as batches.meta.txt.
  const std::string meta = write_input("batches.meta.txt", in.str());
  refused_or_checked([&] {
    std::vector<std::string> names = data::read_cifar10_class_names(meta);
    FUZZ_EXPECT(names.size() == 10, names.size() << " class names");
    for (const std::string& n : names)
      FUZZ_EXPECT(!n.empty() && n.find('\n') == std::string::npos && n.front() != ' ' && n.back() != ' ',
                  "class name '" << n << "'");
  });
}

// ---- tar (the CIFAR-10 tarball) ----------------------------------------------------

std::set<std::string> entries_of(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) names.insert(it->path().string());
  return names;
}

// Unpacked into a folder of its own: every file it reports is there, a regular file of
// the size reported, nothing else is (no link, no file it did not report), and nothing
// appeared beside the folder.
void target_tar(Bytes in) {
  const std::string path = write_input("in.tar", in.str());
  const std::string out = scratch() + "/tar_out";
  std::error_code ec;
  fs::remove_all(out, ec);
  const std::set<std::string> before = entries_of(scratch());
  refused_or_checked([&] {
    const data::TarContents c = data::extract_tar(path, out);
    std::set<std::string> reported;
    for (const data::TarFile& f : c.files) {
      const fs::path p = fs::path(out) / f.name;
      FUZZ_EXPECT(!f.name.empty() && f.name[0] != '/' && reported.insert(p.string()).second, "file '" << f.name << "'");
      FUZZ_EXPECT(fs::is_regular_file(fs::symlink_status(p)) && fs::file_size(p) == f.size,
                  "'" << f.name << "' is not a file of " << f.size << " bytes");
    }
    for (fs::recursive_directory_iterator it(out), end; it != end; ++it) {
      FUZZ_EXPECT(!it->is_symlink(), "a link was made: " << it->path().string());
      FUZZ_EXPECT(it->is_directory() || reported.count(it->path().string()) == 1,
                  "an unreported file: " << it->path().string());
    }
  });
  std::set<std::string> after = entries_of(scratch());
  after.erase(out);
  FUZZ_EXPECT(after == before, "the archive wrote beside its folder");
}

// ---- zip (CelebA's img_align_celeba.zip; .pth files are the pth target's) ----------

// Every member read (stored or inflated) is exactly the size the directory says, its
// CRC-32 checked, and together no more than deflate can make of the file; then the
// archive as CelebA: a partition listing 000001.jpg, read at 8 x 8.
void target_zip(Bytes in) {
  const std::string dir = scratch() + "/celeba";
  fs::create_directories(dir);
  const std::string path = write_input("celeba/img_align_celeba.zip", in.str());
  refused_or_checked([&] {
    io::ZipArchive zip(path, io::ZipMethods::StoredOrDeflated);
    for (const io::ZipEntry& e : zip.entries()) {
      FUZZ_EXPECT(e.data_offset + e.compressed_size <= in.size, "member '" << e.name << "' lies past the file");
      FUZZ_EXPECT(e.method == 8 || e.size == e.compressed_size, "stored member '" << e.name << "' has two sizes");
      FUZZ_EXPECT(e.size <= e.compressed_size * 1032 + 1024, "member '" << e.name << "' claims " << e.size);
      std::vector<uint8_t> buf(static_cast<size_t>(e.size));
      refused_or_checked([&] { zip.read(e, buf.data()); });
    }
  });
  std::ofstream(dir + "/list_eval_partition.txt") << "000001.jpg 0\n";
  refused_or_checked([&] {
    data::ImageLoadOptions small;
    small.height = small.width = 8;
    const data::ImageDataset ds = data::load_celeba(scratch(), data::Split::Train, small);
    FUZZ_EXPECT(ds.size() == 1 && ds.pixels.size() == 3 * 64, ds.size() << " faces");
  });
}

// ---- images: image: and folder: ----------------------------------------------------

// Samples from a density must be finite points of [-4, 4]^2 (image:) or finite (points:).
void check_samples(const data::Toy2d& density, double bound) {
  Generator gen(7);
  Tensor s = density.sample(64, gen);
  FUZZ_EXPECT(s.ndim() == 2 && s.dim(0) == 64 && s.dim(1) == 2, "sample shape " << s.shape());
  for (float v : s.to_vector()) FUZZ_EXPECT(std::isfinite(v) && std::fabs(v) <= bound, "sample value " << v);
}

void target_image(Bytes in) {
  const std::string path = write_input("in.png", in.str());
  // The reference's picture density: a Gaussian of std 4 / (pixels) around each pixel
  // centre in [-4, 4]; a one-pixel picture has std 4, and 64 draws stay within 8 std.
  refused_or_checked([&] { check_samples(data::Toy2d("image:" + path), 4.0 + 8 * 4.0); });
}

// A folder dataset of one class holding this one file, read at its own size in RGB
// (checked pixel by pixel against a decode from memory) and resized to grey 5x7.
void target_folder(Bytes in) {
  const std::string root = scratch() + "/folder";
  fs::create_directories(root + "/cls");
  const std::string path = root + "/cls/in.png";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(in.data), static_cast<std::streamsize>(in.size));
  }
  refused_or_checked([&] {
    data::ImageLoadOptions rgb;
    rgb.channels = 3;
    data::ImageDataset ds = data::load_image_folder(root, rgb);
    FUZZ_EXPECT(ds.size() == 1 && ds.labels[0] == 0 && ds.class_names == std::vector<std::string>{"cls"},
                ds.size() << " images");
    FUZZ_EXPECT(ds.channels == 3 && ds.height > 0 && ds.width > 0 &&
                    ds.pixels.size() == static_cast<size_t>(3 * ds.height * ds.width),
                ds.pixels.size() << " bytes for 3x" << ds.height << "x" << ds.width);
    const std::vector<uint8_t> bytes(in.data, in.data + in.size);
    const data::DecodedImage mem = data::decode_image_bytes("memory", bytes, 3);
    const int w = mem.width, h = mem.height;
    FUZZ_EXPECT(w == ds.width && h == ds.height, "decoding from memory gives " << w << "x" << h);
    const int64_t hw = static_cast<int64_t>(w) * h;
    for (int64_t i = 0; i < hw; ++i)
      for (int k = 0; k < 3; ++k)
        FUZZ_EXPECT(ds.pixels[k * hw + i] == mem.pixels.get()[3 * i + k], "pixel " << i << " channel " << k);
    data::ImageLoadOptions small;
    small.channels = 1;
    small.height = 5;
    small.width = 7;
    small.filter = data::ResizeFilter::Bilinear;
    data::ImageDataset g = data::load_image_folder(root, small);
    FUZZ_EXPECT(g.size() == 1 && g.channels == 1 && g.height == 5 && g.width == 7 && g.pixels.size() == 35,
                g.pixels.size() << " bytes for grey 5x7");
  });
}

// ---- points CSV --------------------------------------------------------------------

void target_points(Bytes in) {
  const std::string path = write_input("in.csv", in.str());
  refused_or_checked([&] { check_samples(data::Toy2d("points:" + path), HUGE_VAL); });
}

// ---- UNet configuration from a checkpoint ------------------------------------------

// As cfm_image does to sample: the config from the checkpoint (its metadata, or without
// metadata the parameter shapes), then the UNet built and its parameters loaded.
void target_unet_config(Bytes in) {
  const std::string path = write_input("in.safetensors", in.str());
  nn::SafetensorsFile f;
  nn::UNetConfig cfg;
  bool have_config = false;
  refused_or_checked([&] {
    f = nn::load_safetensors(path);
    cfg = nn::UNetConfig::from_checkpoint(f, 8);
    FUZZ_EXPECT(cfg.in_channels > 0 && cfg.out_channels > 0 && cfg.model_channels > 0 && cfg.num_res_blocks > 0 &&
                    !cfg.channel_mult.empty() && cfg.num_classes >= 0,
                "config accepted with a non-positive size");
    if (!f.metadata.empty())  // what was read writes back as the same keys
      FUZZ_EXPECT(nn::UNetConfig::from_metadata(cfg.to_metadata()).to_metadata() == cfg.to_metadata(),
                  "metadata round trip");
    have_config = true;
  });
  if (!have_config) return;
  // from_checkpoint bounds the model by the file's size, so building it is safe.
  refused_or_checked([&] {
    Generator init(0);
    nn::UNet unet(cfg, init);
    nn::load_parameters(unet, f, path);
    for (auto& [name, t] : unet.named_parameters())
      FUZZ_EXPECT(same_bits(*t, *f.find(name)), "parameter '" << name << "' differs from the file");
  });
}

// ---- training state (--resume) -----------------------------------------------------

nn::MLPConfig resume_mlp_config() {
  nn::MLPConfig c;
  c.hidden = 8;
  c.hidden_layers = 2;
  return c;
}

// As cfm2d --resume does: the checkpoint must hold this run's MLP, and then its
// parameters, AdamW state, generator and losses come back.
void target_train_state(Bytes in) {
  const std::string path = write_input("ckpt.safetensors", in.str());
  refused_or_checked([&] {
    Generator init(1);
    nn::MLP mlp(resume_mlp_config(), init);
    nn::AdamW opt(mlp);
    Generator gen(2);
    app::TrainState state;
    app::resume_flow_mlp(path, "checkerboard", mlp, opt, gen, state,
                         {{"objective", "the objective", "cfm", "cfm"}, {"path", "--path", "condot", "condot"}});
    nn::SafetensorsFile f = nn::load_safetensors(path);
    FUZZ_EXPECT(opt.steps() >= 0 && state.iteration >= 0, "step " << opt.steps() << ", iteration " << state.iteration);
    FUZZ_EXPECT(static_cast<int64_t>(state.losses.size()) == state.iteration,
                state.losses.size() << " losses for " << state.iteration << " iterations");
    FUZZ_EXPECT(opt.steps() == static_cast<int64_t>(app::metadata_u64(f, path, "adamw_step")), "AdamW step");
    FUZZ_EXPECT(gen.seed() == app::metadata_u64(f, path, "rng_seed") &&
                    gen.offset() == app::metadata_u64(f, path, "rng_offset"),
                "generator state");
    FUZZ_EXPECT(same_bits(opt.exp_avg(), *f.find("optim.exp_avg")), "AdamW first moment");
    for (auto& [name, t] : mlp.named_parameters())
      FUZZ_EXPECT(same_bits(*t, *f.find(name)), "parameter '" << name << "' differs from the file");
  });
}

// ---- PyTorch .pth ------------------------------------------------------------------

// As cfm2d --sample-only reads the reference's ckpt.pth: the state_dict out of the ZIP
// and its pickle, then the MLP its shapes describe, built and loaded.
void target_pth(Bytes in) {
  const std::string path = write_input("ckpt.pth", in.str());
  refused_or_checked([&] {
    nn::SafetensorsFile f = nn::load_state_dict(path);
    FUZZ_EXPECT(f.metadata.empty(), "a .pth gave metadata");
    std::set<std::string> names;
    for (const nn::NamedTensor& t : f.tensors) {
      FUZZ_EXPECT(!t.name.empty() && names.insert(t.name).second, "tensor name '" << t.name << "' empty or repeated");
      // Every value came out of a storage member of the file.
      FUZZ_EXPECT(static_cast<uint64_t>(t.tensor.numel()) * 4 <= in.size,
                  "tensor '" << t.name << "' of " << t.tensor.numel() << " values from " << in.size << " bytes");
    }
  });
  refused_or_checked([&] {
    app::LoadedMLP m = app::load_mlp_checkpoint(path);
    nn::SafetensorsFile f = nn::load_state_dict(path);
    for (auto& [name, t] : m.mlp->named_parameters())
      FUZZ_EXPECT(same_bits(*t, *f.find(name)), "parameter '" << name << "' differs from the file");
  });
}

// ---- the registry ------------------------------------------------------------------

using Target = void (*)(Bytes);
// FUZZ_TARGET(name) lines are also read by fuzz/fuzz.mk for the list of binaries.
#define FUZZ_TARGET(name) {#name, target_##name}
const std::vector<std::pair<std::string, Target>>& targets() {
  static const std::vector<std::pair<std::string, Target>> all = {
      FUZZ_TARGET(safetensors),
      FUZZ_TARGET(npy),
      FUZZ_TARGET(idx),
      FUZZ_TARGET(idx_gz),
      FUZZ_TARGET(cifar10),
      FUZZ_TARGET(tar),
      FUZZ_TARGET(zip),
      FUZZ_TARGET(image),
      FUZZ_TARGET(folder),
      FUZZ_TARGET(points),
      FUZZ_TARGET(unet_config),
      FUZZ_TARGET(train_state),
      FUZZ_TARGET(pth),
  };
  return all;
}

}  // namespace

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& t : targets()) names.push_back(t.first);
  return names;
}

bool run_target(const std::string& name, const uint8_t* data, size_t size) {
  g_accepted = 0;
  for (const auto& t : targets())
    if (t.first == name) {
      t.second(Bytes{data, size});
      return g_accepted > 0;
    }
  throw std::invalid_argument("fuzz: no target '" + name + "'");
}

}  // namespace fc::fuzz
