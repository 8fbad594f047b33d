// Synchronous JSON-RPC 2.0 over WebSocket for the CLI, tests and benchmarks: calls, and the
// notifications of subscriptions (docs/RPC.md "Subscriptions"). Every wait has a deadline.
// Thread-compatible: one WsClient per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "rpc/client.h"
#include "rpc/dispatcher.h"

namespace cairn::rpc {

struct Notification {
  uint64_t subscription = 0;
  Json result;
};

class WsClient {
 public:
  // `url` is http://host:port[/path] or ws://host:port[/path]. Connects and upgrades within
  // options.connect_timeout. kRejected when the server answered the upgrade with an HTTP
  // status instead (a server without WebSocket): a caller may fall back to polling over HTTP.
  static Result<WsClient> Connect(std::string_view url, ClientOptions options = {});

  WsClient(WsClient&&) noexcept;
  WsClient& operator=(WsClient&&) noexcept;
  ~WsClient();  // closes (1000) if still open, waiting at most a second

  // A call; notifications that arrive before its answer are kept for Next().
  CallResult Call(std::string_view method, const Json& params = nullptr);
  // subscribe with `params` (["newBlocks"], ["tx", {"hash": ...}], ...): the subscription id.
  Result<uint64_t> Subscribe(const Json& params);
  // The next notification, waiting up to `timeout`; nullopt when none came. An error when the
  // connection closed; a close by the server carries its code and reason ("closed by the
  // server (1008): slow consumer: ...").
  Result<std::optional<Notification>> Next(std::chrono::milliseconds timeout);

 private:
  class Impl;
  explicit WsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::rpc
