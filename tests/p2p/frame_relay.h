// FrameRelay: a man in the middle on loopback for p2p tests. It forwards TCP between a
// dialling host and a target port, and lets the test rewrite the frames the dialler
// sends after its hello (drop, duplicate, reorder, flip bits).
// Thread-safety: construct and destroy on one thread; the rewriter runs on relay threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/mutex.h"

namespace cairn::p2p::test {

class FrameRelay {
 public:
  // Called for frame `index` (0 = the auth frame) of connection `conn` (0, 1, ... in accept
  // order) with the whole frame (length prefix included); returns what to forward instead.
  using Rewriter = std::function<std::vector<Bytes>(size_t conn, size_t index, Bytes frame)>;

  // on_accept, if set, runs on the accept thread before each connection is forwarded
  // (e.g. a rendezvous that holds two dials until both exist).
  FrameRelay(uint16_t target_port, Rewriter rewriter, std::function<void()> on_accept = nullptr);
  ~FrameRelay();
  FrameRelay(const FrameRelay&) = delete;
  FrameRelay& operator=(const FrameRelay&) = delete;

  uint16_t port() const { return port_; }
  size_t connections() const { return connections_; }

 private:
  void AcceptLoop();
  void PumpRaw(int from, int to);
  void PumpFrames(size_t conn, int from, int to);

  const uint16_t target_port_;
  const Rewriter rewriter_;
  const std::function<void()> on_accept_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};
  std::thread accept_thread_;
  Mutex mu_;
  std::vector<int> fds_ GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ GUARDED_BY(mu_);
};

}  // namespace cairn::p2p::test
