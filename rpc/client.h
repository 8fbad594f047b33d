// Synchronous JSON-RPC 2.0 over HTTP/1.1 client for the CLI, tests and load generators. Keeps
// one connection alive between calls and reconnects when the server has closed it.
// Thread-compatible: one Client per thread (a Client may move between threads between calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"
#include "rpc/dispatcher.h"

namespace cairn::rpc {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // For one exchange: writing the request and reading the whole response.
  std::chrono::milliseconds request_timeout{30'000};
  // A larger response fails the call (and drops the connection).
  size_t max_response_bytes = 64 * 1024 * 1024;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  bool keep_alive = false;
};

// The outcome of one call: a result, an error the server answered with (code, message and
// data kept), or a transport failure (connection refused, timeout, a malformed response).
class [[nodiscard]] CallResult {
 public:
  CallResult(Json value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  CallResult(RpcError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  // REQUIRES: !transport_error.ok()
  CallResult(Status transport_error)  // NOLINT
      : v_(std::in_place_index<2>, std::move(transport_error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  bool is_rpc_error() const { return v_.index() == 1; }
  bool is_transport_error() const { return v_.index() == 2; }

  // REQUIRES: ok()
  const Json& value() const& { return std::get<0>(v_); }
  Json&& value() && { return std::get<0>(std::move(v_)); }
  // REQUIRES: is_rpc_error()
  const RpcError& rpc_error() const { return std::get<1>(v_); }
  // Ok, or a one-line description of either kind of failure, for printing:
  // "rpc error -32601: Method not found" or "rpc client: connect to 127.0.0.1:1: ...".
  Status status() const;

 private:
  std::variant<Json, RpcError, Status> v_;
};

class Client {
 public:
  // `url` is http://host[:port][/path] (port 80 by default, path "/"); host may be a name, an
  // IPv4 literal or a bracketed IPv6 literal. Does not connect: the first call does.
  static Result<Client> Create(std::string_view url, ClientOptions options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // A call with a fresh numeric id; a null `params` is left out of the request.
  CallResult Call(std::string_view method, const Json& params = nullptr);
  // A notification: the server sends no result, so only transport errors are reported.
  Status Notify(std::string_view method, const Json& params = nullptr);
  // One HTTP request carrying a batch; results come back in the order of `calls` whatever
  // order the server answers in. An error the server answered for the batch as a whole
  // (batch too large, body too large, busy) becomes every element's error.
  Result<std::vector<RpcResult>> CallBatch(const std::vector<std::pair<std::string, Json>>& calls);
  // POSTs `body` as is: for tests that send malformed input.
  Result<HttpResponse> PostRaw(std::string_view body,
                               std::string_view content_type = "application/json");
  // Drops the kept-alive connection; the next call opens a new one.
  void Disconnect();

  const std::string& url() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::rpc
