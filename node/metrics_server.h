// MetricsServer: serves GET /metrics (the Prometheus text format of NodeMetrics::Render) on its
// own address and thread, apart from JSON-RPC. What reaches it is hostile: at most
// kMaxConnections at once (when full, a newcomer evicts the oldest connection still sending its
// request, so idle connections cannot lock a scraper out; with every slot being answered, the
// newcomer is closed), a request head of at most kMaxHeaderBytes and no body, a deadline to read
// the request and one to write the answer, and one request per connection. Thread-safety:
// Start/Stop from one thread; the render function is called on the server's thread and must be
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace cairn::node {

class MetricsServer {
 public:
  static constexpr size_t kMaxConnections = 16;
  static constexpr size_t kMaxHeaderBytes = 8192;
  static constexpr int kReadTimeoutMs = 2000;  // a scraper sends its request at once
  static constexpr int kWriteTimeoutMs = 10000;

  explicit MetricsServer(std::function<std::string()> render);
  ~MetricsServer();  // stops

  // Binds host:port (port 0: a free one) and starts the thread.
  Status Start(const std::string& host, uint16_t port);
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::node
