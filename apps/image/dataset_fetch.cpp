#include "apps/image/dataset_fetch.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "apps/cli/interrupt.hpp"
#include "apps/cli/progress.hpp"
#include "datasets/remote_datasets.hpp"
#include "engine/error.hpp"

namespace fc::app {

namespace fs = std::filesystem;

namespace {

std::string dataset_dir(const std::string& dataset, const std::string& data_root) {
  return (fs::path(data_root) / dataset).string();
}

// A progress callback drawing a bar once the total is known and ending it once: one per
// downloaded file (in bytes), one per slow dataset read (in images).
std::function<void(int64_t, int64_t)> lazy_progress_bar(const std::string& label, ProgressBar::Units units) {
  struct Bar {
    std::unique_ptr<ProgressBar> bar;
    bool ended = false;
  };
  return [state = std::make_shared<Bar>(), label, units](int64_t done, int64_t total) {
    if (total <= 0 || state->ended) return;
    if (!state->bar) state->bar = std::make_unique<ProgressBar>(total, label, done, units);
    if (done < total) {
      state->bar->update(done);
    } else {
      state->bar->finish();
      state->ended = true;
    }
  };
}

data::DownloadOptions with_progress_bar(const data::RemoteFile& f) {
  data::DownloadOptions o;
  o.on_progress = lazy_progress_bar(f.name, ProgressBar::Units::Bytes);
  return o;
}

// scripts/get_data.sh, found beside this program's folder, fetching `dataset` offline.
void offline_fallback(const std::string& dataset, const std::string& data_root, const char* program) {
  fs::path exe = fs::read_symlink("/proc/self/exe");
  fs::path script = exe.parent_path().parent_path() / "scripts" / "get_data.sh";
  FC_CHECK(fs::exists(script), dataset_dir(dataset, data_root) << " is missing and " << script.string()
                                                                << " was not found to fetch it");
  std::fprintf(stderr, "%s: fetching %s offline with %s\n", program, dataset.c_str(), script.string().c_str());
  std::string cmd = "bash '" + script.string() + "' " + dataset + " --offline --data '" + data_root + "'";
  const int rc = std::system(cmd.c_str());
  throw_if_interrupted();  // a SIGTERM waited for the script (system() ignores SIGINT itself)
  FC_CHECK(rc == 0, "fetching " << dataset << " failed (" << cmd << ")");
}

}  // namespace

void fetch_dataset_if_missing(const std::string& dataset, const std::string& data_root, const char* program) {
  const data::RemoteDataset* remote = data::find_remote_dataset(dataset);  // the catalogue decides
  if (remote == nullptr) return;
  const std::string dir = dataset_dir(dataset, data_root);
  if (fs::exists(dir) && !fs::is_empty(dir)) return;
  std::fprintf(stderr, "%s: %s is missing; downloading %s (%s) into %s\n", program, dir.c_str(),
               remote->title.c_str(), remote->what.c_str(), dir.c_str());
  try {
    Phase phase("downloading " + remote->title, "the files downloaded so far are kept in " + dir +
                                                     ".download; run again to resume");
    data::download_dataset(*remote, dir, with_progress_bar);
    std::fprintf(stderr, "%s: %s is in %s\n", program, remote->title.c_str(), dir.c_str());
  } catch (const data::DownloadError& e) {
    if (e.kind() != data::DownloadFailure::Unreachable) throw;
    std::error_code ec;
    fs::remove(dir + ".download", ec);  // only if empty: a partial download elsewhere stays
    FC_CHECK(remote->offline_fallback,
             "no " << remote->title << " mirror could be reached (" << e.what() << "); download "
                   << remote->mirrors.front() << remote->files.front().name << " elsewhere and unpack it into " << dir
                   << " (see docs/datasets.md)");
    std::fprintf(stderr, "%s: no %s mirror could be reached (%s); using the offline fallback\n", program,
                 remote->title.c_str(), e.what());
    offline_fallback(dataset, data_root, program);
  }
}

data::ImageDataset read_image_dataset(const std::string& dataset, data::Split split, const std::string& data_root) {
  data::ImageLoadOptions o;
  o.on_progress = lazy_progress_bar("reading " + dataset + " (" + data::split_name(split) + ")", ProgressBar::Units::Items);
  Phase phase("reading " + dataset);  // no hint of its own: an outer phase's says what is kept
  return data::load_image_dataset(dataset, split, data_root, o);
}

std::string dataset_source(const std::string& dataset, const std::string& data_root) {
  if (dataset.rfind("folder:", 0) == 0) return "the image files under " + dataset.substr(7);
  const std::string dir = dataset_dir(dataset, data_root);
  std::ifstream f(dir + "/SOURCE.txt");
  std::string first;
  if (f && std::getline(f, first) && !first.empty()) return first;
  return "the files in " + dir;
}

}  // namespace fc::app
