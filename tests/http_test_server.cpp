#include "tests/http_test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

HttpTestServer::HttpTestServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("HttpTestServer: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only
  addr.sin_port = 0;                              // a free port
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("HttpTestServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpTestServer::~HttpTestServer() {
  stop_ = true;
  acceptor_.join();
  for (std::thread& t : connections_) t.join();
  ::close(listen_fd_);
}

void HttpTestServer::route(const std::string& path, HttpRoute r) {
  std::lock_guard<std::mutex> lock(mutex_);
  routes_[path] = std::move(r);
}

std::string HttpTestServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

std::vector<std::string> HttpTestServer::ranges_asked(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = ranges_.find(path);
  return it == ranges_.end() ? std::vector<std::string>{} : it->second;
}

void HttpTestServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

bool HttpTestServer::send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

namespace {

// The request head (up to the blank line), or "" when the client went away.
std::string read_head(int fd) {
  std::string head;
  char c;
  while (head.size() < 16384 && head.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) return "";
    head += c;
  }
  return head;
}

std::string header_value(const std::string& head, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const size_t at = head.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

std::string status_head(const std::string& status, size_t length, const std::string& more = "") {
  return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(length) + "\r\n" + more +
         "Connection: close\r\n\r\n";
}

}  // namespace

void HttpTestServer::serve(int fd) {
  const std::string head = read_head(fd);
  if (head.empty()) return;
  const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
  const std::string path = head.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string range = header_value(head, "Range");
  HttpRoute r;
  int earlier = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_[path].push_back(range);
    auto it = routes_.find(path);
    if (it == routes_.end()) {
      r.kind = HttpRoute::Kind::NotFound;
    } else {
      r = it->second;
    }
    earlier = served_[path]++;
  }
  if (r.kind == HttpRoute::Kind::NotFound) {
    send_all(fd, status_head("404 Not Found", 9) + "not found");
    return;
  }
  if (r.kind == HttpRoute::Kind::Redirect) {
    send_all(fd, status_head("302 Found", 0, "Location: " + r.location + "\r\n"));
    return;
  }
  // The part of the body this request gets: from the range's start when honoured.
  size_t from = 0;
  if (r.honour_range && range.rfind("bytes=", 0) == 0) from = std::stoul(range.substr(6));
  if (from > r.body.size()) {
    send_all(fd, status_head("416 Range Not Satisfiable", 0));
    return;
  }
  const std::string rest = r.body.substr(from);
  const std::string head_out =
      from > 0 ? status_head("206 Partial Content", rest.size(),
                             "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(r.body.size() - 1) +
                                 "/" + std::to_string(r.body.size()) + "\r\n")
               : status_head("200 OK", rest.size());
  if (!send_all(fd, head_out)) return;
  switch (r.kind) {
    case HttpRoute::Kind::CutHalfway:
      send_all(fd, earlier == 0 ? rest.substr(0, rest.size() / 2) : rest);
      return;  // closing with bytes outstanding: the client sees a cut transfer
    case HttpRoute::Kind::Slow:
      for (size_t i = 0; i < rest.size() && !stop_; i += 512) {
        if (!send_all(fd, rest.substr(i, 512))) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return;
    case HttpRoute::Kind::Stall:
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return;
    default:
      send_all(fd, rest);
  }
}
