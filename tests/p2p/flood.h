// Attack tools for tests, as an outsider on the network would use them against a p2p port:
// connections that hold a listener's pending slots, and connection or handshake floods that
// spend its CPU and its log, each from a chosen source address (any 127.0.0.0/8 address
// reaches a loopback listener, so a test can play an attacker on another host).
// HalfOpenFlood runs on its own thread; the functions block. All are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/secure_channel.h"

namespace cairn::p2p::test {

// Keeps `per_port` TCP connections open to each of `ports` on 127.0.0.1, reopening each one as
// soon as the listener closes it, until destroyed. Connection i of a port comes from
// source_ips[i % size]. Each sends nothing, or with `partial_hello` the first 20 bytes of a
// hello (a slow peer), and then nothing.
class HalfOpenFlood {
 public:
  HalfOpenFlood(std::vector<uint16_t> ports, size_t per_port, std::vector<std::string> source_ips,
                bool partial_hello = false);
  ~HalfOpenFlood();
  HalfOpenFlood(const HalfOpenFlood&) = delete;
  HalfOpenFlood& operator=(const HalfOpenFlood&) = delete;

  uint64_t opened() const { return opened_; }  // connections opened, reopenings included
  uint64_t closed_by_listener() const { return closed_; }

 private:
  void Run();
  int Open(uint16_t port, const std::string& source_ip);

  const std::vector<uint16_t> ports_;
  const size_t per_port_;
  const std::vector<std::string> source_ips_;
  const bool partial_hello_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> opened_{0}, closed_{0};
  std::thread thread_;
};

// Opens a TCP connection from source_ip to 127.0.0.1:port; -1 on failure. Blocking socket.
int ConnectFrom(const std::string& source_ip, uint16_t port);

// `count` connections, one after another: connect, send `payload` (may be empty), close.
// Returns how many connected.
uint64_t ConnectFlood(uint16_t port, const std::string& source_ip, size_t count,
                      const Bytes& payload);

struct HelloFloodResult {
  uint64_t connected = 0;
  uint64_t answered = 0;  // the listener sent its hello back (it spent a key exchange)
  uint64_t got_auth = 0;  // the listener sent its own auth frame (it signed for us)
};
// `count` handshakes, one after another: connect, send a well-formed hello with a fresh
// ephemeral key, and when the listener answers with its hello, an auth frame for `key`
// (valid for the session: pass a key the listener does not allow); then close.
HelloFloodResult HelloFlood(uint16_t port, const std::string& source_ip, size_t count,
                            const crypto::KeyPair& key, const NetworkId& network_id);

}  // namespace cairn::p2p::test
