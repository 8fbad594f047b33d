#include "tests/p2p/frame_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cairn::p2p::test {
namespace {

constexpr size_t kHelloBytes = 41;  // docs/P2P.md: the cleartext hello precedes all frames

bool SendAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

FrameRelay::FrameRelay(uint16_t target_port, Rewriter rewriter, std::function<void()> on_accept)
    : target_port_(target_port), rewriter_(std::move(rewriter)), on_accept_(std::move(on_accept)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(std::string("relay: cannot listen: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FrameRelay::~FrameRelay() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes the blocked accept()
  accept_thread_.join();
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  for (auto& t : pumps_) t.join();
  for (int fd : fds_) ::close(fd);
  ::close(listen_fd_);
}

void FrameRelay::AcceptLoop() {
  while (!stopping_) {
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR && !stopping_) continue;
      return;
    }
    if (on_accept_) on_accept_();
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const size_t conn = connections_++;
    MutexLock lock(&mu_);
    fds_.push_back(client);
    fds_.push_back(server);
    pumps_.emplace_back([this, conn, client, server] { PumpFrames(conn, client, server); });
    pumps_.emplace_back([this, client, server] { PumpRaw(server, client); });
  }
}

void FrameRelay::PumpRaw(int from, int to) {
  uint8_t buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !SendAll(to, buf, static_cast<size_t>(n))) break;
  }
  ::shutdown(from, SHUT_RDWR);
  ::shutdown(to, SHUT_RDWR);
}

void FrameRelay::PumpFrames(size_t conn, int from, int to) {
  Bytes pending;
  size_t hello_left = kHelloBytes;
  size_t index = 0;
  uint8_t buf[64 * 1024];
  bool ok = true;
  while (ok) {
    const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.insert(pending.end(), buf, buf + n);
    if (hello_left > 0) {
      const size_t k = std::min(hello_left, pending.size());
      ok = SendAll(to, pending.data(), k);
      pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(k));
      hello_left -= k;
    }
    while (ok && hello_left == 0 && pending.size() >= 4) {
      const size_t len = size_t{pending[0]} << 24 | size_t{pending[1]} << 16 |
                         size_t{pending[2]} << 8 | size_t{pending[3]};
      if (pending.size() < 4 + len) break;
      Bytes frame(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(4 + len));
      pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(4 + len));
      std::vector<Bytes> outs;
      if (rewriter_) {
        outs = rewriter_(conn, index++, std::move(frame));
      } else {
        outs.push_back(std::move(frame));
      }
      for (const Bytes& out : outs) {
        if (!(ok = SendAll(to, out.data(), out.size()))) break;
      }
    }
  }
  ::shutdown(from, SHUT_RDWR);
  ::shutdown(to, SHUT_RDWR);
}

}  // namespace cairn::p2p::test
