#include "datasets/download.hpp"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>

#include "datasets/md5.hpp"
#include "engine/cancel.hpp"

namespace fc::data {

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string join_url(const std::string& base, const std::string& file_name) {
  if (!base.empty() && base.back() == '/') return base + file_name;
  return base + "/" + file_name;
}

int64_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// One request's state, shared with curl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  FILE* file = nullptr;
  int64_t had = 0;            // bytes of the .part before this request
  int64_t received = 0;       // body bytes written by this request
  bool body_started = false;  // the first body bytes decided between append and restart
  int write_errno = 0;
  std::exception_ptr thrown;  // by on_progress or the cancellation point
  const DownloadOptions* options = nullptr;
};

size_t on_body(char* bytes, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (!t->body_started) {
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code < 400) return n;  // a redirect's own body
    t->body_started = true;
    // Anything but 206 Partial Content is the whole file: the .part starts again.
    if (t->had > 0 && code != 206) {
      if (std::fflush(t->file) != 0 || ::ftruncate(::fileno(t->file), 0) != 0) {
        t->write_errno = errno;
        return 0;
      }
      t->had = 0;
    }
  }
  if (std::fwrite(bytes, 1, n, t->file) != n) {
    t->write_errno = errno;
    return 0;
  }
  t->received += static_cast<int64_t>(n);
  return n;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  try {
    cancellation_point();
    if (t->options->on_progress) t->options->on_progress(t->had + now, total > 0 ? t->had + total : -1);
  } catch (...) {
    t->thrown = std::current_exception();
    return 1;  // aborts the transfer; the exception is rethrown once curl returns
  }
  return 0;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long http = 0;
  int64_t received = 0;
  std::string message;  // why it failed, for the error line
};

bool unreachable(const Attempt& a) {
  switch (a.code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return true;
    case CURLE_OPERATION_TIMEDOUT:
      return a.http == 0;  // nothing answered in time
    default:
      return false;
  }
}

// A transfer that stopped halfway, worth continuing from where it stopped.
bool cut_short(const Attempt& a) {
  return a.received > 0 && (a.code == CURLE_PARTIAL_FILE || a.code == CURLE_RECV_ERROR ||
                            a.code == CURLE_OPERATION_TIMEDOUT || a.code == CURLE_GOT_NOTHING);
}

[[noreturn]] void cannot_write(const std::string& part, int err, const char* doing) {
  throw DownloadError(DownloadFailure::Local, part + ": cannot " + doing + " (" + std::strerror(err) +
                                                  "); what was downloaded is kept there, run again to resume");
}

// One request for `url` that appends to (or restarts) `part`.
Attempt fetch_once(const std::string& url, const std::string& part, const DownloadOptions& options) {
  Transfer t;
  t.options = &options;
  t.had = file_size(part);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(part.c_str(), "ab"), std::fclose);
  if (!file) cannot_write(part, errno, "create the file");
  t.file = file.get();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  FC_CHECK(curl, "curl_easy_init failed");
  t.curl = curl.get();
  char curl_error[CURL_ERROR_SIZE] = "";
  const std::string range = std::to_string(t.had) + "-";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // an HTTP error is an error, not a body
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // our signal handlers stay ours
  curl_easy_setopt(c, CURLOPT_USERAGENT, "flowcpp");
  if (t.had > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());

  Attempt a;
  a.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.http);
  a.received = t.received;
  if (std::fflush(t.file) != 0 && !t.write_errno) t.write_errno = errno;
  if (t.thrown) std::rethrow_exception(t.thrown);  // interrupted: the .part stays
  if (t.write_errno) cannot_write(part, t.write_errno, "write");
  if (a.code == CURLE_HTTP_RETURNED_ERROR) {
    a.message = "HTTP " + std::to_string(a.http);
  } else if (a.code != CURLE_OK) {
    a.message = curl_error[0] ? curl_error : curl_easy_strerror(a.code);
  }
  if (std::fclose(file.release()) != 0) cannot_write(part, errno, "write");
  if (a.code != CURLE_OK && file_size(part) == 0) std::remove(part.c_str());  // nothing to resume
  return a;
}

bool checksum_matches(const std::string& path, const std::string& md5, std::string& got) {
  if (md5.empty()) return true;
  got = md5_of_file(path);
  return got == md5;
}

}  // namespace

std::string download_file(const std::vector<std::string>& base_urls, const std::string& file_name,
                          const std::string& dest, const std::string& md5, const DownloadOptions& options) {
  init_curl_once();
  FC_CHECK(!base_urls.empty(), "cannot download " << file_name << ": no mirror given");
  const std::string part = dest + ".part";
  std::string reasons;
  bool none_reached = true;
  for (const std::string& base : base_urls) {
    const std::string url = join_url(base, file_name);
    Attempt a;
    for (int attempt = 0; attempt < options.attempts_per_mirror; ++attempt) {
      a = fetch_once(url, part, options);
      // 416: the range starts at the end, so the .part may be whole already (checked
      // below); otherwise it is not this file's start, and the next attempt restarts.
      if (a.code == CURLE_HTTP_RETURNED_ERROR && a.http == 416) {
        std::string got;
        if (file_size(part) > 0 && checksum_matches(part, md5, got)) {
          a = Attempt{};
          break;
        }
        std::remove(part.c_str());
        continue;
      }
      if (a.code == CURLE_OK || !cut_short(a)) break;
    }
    std::string got;
    if (a.code == CURLE_OK && !checksum_matches(part, md5, got)) {
      std::remove(part.c_str());
      a.code = CURLE_BAD_CONTENT_ENCODING;  // any failure code: the mirror answered, with the wrong bytes
      a.message = "MD5 " + got + ", expected " + md5 + " (the file was removed)";
    }
    if (a.code == CURLE_OK) {
      if (std::rename(part.c_str(), dest.c_str()) != 0) cannot_write(part, errno, ("rename it to " + dest).c_str());
      return url;
    }
    if (!unreachable(a)) none_reached = false;
    reasons += (reasons.empty() ? "" : "; ") + url + ": " + a.message;
  }
  throw DownloadError(none_reached ? DownloadFailure::Unreachable : DownloadFailure::Refused,
                      "cannot download " + file_name + ": " + reasons);
}

}  // namespace fc::data
