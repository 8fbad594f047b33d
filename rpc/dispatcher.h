// JSON-RPC 2.0 method registry and request dispatcher, independent of any transport.
// Thread-safety: Register() every method before the first Dispatch()/Invoke(); after that the
// registry is read-only and Dispatch()/Invoke() may run concurrently, so handlers must be
// thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
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
#include "rpc/byte_budget.h"

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
inline constexpr int kLimitExceeded = -32005;  // over a size limit (HTTP 413/431, or a response)

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

// Which handler threads run a method (docs/RPC.md "Lanes"): kLight for methods whose cost is
// small and bounded whatever the params (status, admission), kHeavy for the rest, so that a
// flood of heavy calls can never delay a light one.
enum class Lane { kLight, kHeavy };

// What a handler may know about its call beyond the params.
struct CallContext {
  // Bytes this call's result may still take in the response (what is left of
  // max_response_bytes after the batch's earlier answers). A result that is larger is replaced
  // by a -32005 error, so a handler that builds a long result (a range of blocks) should stop
  // early, as its documentation says, rather than build what will be thrown away.
  size_t response_budget = SIZE_MAX;
  // True when response_budget is smaller than what is left of max_response_bytes because the
  // server's budget of bytes in flight (max_inflight_bytes) is held by other answers: an error
  // about the budget should name that limit instead.
  bool limited_by_inflight = false;
  // The limit to name in an error about response_budget.
  const char* limit_name() const {
    return limited_by_inflight ? "max_inflight_bytes" : "max_response_bytes";
  }
};

// `params` is the request's array or object, or null when the request had no "params".
using Handler = std::function<RpcResult(const Json& params)>;
using ContextHandler = std::function<RpcResult(const Json& params, const CallContext& context)>;

// What one parsed JSON value may cost beyond its text: a `{}` element of an array costs about
// 100 bytes (its 16-byte value, the map, the allocator's headers), an object member more with
// its key; scalars in arrays cost less.
inline constexpr size_t kApproxBytesPerJsonValue = 128;

struct DispatcherOptions {
  // A batch longer than this is answered with one -32600 error naming the limit.
  size_t max_batch_size = 1000;
  // Bodies nested deeper than this are refused while parsing (-32600): a handler that copies
  // or dumps its params recurses once per level, and network input must not size our stack.
  size_t max_nesting_depth = 64;
  // JSON values (scalars, arrays and objects) in one body; more is one -32600 error. The parse
  // stops at the limit, so memory stays a small multiple of the body: a parsed `{}` costs
  // about 100 bytes for 3 bytes of input.
  size_t max_json_values = 100'000;
  // Bytes of one response: a single answer, or a whole batch's. A result that would pass it is
  // replaced by a -32005 error naming the limit, and once a batch has used it up its remaining
  // requests are answered -32005 without running (docs/RPC.md "Response size").
  size_t max_response_bytes = 16u << 20;
  // Told about every handler exception (the client only sees -32603 without details, so
  // internals do not leak). Called on the dispatching thread; must be thread-safe.
  std::function<void(std::string_view method, std::string_view what)> on_handler_exception;
  // Told about every call Invoke ran or refused as an unknown method (a metrics observer):
  // the method as the client named it, the error code (0 for a result) and the time it took.
  // Called on the dispatching thread after the handler; must be thread-safe and cheap.
  std::function<void(std::string_view method, int error_code, std::chrono::nanoseconds took)>
      on_call;
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatcherOptions options = {});

  // Fails on an empty name, a name starting with "rpc." (reserved by the spec), a duplicate,
  // or an empty handler. Methods are heavy unless registered light: a light method must be
  // cheap for any params, or it can delay the others of its lane.
  Status Register(std::string method, Handler handler, Lane lane = Lane::kHeavy);
  Status Register(std::string method, ContextHandler handler, Lane lane = Lane::kHeavy);
  bool Has(std::string_view method) const;
  std::vector<std::string> Methods() const;  // sorted

  // A body parsed within the limits, with the lane that should execute it; or, when parsing
  // already decided the answer (a parse error, a limit), that answer. Move-only.
  class Prepared {
   public:
    Prepared(Prepared&&) = default;
    Prepared& operator=(Prepared&&) = default;
    // kHeavy when any request in it names a heavy method.
    Lane lane() const { return lane_; }
    // An upper estimate of the heap the parsed document holds (0 when parsing already decided
    // the answer): the body's size for its strings plus kApproxBytesPerJsonValue per value. A
    // server charges it while the document waits for a handler thread.
    size_t approx_bytes() const { return approx_bytes_; }

   private:
    friend class Dispatcher;
    Prepared() = default;
    std::optional<std::string> answer_;
    Json doc_;
    Lane lane_ = Lane::kLight;
    size_t approx_bytes_ = 0;
  };

  // Dispatch in two steps, so a transport can parse on one thread and execute on the lane's:
  // Prepare never runs a handler; Execute runs them. Neither throws.
  Prepared Prepare(std::string_view body) const;
  std::string Execute(Prepared prepared) const;
  // Execute, charging the answer to a server-wide budget as it is built: each request runs with
  // what is left of max_response_bytes or what `charge` can still get, whichever is less, and
  // the answer is cut as for max_response_bytes (docs/RPC.md "Memory in flight"). The first
  // kUncountedAnswerBytes of the answer are not charged. On return `charge` holds the answer's
  // bytes past those; the caller keeps it while it holds the answer.
  std::string Execute(Prepared prepared, ByteBudget::Reservation* charge) const;

  // Answers one transport message (an HTTP body): returns the response body, or "" when
  // nothing must be sent back (a notification, or a batch of only notifications).
  // Never throws; a throwing handler becomes a -32603 response. Execute(Prepare(body)).
  std::string Dispatch(std::string_view body) const;

  // The lane of a registered method; kLight for an unknown one (its answer is an error).
  Lane LaneOf(std::string_view method) const;

  // Calls one method in-process with the same error containment as Dispatch:
  // -32601 for an unknown method, -32603 if the handler throws.
  RpcResult Invoke(std::string_view method, const Json& params,
                   const CallContext& context = {}) const;

  const DispatcherOptions& options() const { return options_; }

 private:
  struct Method {
    ContextHandler handler;
    Lane lane;
  };
  // Appends the response to one request object to *out; returns false for a notification.
  // `budget` is what the response may still grow by; *over_budget is set when the answer did
  // not fit it (and is a -32005 error instead).
  // `limited_by_inflight`: `budget` was cut by the server-wide budget (names it in errors).
  // Invoke without the on_call observer.
  RpcResult Run(std::string_view method, const Json& params, const CallContext& context) const;
  bool HandleRequest(const Json& request, size_t budget, bool limited_by_inflight, std::string* out,
                     bool* over_budget) const;

  DispatcherOptions options_;
  std::map<std::string, Method, std::less<>> methods_;
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
