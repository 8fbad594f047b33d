// JSON-RPC 2.0 method registry and request dispatcher, independent of any transport.
// Thread-safety: Register() every method before the first Dispatch()/Invoke(); after that the
// registry is read-only and Dispatch()/Invoke() may run concurrently, so handlers must be
// thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace cairn::rpc {

using Json = nlohmann::json;

// Error codes (docs/RPC.md has the table). The spec reserves [-32768, -32000].
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// [-32099, -32000] is "implementation-defined server errors"; rpc/ owns it for transport
// conditions and uses the EIP-1474 meanings, which Ethereum tooling already knows.
inline constexpr int kServerErrorFirst = -32099;
inline constexpr int kServerErrorLast = -32000;
inline constexpr int kResourceUnavailable = -32002;  // busy or shutting down (HTTP 503)
inline constexpr int kLimitExceeded = -32005;        // request body too large (HTTP 413)

// [kAppErrorFirst, kAppErrorLast]: errors a method defines (a rejected transaction, an unknown
// block). Positive and outside the reserved space, so they can never collide with a spec or
// transport code; the node documents its table in docs/RPC.md "Methods".
inline constexpr int kAppErrorFirst = 1000;
inline constexpr int kAppErrorLast = 9999;

struct RpcError {
  int code = kInternalError;
  std::string message;
  std::optional<Json> data;  // omitted from the response when empty
};

// The spec's message for a standard code ("Method not found"); "Server error" for the server
// range and "" for anything else.
std::string_view StandardMessage(int code);
// A standard error (kParseError..kInternalError, kResourceUnavailable, kLimitExceeded) with its
// canonical message and optional detail in `data`.
RpcError StandardError(int code, std::optional<Json> data = std::nullopt);
// -32602 with a message that says which parameter is wrong ("params[0]: expected hex string").
RpcError InvalidParams(std::string message);
// An application error. REQUIRES: kAppErrorFirst <= code <= kAppErrorLast.
RpcError AppError(int code, std::string message, std::optional<Json> data = std::nullopt);

// What a handler returns: a JSON result or an RpcError. Converts implicitly from either, and
// from anything nlohmann::json can be built from, so a handler may `return 42;`.
class [[nodiscard]] RpcResult {
 public:
  RpcResult(Json value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  RpcResult(RpcError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  template <typename T>
  requires(!std::is_same_v<std::remove_cvref_t<T>, RpcResult> &&
           !std::is_same_v<std::remove_cvref_t<T>, Json> &&
           !std::is_same_v<std::remove_cvref_t<T>, RpcError> && std::is_constructible_v<Json, T>)
      RpcResult(T&& value)  // NOLINT: implicit by design
      : v_(std::in_place_index<0>, std::forward<T>(value)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // REQUIRES: ok()
  const Json& value() const& { return std::get<0>(v_); }
  Json& value() & { return std::get<0>(v_); }
  Json&& value() && { return std::get<0>(std::move(v_)); }
  // REQUIRES: !ok()
  const RpcError& error() const { return std::get<1>(v_); }

 private:
  std::variant<Json, RpcError> v_;
};

// `params` is the request's array or object, or null when the request had no "params".
using Handler = std::function<RpcResult(const Json& params)>;

struct DispatcherOptions {
  // A batch longer than this is answered with one -32600 error naming the limit.
  size_t max_batch_size = 1000;
  // Bodies nested deeper than this are refused before parsing (-32600): a handler that copies
  // or dumps its params recurses once per level, and network input must not size our stack.
  size_t max_nesting_depth = 64;
  // Told about every handler exception (the client only sees -32603 without details, so
  // internals do not leak). Called on the dispatching thread; must be thread-safe.
  std::function<void(std::string_view method, std::string_view what)> on_handler_exception;
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatcherOptions options = {});

  // Fails on an empty name, a name starting with "rpc." (reserved by the spec), a duplicate,
  // or an empty handler.
  Status Register(std::string method, Handler handler);
  bool Has(std::string_view method) const;
  std::vector<std::string> Methods() const;  // sorted

  // Answers one transport message (an HTTP body): returns the response body, or "" when
  // nothing must be sent back (a notification, or a batch of only notifications).
  // Never throws; a throwing handler becomes a -32603 response.
  std::string Dispatch(std::string_view body) const;

  // Calls one method in-process with the same error containment as Dispatch:
  // -32601 for an unknown method, -32603 if the handler throws.
  RpcResult Invoke(std::string_view method, const Json& params) const;

  const DispatcherOptions& options() const { return options_; }

 private:
  // Appends the response to one request object to *out; returns false for a notification.
  bool HandleRequest(const Json& request, std::string* out) const;

  DispatcherOptions options_;
  std::map<std::string, Handler, std::less<>> methods_;
};

// Response serializers, for transports that must answer without a dispatcher (HTTP 413/503).
// Strings with invalid UTF-8 are replaced with U+FFFD rather than throwing.
void AppendResultResponse(const Json& id, const Json& result, std::string* out);
void AppendErrorResponse(const Json& id, const RpcError& error, std::string* out);
std::string ErrorResponse(const Json& id, const RpcError& error);

// Positional-or-named parameter lookup: params[index] when params is an array, params[name]
// when it is an object; nullptr when absent (or params is null).
const Json* FindParam(const Json& params, size_t index, std::string_view name);

}  // namespace cairn::rpc
