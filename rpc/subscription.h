// Push over WebSocket: the connection side (PushChannel, implemented by rpc/) and the
// subscription side (SubscriptionService, implemented above rpc/, e.g. api::SubscriptionHub).
// Thread-safety: every method of both may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rpc/dispatcher.h"

namespace cairn::rpc {

// One WebSocket connection's outbound queue, bounded by messages and bytes. Producers never
// block: a push that does not fit closes the connection as a slow consumer (close code 1008,
// its reason names the bound) and returns false, as does any push once the connection closed.
class PushChannel {
 public:
  virtual ~PushChannel() = default;
  // Queues {"jsonrpc":"2.0","method":"subscription","params":{"subscription":"0x<id hex>",
  // "result":<result>}}. `result` is JSON text, shared by every subscriber of one event.
  // Messages leave in the order they were queued.
  virtual bool Notify(uint64_t subscription, std::shared_ptr<const std::string> result) = 0;
  // Queues an answer (a complete JSON-RPC response), in order with the notifications.
  virtual bool Send(std::string message) = 0;
  // False once the connection is closing: producers may stop work meant for it.
  virtual bool open() const = 0;
};

// The methods a WebSocket connection serves itself rather than through the dispatcher. Each
// call is reported to DispatcherOptions::on_call like a dispatcher method's, so an observer
// that names its series by method (the node's metrics) lists these beside Methods().
inline constexpr std::array<std::string_view, 2> kSubscriptionMethods = {"subscribe",
                                                                         "unsubscribe"};

// Subscriptions over PushChannels. The WebSocket transport routes `subscribe` and
// `unsubscribe` here (they are not dispatcher methods) and calls Disconnected when a
// connection ends.
class SubscriptionService {
 public:
  virtual ~SubscriptionService() = default;
  // `subscribe` with `params`. On success calls `accept(id)` exactly once, which queues the
  // answer on `channel`, BEFORE any Notify for `id`; may then push events (a resume) before
  // returning. Runs on a heavy RPC thread, so it may read the store. An error is the answer.
  virtual std::optional<RpcError> Subscribe(const Json& params,
                                            const std::shared_ptr<PushChannel>& channel,
                                            const std::function<void(uint64_t id)>& accept) = 0;
  // `unsubscribe`: true when `id` was one of `channel`'s subscriptions (and is now gone).
  virtual bool Unsubscribe(uint64_t id, const PushChannel& channel) = 0;
  // The connection closed: drops its subscriptions and every reference to it.
  virtual void Disconnected(const PushChannel& channel) = 0;
};

// What GET /ready answers: 200 {"ready":true} or 503 {"ready":false,"reason":...}.
struct Readiness {
  bool ready = true;
  std::string reason;  // why not, for a human reading an orchestrator's events
};

// The JSON text of a subscription notification (PushChannel::Notify's message), for
// transports and tests.
std::string NotificationMessage(uint64_t subscription, const std::string& result);
// "0x" + lower-case hex, the wire form of a subscription id.
std::string SubscriptionIdString(uint64_t id);
// Parses SubscriptionIdString's form; nullopt otherwise.
std::optional<uint64_t> ParseSubscriptionId(const Json& value);

}  // namespace cairn::rpc
