// CelebA from its official files (datasets/celeba): a small tree of faces in each layout
// it reads, the partitions, the central square at 64 x 64, and one line for everything
// missing or malformed; cfm_image trains on it with the reference's 64 x 64 UNet recipe.
#include <stb/stb_image_write.h>  // the implementation is in libstb.so

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <string>
#include <vector>

#include "app_runner.hpp"
#include "datasets/celeba.hpp"
#include "datasets/image_dataset.hpp"
#include "engine/error.hpp"
#include "nn/safetensors.hpp"
#include "test_util.hpp"
#include "tests/pth_writer.hpp"  // zip_members: ZIP archives byte for byte

namespace fs = std::filesystem;
using fc::data::ImageDataset;
using fc::data::load_image_dataset;
using fc::data::Split;

namespace {

// A 20 x 26 "face": the central 20 x 20 square is `centre`, the 3 rows above and below
// (what the crop removes) are red. JPEG at quality 100 (no chroma subsampling).
void write_face(const std::string& path, uint8_t centre) {
  const int w = 20, h = 26;
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool edge = y < 3 || y >= h - 3;
      uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
      p[0] = edge ? 255 : centre;
      p[1] = edge ? 0 : centre;
      p[2] = edge ? 0 : centre;
    }
  fs::create_directories(fs::path(path).parent_path());
  REQUIRE(stbi_write_jpg(path.c_str(), w, h, 3, rgb.data(), 100) != 0);
}

// Faces 000001..000005 in partitions 0 0 1 2 0, shades 40, 80, 120, 160, 200.
void write_celeba(const std::string& images, const std::string& partition, bool csv) {
  const int parts[5] = {0, 0, 1, 2, 0};
  std::string list = csv ? "image_id,partition\n" : "";
  for (int i = 0; i < 5; ++i) {
    const std::string name = "00000" + std::to_string(i + 1) + ".jpg";
    write_face(images + "/" + name, static_cast<uint8_t>(40 * (i + 1)));
    list += name + (csv ? "," : " ") + std::to_string(parts[i]) + (csv ? "\r\n" : "\n");
  }
  write_bytes(partition, list);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fc::Error& e) {
    return e.what();
  }
  return "";
}

// How far the centre of image i is from grey level `shade` (the worst channel).
int centre_error(const ImageDataset& ds, int64_t i, int shade) {
  int worst = 0;
  const int64_t hw = ds.height * ds.width;
  for (int c = 0; c < 3; ++c)
    for (int64_t y = ds.height / 4; y < 3 * ds.height / 4; ++y)
      for (int64_t x = 0; x < ds.width; ++x)
        worst = std::max(worst, std::abs(ds.image(i)[c * hw + y * ds.width + x] - shade));
  return worst;
}

// The mean of red minus green over the top and bottom 4 rows of image i: ~0 for a grey
// face, ~255 where the red rows the crop removes came through.
double edge_redness(const ImageDataset& ds, int64_t i) {
  const int64_t hw = ds.height * ds.width;
  double sum = 0;
  int n = 0;
  for (int64_t y : {0L, 1L, 2L, 3L, ds.height - 4, ds.height - 3, ds.height - 2, ds.height - 1})
    for (int64_t x = 0; x < ds.width; ++x, ++n)
      sum += ds.image(i)[y * ds.width + x] - ds.image(i)[hw + y * ds.width + x];
  return sum / n;
}

}  // namespace

