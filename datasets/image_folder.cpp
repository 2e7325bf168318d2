#include "datasets/image_folder.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "datasets/image_file.hpp"
#include "engine/error.hpp"
#include "engine/file_io.hpp"

namespace fc::data {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool is_hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

// The entries of dir that pass `keep`, sorted by name.
template <class Keep>
std::vector<fs::path> sorted_entries(const std::string& dir, Keep keep) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!is_hidden(it->path()) && keep(*it)) out.push_back(it->path());
  if (ec) FC_FILE_FAIL(dir, "cannot list: " << ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ImageDataset load_image_folder(const std::string& path, const ImageLoadOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) FC_FILE_FAIL(path, (fs::exists(path, ec) ? "not a folder" : "no such folder"));
  const int channels = options.channels == 0 ? 3 : options.channels;
  if (channels != 1 && channels != 3) FC_FILE_FAIL(path, "channels must be 1 or 3, not " << channels);

  const std::vector<fs::path> classes =
      sorted_entries(path, [](const fs::directory_entry& e) { return e.is_directory(); });
  if (classes.empty())
    FC_FILE_FAIL(path, "no class subfolders: put the images of each class in a subfolder of its own (" << path
                                                                                                      << "/CLASS/*.png)");
  ImageDataset ds;
  ds.channels = channels;
  ds.height = options.height;
  ds.width = options.width;
  std::vector<uint8_t> planar;
  for (size_t label = 0; label < classes.size(); ++label) {
    const std::string class_dir = classes[label].string();
    const std::vector<fs::path> files = sorted_entries(
        class_dir, [](const fs::directory_entry& e) { return e.is_regular_file() && is_image_file(e.path()); });
    if (files.empty()) FC_FILE_FAIL(class_dir, "class folder without PNG, JPEG or BMP images");
    ds.class_names.push_back(classes[label].filename().string());
    for (const fs::path& file : files) {
      const DecodedImage img = decode_image_file(file.string(), channels);
      const int w = img.width, h = img.height;
      const unsigned char* px = img.pixels.get();
      if (ds.height == 0) ds.height = h;
      if (ds.width == 0) ds.width = w;
      // stb_image gives interleaved HWC; the dataset is planar CHW.
      planar.resize(static_cast<size_t>(channels) * w * h);
      for (int64_t i = 0; i < static_cast<int64_t>(w) * h; ++i)
        for (int c = 0; c < channels; ++c) planar[c * w * h + i] = px[i * channels + c];
      const size_t at = ds.pixels.size();
      ds.pixels.resize(at + static_cast<size_t>(ds.image_bytes()));
      resize_image(planar.data(), channels, h, w, ds.pixels.data() + at, ds.height, ds.width, options.filter);
      ds.labels.push_back(static_cast<int32_t>(label));
    }
  }
  return ds;
}

}  // namespace fc::data
