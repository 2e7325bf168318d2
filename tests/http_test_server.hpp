#pragma once
// A small HTTP/1.1 server on 127.0.0.1 (on a port the kernel picks) for the download
// tests: it serves byte strings from memory, honours "Range: bytes=N-", and plays the
// faults a downloader meets on the internet, one route each. Never another address.
#include <atomic>
#include <random>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "datasets/md5.hpp"

struct HttpRoute {
  enum class Kind {
    File,        // 200, or 206 for a range request when ranges are honoured
    NotFound,    // 404
    Redirect,    // 302 to `location`
    CutHalfway,  // the first request gets half the body, then the connection closes
    Slow,        // the body in small pieces, a pause between them
    Stall,       // the headers, then nothing until the server stops
  };
  HttpRoute() = default;
  HttpRoute(Kind k, std::string b, std::string loc = "", bool ranges = true)
      : kind(k), body(std::move(b)), location(std::move(loc)), honour_range(ranges) {}
  Kind kind = Kind::File;
  std::string body;
  std::string location;      // Redirect
  bool honour_range = true;  // false: a range request gets the whole file (200)
};

class HttpTestServer {
 public:
  HttpTestServer();   // listening when constructed
  ~HttpTestServer();  // stops the server and every connection (a stalled one too)
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  void route(const std::string& path, HttpRoute r);
  std::string base_url() const;  // "http://127.0.0.1:PORT/"
  int port() const { return port_; }
  // The requests for `path` so far and the Range header of each ("" when none).
  std::vector<std::string> ranges_asked(const std::string& path) const;

 private:
  void accept_loop();
  void serve(int fd);
  bool send_all(int fd, const std::string& bytes);

  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::map<std::string, HttpRoute> routes_;
  std::map<std::string, std::vector<std::string>> ranges_;
  std::map<std::string, int> served_;  // CutHalfway: requests served so far
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

// What the download tests serve and check: seeded random bytes and their MD5.
inline std::string random_body(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

inline std::string md5_of(const std::string& s) {
  fc::data::Md5 m;
  m.update(s.data(), s.size());
  return m.hex_digest();
}
