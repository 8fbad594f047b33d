// Helpers for p2p tests: deterministic keys, host options for loopback, polling with a
// deadline, a thread-safe inbox, a raw TCP client, and a gate that parks a handler.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "p2p/host.h"

namespace cairn::p2p::test {

using namespace std::chrono_literals;

inline constexpr MessageType kGossip = 0x10;
inline constexpr MessageType kSync = 0x30;
inline constexpr MessageType kConsensus = 0x50;

inline crypto::KeyPair KeyFor(uint8_t n) {
  std::array<uint8_t, 32> seed{};
  seed.fill(n);
  return crypto::KeyPair::FromSeed(crypto::PrivateKey(seed));
}

inline NetworkId TestNetwork() { return crypto::Sha256Of(AsBytes("cairn-p2p-test-network")); }

inline std::shared_ptr<const Allowlist> Allow(const std::vector<crypto::KeyPair>& keys) {
  std::vector<NodeId> ids;
  for (const auto& k : keys) ids.push_back(k.public_key());
  return std::make_shared<StaticAllowlist>(ids);
}

// Loopback, OS-chosen port, short timers so failures show quickly.
inline HostOptions LoopbackOptions(const crypto::KeyPair& key,
                                   std::shared_ptr<const Allowlist> allowlist) {
  HostOptions o;
  o.node_key = key;
  o.network_id = TestNetwork();
  o.allowlist = std::move(allowlist);
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.handshake_timeout = 2s;
  o.reconnect_initial = 20ms;
  o.reconnect_max = 200ms;
  o.rng_seed = 42;
  return o;
}

inline PeerAddress AddressOf(const Host& h) {
  return PeerAddress{"127.0.0.1", h.listen_port(), h.id()};
}

// Polls `pred` until it holds or `timeout` passes; the caller asserts the result.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s,
                    std::chrono::microseconds poll = 2ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// Two hosts dialling B (started): `a`, the peer a test makes B drop, which waits `a_redial`
// before dialling again so that the drop stays visible, and `c`, a bystander B must go on
// serving.
struct TwoDialers {
  TwoDialers(const Host& b, const crypto::KeyPair& ka, const crypto::KeyPair& kc,
             const std::shared_ptr<const Allowlist>& allow, std::chrono::milliseconds a_redial)
      : a(DialerOptions(b, ka, allow, a_redial)), c(DialerOptions(b, kc, allow, std::nullopt)) {}

  // Starts A and C, and waits until each is connected to B as seen from both ends: B can count
  // a peer before that peer's side has registered the connection, and a Send before then
  // finds no peer.
  void StartAndJoin(const Host& b) {
    REQUIRE(a.Start().ok());
    REQUIRE(c.Start().ok());
    REQUIRE(WaitFor([&] {
      return b.GetPeers().size() == 2 && a.IsConnected(b.id()) && c.IsConnected(b.id());
    }));
  }

  Host a, c;

 private:
  static HostOptions DialerOptions(const Host& b, const crypto::KeyPair& key,
                                   const std::shared_ptr<const Allowlist>& allow,
                                   std::optional<std::chrono::milliseconds> redial) {
    HostOptions o = LoopbackOptions(key, allow);
    o.persistent_peers = {AddressOf(b)};
    if (redial) o.reconnect_initial = o.reconnect_max = *redial;
    return o;
  }
};

struct Received {
  NodeId from;
  MessageType type;
  Bytes payload;
};

// Collects messages from a host's handlers (network thread) for the test thread.
class Inbox {
 public:
  void Register(Host& host, std::initializer_list<MessageType> types) {
    for (MessageType t : types) {
      host.SetHandler(t, [this](const NodeId& from, MessageType type, ByteView payload) {
        MutexLock lock(&mu_);
        items_.push_back({from, type, Bytes(payload.begin(), payload.end())});
      });
    }
  }
  size_t Count() const {
    MutexLock lock(&mu_);
    return items_.size();
  }
  std::vector<Received> Items() const {
    MutexLock lock(&mu_);
    return items_;
  }

 private:
  mutable Mutex mu_;
  std::vector<Received> items_ GUARDED_BY(mu_);
};

// Parks whoever calls Wait() until Open(); bounded so a failing test cannot hang forever.
class Gate {
 public:
  void Wait() {
    MutexLock lock(&mu_);
    cv_.WaitUntil(&mu_, std::chrono::steady_clock::now() + 60s, [this] {
      mu_.AssertHeld();  // the predicate runs inside WaitUntil, under mu_
      return open_;
    });
  }
  void Open() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.NotifyAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ GUARDED_BY(mu_) = false;
};

// A plain blocking TCP client for speaking garbage (or nothing) to a host.
class RawClient {
 public:
  explicit RawClient(uint16_t port);
  ~RawClient();
  bool connected() const { return fd_ >= 0; }
  bool Send(ByteView bytes);
  // True once the peer closed the connection (EOF or reset) within `timeout`. Data the
  // peer sends (its hello) is read and discarded.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

Bytes Counter(uint64_t n, size_t size);  // payload that starts with n (little endian)
uint64_t CounterOf(ByteView payload);

}  // namespace cairn::p2p::test