TEST_CASE("celeba: the partitions, the central square at 64 x 64, one class; torchvision's and Kaggle's layouts",
          "[image_data][celeba]") {
  TempDir root;
  write_celeba(root.path + "/celeba/img_align_celeba", root.path + "/celeba/list_eval_partition.txt", false);
  ImageDataset train = load_image_dataset("celeba", Split::Train, root.path);
  CHECK(train.name == "celeba");
  REQUIRE(train.size() == 3);  // partition 0: faces 1, 2, 5
  CHECK(train.channels == 3);
  CHECK(train.height == 64);
  CHECK(train.width == 64);
  CHECK(train.class_names == std::vector<std::string>{"face"});
  CHECK(train.labels == std::vector<int32_t>{0, 0, 0});
  // No red from the rows the crop removed, anywhere in the middle half of the picture.
  CHECK(centre_error(train, 0, 40) <= 12);
  CHECK(centre_error(train, 1, 80) <= 12);
  CHECK(centre_error(train, 2, 200) <= 12);
  for (int64_t i = 0; i < 3; ++i) CHECK(std::abs(edge_redness(train, i)) < 30);
  ImageDataset test = load_image_dataset("celeba", Split::Test, root.path);
  REQUIRE(test.size() == 1);  // partition 2: face 4; the validation partition is not used
  CHECK(centre_error(test, 0, 160) <= 12);
  fc::data::ImageLoadOptions small;
  small.height = small.width = 8;
  small.channels = 1;
  int64_t last_done = -1, total = -1;
  small.on_progress = [&](int64_t done, int64_t n) { last_done = done, total = n; };
  ImageDataset grey = load_image_dataset("celeba", Split::Train, root.path, small);
  CHECK(grey.channels == 1);
  CHECK(grey.height == 8);
  CHECK(grey.pixels.size() == 3 * 64);
  CHECK(last_done == 3);
  CHECK(total == 3);

  // Kaggle's copy: the CSV, and the faces one folder deeper; flat in DIR, not DIR/celeba.
  TempDir kaggle;
  write_celeba(kaggle.path + "/celeba/img_align_celeba/img_align_celeba", kaggle.path + "/celeba/list_eval_partition.csv",
               true);
  CHECK(load_image_dataset("celeba", Split::Train, kaggle.path).size() == 3);
}

TEST_CASE("celeba: what is missing or malformed is one line naming it and where it comes from", "[image_data][celeba]") {
  TempDir root;
  const std::string dir = root.path + "/celeba";
  auto load = [&] { load_image_dataset("celeba", Split::Train, root.path); };
  std::string why = error_of(load);
  CHECK(why.rfind(dir + ": no CelebA here: flowcpp cannot download it (its host wants a browser); put "
                        "img_align_celeba.zip (or the folder it unzips to) and list_eval_partition.txt in " + dir +
                        ", from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
                  0) == 0);
  write_bytes((fs::create_directories(dir), dir + "/img_align_celeba.zip"), "PK");
  CHECK(error_of(load).rfind(dir + ": CelebA's faces are in " + dir + "/img_align_celeba.zip but list_eval_partition.txt "
                             "is not beside them; download it from https://mmlab", 0) == 0);
  write_face(dir + "/img_align_celeba/000001.jpg", 100);
  CHECK(error_of(load).rfind(dir + ": CelebA's faces are in " + dir + "/img_align_celeba but list_eval_partition.txt is "
                             "not beside them; download it from https://mmlab",
                             0) == 0);
  const std::string list = dir + "/list_eval_partition.txt";
  for (const char* bad : {"000001.jpg 3\n", "000001.jpg\n", "../../etc/passwd 0\n", "000001.jpg 0x1\n", "a b c\n",
                          "000001.jpg nan\n"}) {
    INFO(bad);
    write_bytes(list, std::string("000001.jpg 0\n") + bad);
    CHECK(error_of(load).rfind(list + ": line 2 is not 'IMAGE.jpg 0|1|2': '", 0) == 0);
  }
  write_bytes(list, "000001.jpg 1\n");
  CHECK(error_of(load) == list + ": no face in partition 0");
  write_bytes(list, "000001.jpg 0\n000002.jpg 0\n");
  why = error_of(load);
  CHECK(why.rfind(dir + "/img_align_celeba/000002.jpg: ", 0) == 0);
  CHECK(why.find('\n') == std::string::npos);
  write_bytes(dir + "/img_align_celeba/000002.jpg", "not a jpeg");
  CHECK(error_of(load).rfind(dir + "/img_align_celeba/000002.jpg: cannot read image", 0) == 0);
}

