#include "datasets/remote_datasets.hpp"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/tar_archive.hpp"

namespace fc::data {

namespace fs = std::filesystem;

namespace {

// torchvision's lists (torchvision/datasets/mnist.py), mirrors in its order; the MD5s are
// of the files as served. CIFAR-10: its home page (https://www.cs.toronto.edu/~kriz/cifar.html).
const std::vector<RemoteDataset>& catalogue() {
  static const std::vector<RemoteDataset> sets = {
      {"mnist",
       "MNIST",
       "the 60,000 training and 10,000 test digits",
       {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
        {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
        {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
        {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"}},
       true},
      {"fashion_mnist",
       "Fashion-MNIST",
       "the 60,000 training and 10,000 test images",
       {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        // (not in torchvision's list: the same files in the dataset's own repository)
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"},
       {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
        {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"},
        {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"},
        {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"}},
       true},
      {"cifar10",
       "CIFAR-10",
       "the 50,000 training and 10,000 test images (binary version)",
       {"https://www.cs.toronto.edu/~kriz/"},
       // 170,052,171 bytes; the MD5 its page lists
       {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", true}},
       false},
  };
  return sets;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

}  // namespace

const RemoteDataset* find_remote_dataset(const std::string& name) {
  for (const RemoteDataset& ds : catalogue())
    if (ds.name == name) return &ds;
  return nullptr;
}

std::vector<std::string> remote_dataset_names() {
  std::vector<std::string> names;
  for (const RemoteDataset& ds : catalogue()) names.push_back(ds.name);
  return names;
}

std::vector<std::string> dataset_mirrors(const RemoteDataset& ds) {
  const char* env = std::getenv("FLOWCPP_DATA_MIRRORS");
  if (env == nullptr) return ds.mirrors;
  std::vector<std::string> mirrors;
  std::istringstream words(env);
  for (std::string url; words >> url;) {
    const size_t scheme = url.rfind("http://", 0) == 0 ? 7 : url.rfind("https://", 0) == 0 ? 8 : 0;
    FC_CHECK(scheme > 0 && url.size() > scheme && url[scheme] != '/',
             "FLOWCPP_DATA_MIRRORS: '" << url.substr(0, 200) << "' is not an http:// or https:// URL");
    mirrors.push_back(url);
  }
  FC_CHECK(!mirrors.empty(), "FLOWCPP_DATA_MIRRORS is set but names no mirror");
  return mirrors;
}

void download_dataset(const RemoteDataset& ds, const std::string& dir,
                      const std::function<DownloadOptions(const RemoteFile&)>& options_for) {
  const std::vector<std::string> mirrors = dataset_mirrors(ds);  // a bad FLOWCPP_DATA_MIRRORS leaves nothing behind
  const std::string staging = dir + ".download";
  std::error_code ec;
  fs::create_directories(staging, ec);
  FC_CHECK(!ec, staging << ": cannot create the folder (" << ec.message() << ")");
  std::string served_by;
  for (const RemoteFile& f : ds.files) {
    const std::string dest = staging + "/" + f.name;
    if (fs::exists(dest)) continue;  // put there only once checked, by an earlier run
    const std::string url = download_file(mirrors, f.name, dest, f.md5, options_for(f));
    served_by = url.substr(0, url.size() - f.name.size());
  }
  for (const RemoteFile& f : ds.files)
    if (f.unpack) extract_tar(staging + "/" + f.name, staging);  // again after a stop: the same files
  {
    std::ofstream src(staging + "/SOURCE.txt");
    src << ds.title << ", " << ds.what << ", downloaded";
    if (!served_by.empty()) src << " from " << served_by;
    src << " on " << today() << " by flowcpp (datasets/remote_datasets.cpp); the MD5s checked:\n";
    for (const RemoteFile& f : ds.files) src << f.md5 << "  " << f.name << "\n";
    FC_CHECK(src.good(), staging << "/SOURCE.txt: cannot write");
  }
  fs::rename(staging, dir, ec);  // replaces an empty `dir`
  FC_CHECK(!ec, "cannot rename " << staging << " to " << dir << " (" << ec.message() << ")");
  // Removed only now: a stop before the rename finds the archive and unpacks it again
  // instead of downloading it again.
  for (const RemoteFile& f : ds.files)
    if (f.unpack) fs::remove(dir + "/" + f.name, ec);
}

}  // namespace fc::data
