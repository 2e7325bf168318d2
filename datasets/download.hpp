#pragma once
// Downloading a file over HTTP(S) with libcurl, the way a dataset is fetched: from the
// first of several mirrors that serves it, checked against a known MD5, resumed where a
// cut connection left it, and put in place only when whole.
//   - bytes go to DEST.part; a .part already there is continued with an HTTP range
//     request (a server that ignores the range sends it all again, and the file restarts);
//   - a transfer cut halfway is retried from where it stopped while it makes progress;
//   - the finished .part is checked (MD5) and renamed to DEST; a wrong checksum removes it;
//   - a proxy from the environment (http_proxy, https_proxy, no_proxy) is used as curl
//     uses it; redirects are followed (http and https only);
//   - every mirror failing throws DownloadError, one line naming the file and each
//     mirror's reason; kind() says whether no mirror could be reached at all (then a
//     caller may fall back to offline data) or something else went wrong.
// The progress callback and fc::cancellation_point() run about once a second: a signal
// stops the download there (the exception is rethrown, the .part is kept for a resume).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/error.hpp"

namespace fc::data {

struct DownloadOptions {
  long connect_timeout_s = 20;
  long stall_timeout_s = 30;  // a mirror sending under 1 byte/s for this long is given up
  int attempts_per_mirror = 5;  // retries of a transfer cut halfway, while it makes progress
  // Bytes of the file done so far and its size (-1 while unknown); may throw.
  std::function<void(int64_t done, int64_t total)> on_progress;
};

enum class DownloadFailure {
  Unreachable,  // no mirror could be reached (no network, no DNS, refused, timed out)
  Refused,      // a mirror answered but did not serve the file (HTTP error, cut, bad checksum)
  Local,        // this machine: the file cannot be written (disk full, permissions)
};

struct DownloadError : Error {
  DownloadError(DownloadFailure kind, const std::string& what) : Error(what), kind_(kind) {}
  DownloadFailure kind() const { return kind_; }

 private:
  DownloadFailure kind_;
};

// Downloads `file_name` from each of `base_urls` + file_name in turn into `dest`
// (see above). An empty md5 skips the check. Returns the URL that served it.
std::string download_file(const std::vector<std::string>& base_urls, const std::string& file_name,
                          const std::string& dest, const std::string& md5, const DownloadOptions& options = {});

}  // namespace fc::data