namespace {

// The faces of write_celeba as the members of img_align_celeba.zip under `folder`.
std::vector<std::pair<std::string, std::string>> zip_faces(const std::string& images, const std::string& folder) {
  std::vector<std::pair<std::string, std::string>> members = {{folder + "/", ""}};
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "00000" + std::to_string(i) + ".jpg";
    members.emplace_back(folder + "/" + name, read_bytes(images + "/" + name));
  }
  return members;
}

}  // namespace

TEST_CASE("celeba: img_align_celeba.zip read in place, stored or deflated, the same pixels as the folder",
          "[image_data][celeba][zip]") {
  TempDir unzipped;
  const std::string images = unzipped.path + "/celeba/img_align_celeba", list = unzipped.path + "/celeba/list_eval_partition.txt";
  write_celeba(images, list, false);
  const ImageDataset want = load_image_dataset("celeba", Split::Train, unzipped.path);
  const ImageDataset want_test = load_image_dataset("celeba", Split::Test, unzipped.path);
  struct Layout {
    const char* what;
    std::string zip;
  };
  std::vector<Layout> layouts = {
      {"deflated", pth::zip_members(zip_faces(images, "img_align_celeba"), true)},
      {"stored", pth::zip_members(zip_faces(images, "img_align_celeba"), false)},
      {"Kaggle's doubled folder", pth::zip_members(zip_faces(images, "img_align_celeba/img_align_celeba"), true)}};
  // zip(1) itself, when it is installed (scripts/install_deps.sh installs it), deflating
  // at its default level and storing (-0).
  if (std::system("zip -v > /dev/null 2>&1") == 0) {
    for (const char* level : {"-6", "-0"}) {
      const std::string out = unzipped.path + "/by_zip" + level + ".zip";
      REQUIRE(std::system(("cd " + unzipped.path + "/celeba && zip -q -r " + level + " " + out + " img_align_celeba").c_str()) == 0);
      layouts.push_back({level, read_bytes(out)});
    }
  } else {
    WARN("SKIPPED: zip(1) is not installed; the zips of tests/pth_writer.hpp alone are read");
  }
  for (const Layout& layout : layouts) {
    INFO(layout.what);
    TempDir root;
    write_bytes((fs::create_directories(root.path + "/celeba"), root.path + "/celeba/img_align_celeba.zip"), layout.zip);
    write_bytes(root.path + "/celeba/list_eval_partition.txt", read_bytes(list));
    const ImageDataset got = load_image_dataset("celeba", Split::Train, root.path);
    CHECK(got.size() == 3);
    CHECK(got.pixels == want.pixels);
    CHECK(load_image_dataset("celeba", Split::Test, root.path).pixels == want_test.pixels);
  }
}

