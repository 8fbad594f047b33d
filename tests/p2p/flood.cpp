#include "tests/p2p/flood.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace cairn::p2p::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kReadTimeout{2000};

sockaddr_in Loopback(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

bool SendAll(int fd, ByteView b) {
  size_t done = 0;
  while (done < b.size()) {
    const ssize_t n = ::send(fd, b.data() + done, b.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads up to `want` bytes into *out (appending) until it has them, the peer closes, or the
// deadline passes. Returns true if it has them.
bool ReadSome(int fd, size_t want, Bytes* out, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  uint8_t buf[4096];
  while (out->size() < want) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), want - out->size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out->insert(out->end(), buf, buf + n);
  }
  return true;
}

}  // namespace

int ConnectFrom(const std::string& source_ip, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  // A listener whose backlog is full drops SYNs; without a timeout connect() would block
  // for minutes (Linux bounds a blocking connect by SO_SNDTIMEO).
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in src = Loopback(source_ip, 0);
  sockaddr_in dst = Loopback("127.0.0.1", port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HalfOpenFlood::HalfOpenFlood(std::vector<uint16_t> ports, size_t per_port,
                             std::vector<std::string> source_ips, bool partial_hello)
    : ports_(std::move(ports)),
      per_port_(per_port),
      source_ips_(std::move(source_ips)),
      partial_hello_(partial_hello) {
  thread_ = std::thread([this] { Run(); });
}

HalfOpenFlood::~HalfOpenFlood() {
  stop_ = true;
  thread_.join();
}

int HalfOpenFlood::Open(uint16_t port, const std::string& source_ip) {
  const int fd = ConnectFrom(source_ip, port);
  if (fd < 0) return -1;
  ++opened_;
  if (partial_hello_) SendAll(fd, AsBytes(std::string_view("CAIRNP2P\x01 slowly...", 20)));
  return fd;
}

void HalfOpenFlood::Run() {
  struct Conn {
    uint16_t port;
    const std::string* source;
    int fd;
  };
  std::vector<Conn> conns;
  for (uint16_t port : ports_) {
    for (size_t i = 0; i < per_port_; ++i) {
      conns.push_back({port, &source_ips_[i % source_ips_.size()], -1});
    }
  }
  std::vector<pollfd> fds(conns.size());
  uint8_t buf[4096];
  while (!stop_) {
    for (auto& c : conns) {
      if (c.fd < 0) c.fd = Open(c.port, *c.source);  // a refused connect is retried next round
    }
    for (size_t i = 0; i < conns.size(); ++i) fds[i] = pollfd{conns[i].fd, POLLIN, 0};
    const int r = ::poll(fds.data(), fds.size(), 50);
    if (r <= 0) continue;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (conns[i].fd < 0 || fds[i].revents == 0) continue;
      // Whatever the listener sends (an older version answers with its hello) is dropped;
      // only its close matters.
      const ssize_t n = ::recv(conns[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;
      ::close(conns[i].fd);
      conns[i].fd = -1;
      ++closed_;
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
}

uint64_t ConnectFlood(uint16_t port, const std::string& source_ip, size_t count,
                      const Bytes& payload) {
  uint64_t connected = 0;
  for (size_t i = 0; i < count; ++i) {
    const int fd = ConnectFrom(source_ip, port);
    if (fd < 0) continue;
    ++connected;
    if (!payload.empty()) SendAll(fd, payload);
    ::close(fd);
  }
  return connected;
}

HelloFloodResult HelloFlood(uint16_t port, const std::string& source_ip, size_t count,
                            const crypto::KeyPair& key, const NetworkId& network_id) {
  HelloFloodResult r;
  for (size_t i = 0; i < count; ++i) {
    const int fd = ConnectFrom(source_ip, port);
    if (fd < 0) continue;
    ++r.connected;
    Handshake hs(key, network_id);
    Bytes got;
    if (SendAll(fd, hs.hello()) && ReadSome(fd, kHelloSize, &got, kReadTimeout) &&
        hs.OnRemoteHello(got).ok()) {
      ++r.answered;
      SendAll(fd, hs.AuthFrame());
      // A listener that signs for anyone sends its auth frame without waiting for ours.
      Bytes auth;
      if (ReadSome(fd, kFrameHeaderSize + kAuthFrameLength, &auth, kReadTimeout)) ++r.got_auth;
    }
    ::close(fd);
  }
  return r;
}

}  // namespace cairn::p2p::test
