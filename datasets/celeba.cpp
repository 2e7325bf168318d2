#include "datasets/celeba.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>

#include "datasets/image_file.hpp"
#include "engine/cancel.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

namespace fs = std::filesystem;

const char* const kWhere =
    "from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped Images: img_align_celeba.zip, "
    "unzipped; Eval/list_eval_partition.txt)";

struct CelebaFiles {
  std::string images, partition;
};

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The folders and partition file, in the layouts the header lists.
CelebaFiles find_files(const std::string& dir) {
  for (const fs::path& base : {fs::path(dir), fs::path(dir) / "celeba"}) {
    fs::path images = base / "img_align_celeba";
    if (is_dir(images / "img_align_celeba")) images /= "img_align_celeba";  // Kaggle's
    if (!is_dir(images)) {
      if (is_file(base / "img_align_celeba.zip"))
        FC_FILE_FAIL(dir, "img_align_celeba.zip is not read as a zip: unzip it first (unzip "
                              << (base / "img_align_celeba.zip").string() << " -d " << base.string() << ")");
      continue;
    }
    for (const char* name : {"list_eval_partition.txt", "list_eval_partition.csv"})
      if (is_file(base / name)) return {images.string(), (base / name).string()};
    FC_FILE_FAIL(dir, "CelebA's faces are in " << images.string() << " but list_eval_partition.txt is not beside them; "
                                               << "download it " << kWhere);
  }
  FC_FILE_FAIL(dir, "no CelebA here: flowcpp cannot download it (its host wants a browser); put img_align_celeba/ and "
                    "list_eval_partition.txt in "
                        << dir << ", " << kWhere);
}

// The file names of partition `want`, in the file's order. Lines are "NAME P"
// (the .txt) or "NAME,P" (the .csv, after its header line).
std::vector<std::string> faces_of_partition(const std::string& path, int want) {
  std::ifstream f(path);
  if (!f) FC_FILE_FAIL(path, "cannot open: " << io::errno_text());
  std::vector<std::string> names;
  std::string line;
  for (int64_t number = 1; std::getline(f, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("image_id", 0) == 0)) continue;
    const size_t sep = line.find_first_of(" ,");
    const std::string name = line.substr(0, sep), part = sep == std::string::npos ? "" : line.substr(sep + 1);
    if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos || part.size() != 1 || part[0] < '0' ||
        part[0] > '2')
      FC_FILE_FAIL(path, "line " << number << " is not 'IMAGE.jpg 0|1|2': '" << line.substr(0, 80) << "'");
    if (part[0] - '0' == want) names.push_back(name);
  }
  if (f.bad()) FC_FILE_FAIL(path, "cannot read: " << io::errno_text());
  if (names.empty()) FC_FILE_FAIL(path, "no face in partition " << want);
  return names;
}

// The central square of an interleaved RGB picture, resized into `out` ([3, h, w]).
void crop_and_resize(const DecodedImage& img, uint8_t* out, int64_t h, int64_t w, ResizeFilter filter,
                     std::vector<uint8_t>& planar) {
  const int side = std::min(img.width, img.height);
  const int x0 = (img.width - side) / 2, y0 = (img.height - side) / 2;
  const int64_t plane = static_cast<int64_t>(side) * side;
  planar.resize(static_cast<size_t>(3 * plane));
  const unsigned char* px = img.pixels.get();
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < 3; ++c)
        planar[c * plane + static_cast<int64_t>(y) * side + x] =
            px[(static_cast<int64_t>(y0 + y) * img.width + (x0 + x)) * 3 + c];
  resize_image(planar.data(), 3, side, side, out, h, w, filter);
}

}  // namespace

ImageDataset load_celeba(const std::string& dir, Split split, const ImageLoadOptions& options) {
  const CelebaFiles files = find_files(dir);
  const std::vector<std::string> names = faces_of_partition(files.partition, split == Split::Train ? 0 : 2);
  ImageDataset ds;
  ds.channels = 3;
  ds.height = options.height ? options.height : kCelebaSize;
  ds.width = options.width ? options.width : kCelebaSize;
  ds.class_names = {"face"};
  const int64_t n = static_cast<int64_t>(names.size());
  ds.labels.assign(static_cast<size_t>(n), 0);
  ds.pixels.resize(static_cast<size_t>(n * ds.image_bytes()));
  // Faces decode in parallel; the first error (a bad file, a signal heard by thread 0)
  // stops the others and is thrown after the loop, where exceptions may leave.
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failed;
#pragma omp parallel
  {
    std::vector<uint8_t> planar;
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; ++i) {
      if (stop.load(std::memory_order_relaxed)) continue;
      try {
        const DecodedImage img = decode_image_file(files.images + "/" + names[i], 3);
        crop_and_resize(img, ds.pixels.data() + i * ds.image_bytes(), ds.height, ds.width, options.filter, planar);
        const int64_t now = ++done;
        if (omp_get_thread_num() == 0) {
          cancellation_point();
          if (options.on_progress) options.on_progress(now, n);
        }
      } catch (...) {
#pragma omp critical(celeba_failure)
        if (!failed) failed = std::current_exception();
        stop = true;
      }
    }
  }
  if (failed) std::rethrow_exception(failed);
  if (options.on_progress) options.on_progress(n, n);
  return ds;
}

}  // namespace fc::data