TEST_CASE("celeba: a damaged img_align_celeba.zip is one line naming the zip and the member", "[image_data][celeba][zip]") {
  TempDir unzipped;
  const std::string images = unzipped.path + "/celeba/img_align_celeba", list = unzipped.path + "/celeba/list_eval_partition.txt";
  write_celeba(images, list, false);
  TempDir root;
  const std::string dir = root.path + "/celeba", zip = dir + "/img_align_celeba.zip";
  fs::create_directories(dir);
  write_bytes(dir + "/list_eval_partition.txt", read_bytes(list));
  auto load = [&] { load_image_dataset("celeba", Split::Train, root.path); };
  auto members = zip_faces(images, "img_align_celeba");
  const std::string good = pth::zip_members(members, true);

  struct Bad {
    const char* what;
    std::string bytes, error;
  };
  auto deflated_at = [&](const std::string& z, const std::string& name) {  // where a member's data starts
    const size_t at = z.find(name);
    return at + name.size() + 4 + static_cast<uint8_t>(z[at + name.size() + 2]);
  };
  std::string flipped = good;  // the deflate stream of face 2 garbled
  for (size_t i = 0; i < 40; ++i) flipped[deflated_at(good, "img_align_celeba/000002.jpg") + i] ^= 0x5a;
  // A field of face 2's central directory record (method +10, CRC +16, sizes +20, +24)
  // set to `value`.
  auto patched = [&](size_t field, uint32_t value, int bytes) {
    std::string z = good;
    size_t at = z.find("PK\x01\x02");
    for (int k = 0; k < 2; ++k) at = z.find("PK\x01\x02", at + 4);
    for (int b = 0; b < bytes; ++b) z[at + field + b] = static_cast<char>(value >> (8 * b));
    return z;
  };
  const std::string member = zip + ": member 'img_align_celeba/000002.jpg' ";
  auto without = members;
  without.erase(without.begin() + 2);  // no 000002.jpg
  auto not_jpeg = members;
  not_jpeg[2].second = "not a jpeg";
  std::vector<Bad> bad = {
      {"two bytes", "PK", zip + ": not a ZIP archive: 2 bytes"},
      {"text", std::string(100, 'x'), zip + ": not a ZIP archive (no end of central directory record)"},
      {"cut in half", good.substr(0, good.size() / 2), zip + ": not a ZIP archive (no end of central directory record)"},
      {"a face missing", pth::zip_members(without, true),
       zip + ": has no img_align_celeba/000002.jpg, which " + dir + "/list_eval_partition.txt lists"},
      {"garbled deflate stream", flipped, member + "is damaged"},
      {"wrong CRC-32", patched(16, 0x12345678, 4), member + "is damaged (CRC-32 "},
      {"bzip2 (method 12)", patched(10, 12, 2), member + "uses compression method 12; only stored (0) and deflated (8)"},
      {"4 GB claimed from a few hundred bytes", patched(24, 0xfffffff0u, 4), member + "claims 4294967280 bytes from "},
      {"a size 1 too big", patched(24, static_cast<uint32_t>(members[2].second.size() + 1), 4),
       member + "is damaged: its deflate stream does not make the "},
      {"not a JPEG", pth::zip_members(not_jpeg, true), zip + ": img_align_celeba/000002.jpg: cannot read image"},
  };
  for (const Bad& b : bad) {
    INFO(b.what);
    write_bytes(zip, b.bytes);
    const std::string why = error_of(load);
    CHECK(why.rfind(b.error, 0) == 0);
    CHECK(why.find('\n') == std::string::npos);
  }
}

TEST_CASE("cfm_image --train celeba: the reference's 64 x 64 recipe (channel_mult 1,2,3,4)", "[app][cfm_image][celeba]") {
  TempDir dir;
  write_celeba(dir.path + "/data/celeba/img_align_celeba", dir.path + "/data/celeba/list_eval_partition.txt", false);
  AppRun r = run_app("./apps/cfm_image --train celeba --iterations 1 --batch-size 2 --channels 32 --res-blocks 1"
                     " --threads 2 --data-root " + dir.path + "/data --output " + dir.path + "/out");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("cfm_image: celeba: 3 training images, 3x64x64, 1 classes") != std::string::npos);
  const fc::nn::SafetensorsFile f = fc::nn::load_safetensors(dir.path + "/out/celeba/ckpt.safetensors");
  CHECK(f.metadata.at("channel_mult") == "1,2,3,4");
  CHECK(f.metadata.at("image_shape") == "3,64,64");

  // SIGTERM while the faces are read (200 of them, so that every thread has some): exit
  // 130 on one line, nothing written.
  std::string list = read_bytes(dir.path + "/data/celeba/list_eval_partition.txt");
  for (int i = 6; i <= 200; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%06d.jpg", i);
    write_face(dir.path + "/data/celeba/img_align_celeba/" + name, static_cast<uint8_t>(i));
    list += std::string(name) + " 0\n";
  }
  write_bytes(dir.path + "/data/celeba/list_eval_partition.txt", list);
  AppRun cut = run_app("FLOWCPP_TEST_SIGNAL='reading celeba:TERM:2' ./apps/cfm_image --train celeba --iterations 1"
                       " --batch-size 2 --channels 32 --res-blocks 1 --threads 2 --data-root " + dir.path +
                       "/data --output " + dir.path + "/cut");
  INFO(cut.err);
  CHECK(cut.exit_code == 130);
  CHECK(cut.err.find("cfm_image: interrupted by SIGTERM while reading celeba\n") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path + "/cut/celeba/ckpt.safetensors"));
}
