// JSON-RPC 2.0 over HTTP/1.1: POST / answers through a Dispatcher, GET /health answers "ok".
// Thread-safety: all methods may be called from any thread. The server runs its own threads
// and calls the Dispatcher (so its handlers) concurrently from them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace cairn::rpc {

class Dispatcher;

struct ServerOptions {
  // Threads running the I/O and the handlers. A handler occupies its thread until it returns,
  // so at most `threads` handlers run at once; slow I/O on one connection blocks no one.
  size_t threads = 2;
  // Admitted connections at once; one more is accepted, answered 503 and closed.
  size_t max_connections = 256;
  // A larger request body is answered 413 (before it is read when Content-Length says so).
  size_t max_body_bytes = 5 * 1024 * 1024;
  // Request line plus headers; larger is answered 431.
  size_t max_header_bytes = 16 * 1024;
  // A kept-alive connection with no new request for this long is closed.
  std::chrono::milliseconds idle_timeout{30'000};
  // From the first byte of a request to its last; bounds a slowloris client.
  std::chrono::milliseconds read_timeout{15'000};
  // For writing one response; bounds a client that does not read.
  std::chrono::milliseconds write_timeout{15'000};
  // Stop() lets requests in flight finish for this long, then closes what is left.
  std::chrono::milliseconds shutdown_grace{5'000};
  // Refuse (415) a POST whose Content-Type is not application/json: a browser can send a
  // text/plain POST to a local node from any web page without a CORS preflight.
  bool require_json_content_type = true;
};

struct ServerStats {
  uint64_t active_connections = 0;  // admitted and not yet closed
  uint64_t accepted = 0;            // connections accepted, admitted or not
  uint64_t rejected_busy = 0;       // answered 503 because of max_connections
  uint64_t requests = 0;            // JSON-RPC HTTP requests handed to the dispatcher
};

class Server {
 public:
  // REQUIRES: `dispatcher` outlives the server; register every method before Start().
  explicit Server(const Dispatcher& dispatcher, ServerOptions options = {});
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

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::rpc
