// datasets/md5 against RFC 1321's test suite and coreutils' md5sum, and
// datasets/download against a loopback HTTP server the tests start (127.0.0.1 only):
// good files, mirrors in turn, 404, redirects, wrong checksums, cut and resumed
// transfers, slow and stalled servers, an unreachable port, a failing disk, an
// interrupted download resumed, and a proxy taken from the environment.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "datasets/download.hpp"
#include "datasets/md5.hpp"
#include "test_util.hpp"
#include "tests/http_test_server.hpp"

using fc::data::DownloadError;
using fc::data::DownloadFailure;
using fc::data::DownloadOptions;
using fc::data::download_file;
using fc::data::Md5;

namespace {

// The loopback server is never reached through a proxy from the environment.
void no_proxy_for_loopback() {
  for (const char* v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    ::unsetenv(v);
}

// The kind and message of the DownloadError that f throws (fails the test if none).
template <class F>
DownloadError download_error(F f) {
  try {
    f();
  } catch (const DownloadError& e) {
    return e;
  }
  FAIL("no DownloadError was thrown");
  return DownloadError(DownloadFailure::Local, "");
}

bool exists(const std::string& p) { return std::filesystem::exists(p); }

}  // namespace

TEST_CASE("md5: RFC 1321's test suite, any split of the input, and coreutils' md5sum", "[download]") {
  CHECK(md5_of("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_of("a") == "0cc175b9c0f1b6a831c399e269772661");
  CHECK(md5_of("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_of("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(md5_of("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b");
  CHECK(md5_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        "d174ab98d277d9f5a5611c2c9f419d9f");
  CHECK(md5_of(std::string("1234567890") + "1234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
  // Fed in uneven pieces (across the 64-byte blocks and the 56-byte padding edge).
  const std::string data = random_body(100003, 7);
  for (size_t piece : {1u, 55u, 56u, 63u, 64u, 65u, 4097u}) {
    Md5 m;
    for (size_t i = 0; i < data.size(); i += piece) m.update(data.data() + i, std::min(piece, data.size() - i));
    CHECK(m.hex_digest() == md5_of(data));
  }
  // The same file through md5sum (an independent implementation).
  TempDir dir;
  write_bytes(dir.file("x"), data);
  FILE* p = ::popen(("md5sum " + dir.file("x")).c_str(), "r");
  REQUIRE(p);
  char line[64] = "";
  REQUIRE(std::fgets(line, sizeof line, p));
  ::pclose(p);
  CHECK(fc::data::md5_of_file(dir.file("x")) == std::string(line, 32));
  CHECK_THROWS_WITH(fc::data::md5_of_file(dir.file("missing")), Catch::Contains(dir.file("missing")));
}

TEST_CASE("download: a file from the first mirror that serves it, byte for byte, no .part left", "[download]") {
  no_proxy_for_loopback();
  HttpTestServer good, missing;
  const std::string body = random_body(300000, 1);
  good.route("/d/file.gz", {HttpRoute::Kind::File, body});
  TempDir dir;
  const std::string dest = dir.file("file.gz");
  const std::string url =
      download_file({missing.base_url() + "d", good.base_url() + "d/"}, "file.gz", dest, md5_of(body));
  CHECK(url == good.base_url() + "d/file.gz");
  CHECK(read_bytes(dest) == body);
  CHECK_FALSE(exists(dest + ".part"));
  CHECK(missing.ranges_asked("/d/file.gz").size() == 1);  // the 404 mirror was asked once

  // A redirect is followed; no checksum given, none checked.
  HttpTestServer moved;
  moved.route("/file.gz", {HttpRoute::Kind::Redirect, "", good.base_url() + "d/file.gz"});
  download_file({moved.base_url()}, "file.gz", dir.file("again.gz"), "");
  CHECK(read_bytes(dir.file("again.gz")) == body);
}

TEST_CASE("download: 404 everywhere and a wrong checksum are one line naming the file and each mirror", "[download]") {
  no_proxy_for_loopback();
  HttpTestServer a, b;
  TempDir dir;
  const std::string dest = dir.file("f.gz");
  DownloadError e = download_error([&] { download_file({a.base_url(), b.base_url()}, "f.gz", dest, ""); });
  CHECK(e.kind() == DownloadFailure::Refused);
  const std::string what = e.what();
  CHECK(what.find("cannot download f.gz: " + a.base_url() + "f.gz: HTTP 404; " + b.base_url() + "f.gz: HTTP 404") !=
        std::string::npos);
  CHECK(what.find('\n') == std::string::npos);
  CHECK_FALSE(exists(dest));

  const std::string body = random_body(5000, 2);
  a.route("/f.gz", {HttpRoute::Kind::File, body});
  e = download_error([&] { download_file({a.base_url()}, "f.gz", dest, md5_of(body + "x")); });
  CHECK(e.kind() == DownloadFailure::Refused);
  CHECK(std::string(e.what()).find("MD5 " + md5_of(body) + ", expected " + md5_of(body + "x") +
                                   " (the file was removed)") != std::string::npos);
  CHECK_FALSE(exists(dest));
  CHECK_FALSE(exists(dest + ".part"));
}

TEST_CASE("download: a transfer cut halfway resumes with a range request; a .part is continued", "[download]") {
  no_proxy_for_loopback();
  HttpTestServer s;
  const std::string body = random_body(200000, 3);
  s.route("/cut", {HttpRoute::Kind::CutHalfway, body});
  TempDir dir;
  download_file({s.base_url()}, "cut", dir.file("cut"), md5_of(body));
  CHECK(read_bytes(dir.file("cut")) == body);
  CHECK(s.ranges_asked("/cut") == std::vector<std::string>{"", "bytes=100000-"});

  // A .part left by an earlier run (interrupted, killed) is continued, not restarted.
  s.route("/part", {HttpRoute::Kind::File, body});
  write_bytes(dir.file("part.part"), body.substr(0, 77777));
  download_file({s.base_url()}, "part", dir.file("part"), md5_of(body));
  CHECK(read_bytes(dir.file("part")) == body);
  CHECK(s.ranges_asked("/part") == std::vector<std::string>{"bytes=77777-"});

  // A server that ignores ranges sends it all again: the file restarts, still right.
  s.route("/norange", {HttpRoute::Kind::File, body, "", false});
  write_bytes(dir.file("norange.part"), body.substr(0, 5000));
  download_file({s.base_url()}, "norange", dir.file("norange"), md5_of(body));
  CHECK(read_bytes(dir.file("norange")) == body);

  // A .part that is already whole (416 for its range) is checked and put in place.
  write_bytes(dir.file("whole.part"), body);
  s.route("/whole", {HttpRoute::Kind::File, body});
  download_file({s.base_url()}, "whole", dir.file("whole"), md5_of(body));
  CHECK(read_bytes(dir.file("whole")) == body);

  // A .part that is not this file's start (wrong checksum at the end): removed, reported.
  write_bytes(dir.file("bad.part"), std::string(100, 'x'));
  s.route("/bad", {HttpRoute::Kind::File, body});
  DownloadError e = download_error([&] { download_file({s.base_url()}, "bad", dir.file("bad"), md5_of(body)); });
  CHECK(std::string(e.what()).find("the file was removed") != std::string::npos);
  CHECK_FALSE(exists(dir.file("bad.part")));
  download_file({s.base_url()}, "bad", dir.file("bad"), md5_of(body));  // the next run starts clean
  CHECK(read_bytes(dir.file("bad")) == body);
}

TEST_CASE("download: a slow server finishes, a stalled one times out, a closed port is unreachable", "[download]") {
  no_proxy_for_loopback();
  HttpTestServer s;
  const std::string body = random_body(40000, 4);
  s.route("/slow", {HttpRoute::Kind::Slow, body});
  s.route("/stall", {HttpRoute::Kind::Stall, body});
  TempDir dir;
  int64_t last_done = -1, last_total = 0;
  DownloadOptions o;
  o.on_progress = [&](int64_t done, int64_t total) { last_done = done, last_total = total; };
  download_file({s.base_url()}, "slow", dir.file("slow"), md5_of(body), o);
  CHECK(read_bytes(dir.file("slow")) == body);
  CHECK(last_done == static_cast<int64_t>(body.size()));
  CHECK(last_total == static_cast<int64_t>(body.size()));

  o.stall_timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  DownloadError e = download_error([&] { download_file({s.base_url()}, "stall", dir.file("stall"), "", o); });
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(e.kind() == DownloadFailure::Refused);  // it answered, then stopped sending
  CHECK(std::string(e.what()).find("too slow") != std::string::npos);
  CHECK(took < 10.0);
  CHECK(s.ranges_asked("/stall").size() == 1);  // no retry: the attempt made no progress

  // A port nothing listens on: bound, then closed again.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  const std::string closed = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  e = download_error([&] { download_file({closed, closed}, "x", dir.file("x"), ""); });
  CHECK(e.kind() == DownloadFailure::Unreachable);
  CHECK(std::string(e.what()).find("cannot download x: " + closed + "x: ") == 0);
}

TEST_CASE("download: a disk that cannot take the file is a local error; an interrupt keeps the .part", "[download]") {
  no_proxy_for_loopback();
  HttpTestServer s;
  const std::string body = random_body(100000, 5);
  s.route("/f", {HttpRoute::Kind::Slow, body});
  TempDir dir;
  // No folder to write in.
  DownloadError e = download_error([&] { download_file({s.base_url()}, "f", dir.file("no/such/f"), ""); });
  CHECK(e.kind() == DownloadFailure::Local);
  CHECK(std::string(e.what()).find(dir.file("no/such/f.part") + ": cannot create the file") == 0);

  // A full disk, played by a file size limit in a child process (EFBIG where ENOSPC would be).
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{20000, 20000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      download_file({s.base_url()}, "f", dir.file("full"), md5_of(body));
    } catch (const DownloadError& err) {
      const bool named = std::string(err.what()).find(dir.file("full.part") + ": cannot write (File too large)") == 0;
      ::_exit(err.kind() == DownloadFailure::Local && named ? 0 : 3);
    } catch (...) {
      ::_exit(4);
    }
    ::_exit(5);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // An exception from the progress callback (a signal's Interrupted) stops the transfer,
  // passes through unchanged, and keeps the .part; the next call resumes it.
  struct Stop {};
  DownloadOptions o;
  o.on_progress = [](int64_t done, int64_t) {
    if (done > 30000) throw Stop{};
  };
  CHECK_THROWS_AS(download_file({s.base_url()}, "f", dir.file("f"), md5_of(body), o), Stop);
  CHECK_FALSE(exists(dir.file("f")));
  const std::string partial = read_bytes(dir.file("f.part"));
  CHECK(partial.size() > 30000);
  CHECK(partial.size() < body.size());
  download_file({s.base_url()}, "f", dir.file("f"), md5_of(body));
  CHECK(read_bytes(dir.file("f")) == body);
  CHECK(s.ranges_asked("/f").back() == "bytes=" + std::to_string(partial.size()) + "-");
}

TEST_CASE("download: http_proxy from the environment is used as curl uses it", "[download]") {
  // The loopback server plays the proxy: it gets the absolute URL of a host that does not
  // exist (.invalid, RFC 2606), which is never looked up: the proxy is asked instead.
  HttpTestServer proxy;
  const std::string body = random_body(1000, 6);
  proxy.route("http://mirror.invalid/data/f.gz", {HttpRoute::Kind::File, body});
  no_proxy_for_loopback();
  TempDir dir;
  {
    EnvGuard via_proxy("http_proxy", proxy.base_url());
    download_file({"http://mirror.invalid/data"}, "f.gz", dir.file("f.gz"), md5_of(body));
  }
  CHECK(read_bytes(dir.file("f.gz")) == body);
  CHECK(proxy.ranges_asked("http://mirror.invalid/data/f.gz").size() == 1);
}
