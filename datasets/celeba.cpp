#include "datasets/celeba.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "datasets/image_file.hpp"
#include "engine/cancel.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"
#include "engine/zip_archive.hpp"

namespace fc::data {
namespace {

namespace fs = std::filesystem;

const char* const kWhere =
    "from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped Images: img_align_celeba.zip; "
    "Eval/list_eval_partition.txt)";
// No aligned face is near this size (they are about 10 kB); a member claiming more is
// not one, and is refused before its bytes are allocated.
constexpr uint64_t kMaxFaceBytes = uint64_t{1} << 26;

// Where the faces are: a folder (`images`) or the zip (`zip`), one of them set.
struct CelebaFiles {
  std::string images, zip, partition;
};

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The faces and partition file, in the layouts the header lists; the folder wins over
// the zip when both are there (it is what unzipping the zip made).
CelebaFiles find_files(const std::string& dir) {
  for (const fs::path& base : {fs::path(dir), fs::path(dir) / "celeba"}) {
    CelebaFiles files;
    fs::path images = base / "img_align_celeba";
    if (is_dir(images / "img_align_celeba")) images /= "img_align_celeba";  // Kaggle's
    if (is_dir(images))
      files.images = images.string();
    else if (is_file(base / "img_align_celeba.zip"))
      files.zip = (base / "img_align_celeba.zip").string();
    else
      continue;
    for (const char* name : {"list_eval_partition.txt", "list_eval_partition.csv"})
      if (is_file(base / name)) {
        files.partition = (base / name).string();
        return files;
      }
    FC_FILE_FAIL(dir, "CelebA's faces are in " << (files.zip.empty() ? files.images : files.zip)
                                               << " but list_eval_partition.txt is not beside them; download it "
                                               << kWhere);
  }
  FC_FILE_FAIL(dir, "no CelebA here: flowcpp cannot download it (its host wants a browser); put img_align_celeba.zip "
                    "(or the folder it unzips to) and list_eval_partition.txt in "
                        << dir << ", " << kWhere);
}

// The zip's member for each face, found by file name under an img_align_celeba/ folder
// (the official zip's one folder, or Kaggle's doubled one).
std::vector<const io::ZipEntry*> members_of(const io::ZipArchive& zip, const std::vector<std::string>& names,
                                            const std::string& partition) {
  std::map<std::string, const io::ZipEntry*> by_name;
  for (const io::ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.rfind('/');
    if (slash == std::string::npos || slash + 1 == e.name.size()) continue;  // not in a folder, or a folder
    const std::string folder = e.name.substr(0, slash);
    if (folder == "img_align_celeba" ||
        (folder.size() > 17 && folder.compare(folder.size() - 17, 17, "/img_align_celeba") == 0))
      by_name.emplace(e.name.substr(slash + 1), &e);
  }
  std::vector<const io::ZipEntry*> members;
  members.reserve(names.size());
  for (const std::string& name : names) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      FC_FILE_FAIL(zip.path(), "has no img_align_celeba/" << name << ", which " << partition << " lists");
    if (it->second->size > kMaxFaceBytes)
      FC_FILE_FAIL(zip.path(), "member '" << it->second->name << "' claims " << it->second->size
                                          << " bytes: not an aligned face");
    members.push_back(it->second);
  }
  return members;
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

// One face's picture, from the folder or the zip (member reads are pread: any thread).
DecodedImage decode_face(const CelebaFiles& files, const io::ZipArchive* zip, const io::ZipEntry* member,
                         const std::string& name) {
  if (!zip) return decode_image_file(files.images + "/" + name, 3);
  std::vector<uint8_t> bytes(static_cast<size_t>(member->size));
  zip->read(*member, bytes.data());
  return decode_image_bytes(zip->path() + ": " + member->name, bytes, 3);
}

}  // namespace

ImageDataset load_celeba(const std::string& dir, Split split, const ImageLoadOptions& options) {
  const CelebaFiles files = find_files(dir);
  const std::vector<std::string> names = faces_of_partition(files.partition, split == Split::Train ? 0 : 2);
  std::unique_ptr<io::ZipArchive> zip;
  std::vector<const io::ZipEntry*> members(names.size(), nullptr);
  if (!files.zip.empty()) {
    zip = std::make_unique<io::ZipArchive>(files.zip, io::ZipMethods::StoredOrDeflated);
    members = members_of(*zip, names, files.partition);
  }
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
        const DecodedImage img = decode_face(files, zip.get(), members[i], names[i]);
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
