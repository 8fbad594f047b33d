// Test helpers for rpc: polling with a deadline, a raw TCP client for malformed traffic, and a
// one-shot fake HTTP server for client edge cases. POSIX sockets only, so tests do not depend
// on the code under test to talk to it. Thread-compatible.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "tests/kit/eventually.h"

namespace cairn::rpc::testing {

using namespace std::chrono_literals;

using testkit::Eventually;

// A blocking TCP connection to 127.0.0.1 with deadline-bounded reads.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  // Takes over a connected socket (made with options RawConn(port) does not set).
  struct Adopt {
    int fd;
  };
  explicit RawConn(Adopt a) : fd_(a.fd) {}
  ~RawConn() { Close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the peer has reset the connection.
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until the peer closes (true) or the deadline passes (false); *out gets the bytes.
  bool ReadUntilClosed(std::string* out, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      if (!WaitReadable(deadline)) return false;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;  // EOF or reset: closed either way
      out->append(buf, static_cast<size_t>(n));
    }
  }

  // Reads one HTTP response with a Content-Length (or none and no body, as for 204/100).
  // Returns "" on timeout or close before a full response.
  std::string ReadResponse(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t body = 0;
        std::string head = pending_.substr(0, end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t cl = head.find("content-length:");
        if (cl != std::string::npos) body = std::stoul(head.substr(cl + 15));
        if (pending_.size() >= end + 4 + body) {
          std::string response = pending_.substr(0, end + 4 + body);
          pending_.erase(0, end + 4 + body);
          return response;
        }
      }
      if (!WaitReadable(deadline)) return "";
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  bool WaitReadable(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  }

  int fd_ = -1;
  std::string pending_;
};

// Serves canned HTTP responses on 127.0.0.1, one connection at a time. For each request read
// (headers and Content-Length body) it sends respond(request) verbatim; an empty answer closes
// the connection without a response. A connection is kept for more requests unless the
// answer says "Connection: close".
class FakeHttpServer {
 public:
  explicit FakeHttpServer(std::function<std::string(const std::string&)> respond)
      : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      Serve(c);
      ::close(c);
    }
  }

  void Serve(int c) {
    std::string pending;
    char buf[4096];
    while (!stop_) {
      size_t need = std::string::npos;
      while (need == std::string::npos || pending.size() < need) {
        size_t end = pending.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
          size_t cl = pending.find("Content-Length: ");
          size_t body =
              cl == std::string::npos || cl > end ? 0 : std::stoul(pending.substr(cl + 16));
          need = end + 4 + body;
          continue;
        }
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 5000) <= 0) return;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) return;  // the client went away
        pending.append(buf, static_cast<size_t>(n));
      }
      std::string request = pending.substr(0, need);
      pending.erase(0, need);
      ++requests_;
      std::string response = respond_(request);
      if (response.empty()) return;
      ::send(c, response.data(), response.size(), MSG_NOSIGNAL);
      if (response.find("Connection: close") != std::string::npos) {
        ::shutdown(c, SHUT_WR);
        // Wait for the client to close so it never sees a reset instead of our response.
        pollfd q{c, POLLIN, 0};
        while (::poll(&q, 1, 2000) > 0 && ::recv(c, buf, sizeof buf, 0) > 0) {
        }
        return;
      }
    }
  }

  std::function<std::string(const std::string&)> respond_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

inline std::string HttpJsonResponse(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace cairn::rpc::testing
