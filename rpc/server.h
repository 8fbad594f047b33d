// JSON-RPC 2.0 over HTTP/1.1 and WebSocket: POST / answers through a Dispatcher, GET / with an
// Upgrade turns the connection into a WebSocket carrying the same methods plus subscriptions,
// GET /health answers "ok" and GET /ready what ServerOptions::readiness says.
// Thread-safety: all methods may be called from any thread. The server runs its own threads
// and calls the Dispatcher (so its handlers) concurrently from them: I/O threads that never
// run a handler, and one pool of handler threads per Lane (docs/RPC.md "Lanes").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "rpc/subscription.h"

namespace cairn::rpc {

class Dispatcher;

// Connections past the limits that may be answered 503 at once; each holds a descriptor while
// its answer drains, so a further one is closed without an answer. The node counts these in
// its file descriptor budget (node/fd_limits.h).
inline constexpr size_t kMaxRefusingConnections = 64;

struct ServerOptions {
  // Threads running heavy methods (Lane::kHeavy). A handler occupies its thread until it
  // returns, so at most `threads` heavy handlers run at once.
  size_t threads = 2;
  // Threads parsing request bodies and running light methods (Lane::kLight): status and
  // transaction admission keep these however many heavy calls are queued.
  size_t light_threads = 2;
  // Threads doing socket I/O and answering /health; they never run a handler, so /health
  // answers while every handler thread is busy.
  size_t io_threads = 1;
  // Every thread above runs this many nice levels (0..19) below the thread that calls
  // Start(). A node runs them below its block pipeline so that under overload admission gets
  // what the pipeline leaves (docs/CONFIG.md mempool.admission_nice). The threads are named
  // rpc-io, rpc-light and rpc-heavy.
  int thread_nice = 0;
  // Connections at once. A newcomer past it closes the connection idle the longest (waiting
  // for its next or first request) and takes its place; when every connection has a request
  // in progress, the newcomer is answered 503 and closed.
  size_t max_connections = 256;
  // Connections at once from one client, with the same eviction and 503 among that client's
  // connections. A client is an IPv4 address or an IPv6 /64 (base/net_address.h), since one
  // IPv6 host usually has a whole /64. Behind a reverse proxy every client is the proxy.
  size_t max_connections_per_ip = 64;
  // A larger request body is answered 413 (before it is read when Content-Length says so).
  size_t max_body_bytes = 5 * 1024 * 1024;
  // Bytes of request bodies and answers held at once across all connections (docs/RPC.md
  // "Memory in flight"): a body is reserved before it is read (503 and closed when it cannot
  // be), an answer is charged as it is built and cut like one over max_response_bytes when the
  // budget has no more. The first kUncountedBodyBytes of a body and kUncountedAnswerBytes of an
  // answer are not counted, so small calls go on. Must be >= max_body_bytes and >= the
  // dispatcher's max_response_bytes, so that any one request can be served when the server is
  // otherwise idle.
  size_t max_inflight_bytes = 256u << 20;
  // Request line plus headers; larger is answered 431.
  size_t max_header_bytes = 16 * 1024;
  // A kept-alive connection with no new request for this long is closed.
  std::chrono::milliseconds idle_timeout{30'000};
  // A new connection must deliver its first request's headers within this: a connection that
  // is opened and left silent holds a slot only this long.
  std::chrono::milliseconds first_request_timeout{5'000};
  // From the first byte of a request to its last; bounds a slowloris client.
  std::chrono::milliseconds read_timeout{15'000};
  // For writing one response; bounds a client that does not read.
  std::chrono::milliseconds write_timeout{15'000};
  // Stop() lets requests in flight finish for this long, then closes what is left.
  std::chrono::milliseconds shutdown_grace{5'000};
  // Refuse (415) a POST whose Content-Type is not application/json: a browser can send a
  // text/plain POST to a local node from any web page without a CORS preflight.
  bool require_json_content_type = true;

  // WebSocket (docs/RPC.md "WebSocket"). A WebSocket connection keeps its slot of
  // max_connections and max_connections_per_ip and is never evicted as idle, so at most this
  // many connections may be WebSockets; an upgrade past it is answered 503.
  size_t max_ws_connections = 128;
  // WebSocket connections from one address (IPv6: its /64); an upgrade past it is answered 503.
  // Without it a few clients could hold every WebSocket slot, since none is ever evicted.
  size_t max_ws_connections_per_ip = 8;
  // One message from the client; larger closes the connection (close code 1009).
  size_t max_ws_message_bytes = 1u << 20;
  // What one connection may have queued for the client (answers and notifications); past
  // either bound it is closed as a slow consumer (1008) and its queue dropped.
  size_t ws_queue_messages = 4096;
  size_t ws_queue_bytes = 8u << 20;
  // SO_SNDBUF of a WebSocket connection; 0 leaves the kernel's autotuning. A smaller buffer
  // finds a client that stopped reading sooner (and bounds the kernel's memory per client).
  size_t ws_send_buffer_bytes = 0;
  // Answers GET /ready on an I/O thread: must be quick and thread-safe. Unset: always ready.
  std::function<Readiness()> readiness;
};

struct ServerStats {
  uint64_t active_connections = 0;  // admitted and not yet closed
  uint64_t accepted = 0;            // connections accepted, admitted or not
  uint64_t rejected_busy = 0;       // answered 503 (or closed) because of the limits
  uint64_t evicted = 0;             // idle connections closed to admit a newcomer
  uint64_t requests = 0;            // JSON-RPC HTTP requests handed to the dispatcher
  uint64_t rejected_inflight = 0;   // bodies answered 503 unread: max_inflight_bytes was in use
  uint64_t inflight_bytes = 0;      // bodies and answers held now, as InflightBytes()
  uint64_t ws_connections = 0;      // WebSocket connections open now
  uint64_t ws_slow_dropped = 0;     // WebSocket connections closed as slow consumers
};

class Server {
 public:
  // REQUIRES: `dispatcher` (and `subscriptions`, when not null) outlive the server; register
  // every method before Start(). Without `subscriptions`, `subscribe` over a WebSocket is
  // answered -32601.
  explicit Server(const Dispatcher& dispatcher, ServerOptions options = {},
                  SubscriptionService* subscriptions = nullptr);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving. `address` is an IP literal ("127.0.0.1", "::1", "0.0.0.0");
  // port 0 picks a free port (see port()). A server starts at most once.
  Status Start(const std::string& address, uint16_t port);
  // The bound port; 0 before a successful Start().
  uint16_t port() const;
  // Stops accepting, closes idle connections, lets requests in flight finish (their responses
  // say Connection: close) for up to shutdown_grace, then closes the rest and joins the
  // threads. A handler that never returns keeps Stop() waiting. Idempotent.
  // REQUIRES: not called from a handler (it joins the thread running it).
  void Stop();
  ServerStats Stats() const;
  // Bytes of request bodies and answers the server holds now, charged to max_inflight_bytes
  // (not counting each one's uncounted first bytes). 0 when no request is in progress.
  size_t InflightBytes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::rpc
