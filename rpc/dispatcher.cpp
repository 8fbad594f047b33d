// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) request handling.
//
//   body     := request | batch
//   batch    := "[" request ("," request)* "]"      (an empty batch is one -32600 error)
//   request  := {"jsonrpc":"2.0", "method":string, ["params":array|object],
//   ["id":string|number|null]} response := {"jsonrpc":"2.0", ("result":any |
//   "error":{code,message[,data]}), "id":<echoed>}
//
// A request without an "id" member is a notification and is never answered; "id":null is a
// request. A request that is not valid is answered even without an id (with "id":null), as in
// the spec's examples. Members other than the four above are ignored.
#include "rpc/dispatcher.h"

#include <cassert>
#include <exception>

namespace cairn::rpc {
namespace {

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Depth of the deepest array/object nesting, stopping early past `limit`. Scans bytes without
// parsing: brackets inside strings do not count, and malformed input is left to the parser.
size_t NestingDepth(std::string_view body, size_t limit) {
  size_t depth = 0;
  size_t max_depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          max_depth = depth;
          if (max_depth > limit) return max_depth;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return max_depth;
}

const Json& NullJson() {
  static const Json kNull;
  return kNull;
}

bool IsValidId(const Json& id) { return id.is_string() || id.is_number() || id.is_null(); }

}  // namespace

std::string_view StandardMessage(int code) {
  switch (code) {
    case kParseError:
      return "Parse error";
    case kInvalidRequest:
      return "Invalid Request";
    case kMethodNotFound:
      return "Method not found";
    case kInvalidParams:
      return "Invalid params";
    case kInternalError:
      return "Internal error";
    case kResourceUnavailable:
      return "Resource unavailable";
    case kLimitExceeded:
      return "Limit exceeded";
    default:
      break;
  }
  if (code >= kServerErrorFirst && code <= kServerErrorLast) return "Server error";
  return "";
}

RpcError StandardError(int code, std::optional<Json> data) {
  return RpcError{code, std::string(StandardMessage(code)), std::move(data)};
}

RpcError InvalidParams(std::string message) {
  if (message.empty()) message = std::string(StandardMessage(kInvalidParams));
  return RpcError{kInvalidParams, std::move(message), std::nullopt};
}

RpcError AppError(int code, std::string message, std::optional<Json> data) {
  assert(code >= kAppErrorFirst && code <= kAppErrorLast);
  return RpcError{code, std::move(message), std::move(data)};
}

void AppendResultResponse(const Json& id, const Json& result, std::string* out) {
  out->append(R"({"jsonrpc":"2.0","result":)");
  out->append(Dump(result));
  out->append(R"(,"id":)");
  out->append(Dump(id));
  out->push_back('}');
}

void AppendErrorResponse(const Json& id, const RpcError& error, std::string* out) {
  out->append(R"({"jsonrpc":"2.0","error":{"code":)");
  out->append(std::to_string(error.code));
  out->append(R"(,"message":)");
  out->append(Dump(Json(error.message)));
  if (error.data.has_value()) {
    out->append(R"(,"data":)");
    out->append(Dump(*error.data));
  }
  out->append(R"(},"id":)");
  out->append(Dump(id));
  out->push_back('}');
}

std::string ErrorResponse(const Json& id, const RpcError& error) {
  std::string out;
  AppendErrorResponse(id, error, &out);
  return out;
}

const Json* FindParam(const Json& params, size_t index, std::string_view name) {
  if (params.is_array()) return index < params.size() ? &params[index] : nullptr;
  if (params.is_object()) {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &*it;
  }
  return nullptr;
}

Dispatcher::Dispatcher(DispatcherOptions options) : options_(std::move(options)) {}

Status Dispatcher::Register(std::string method, Handler handler) {
  if (method.empty()) return Status::Error("rpc: empty method name");
  if (method.rfind("rpc.", 0) == 0) {
    return Status::Error("rpc: method name '" + method + "' uses the reserved prefix 'rpc.'");
  }
  if (!handler) return Status::Error("rpc: method '" + method + "' has an empty handler");
  auto [it, inserted] = methods_.try_emplace(std::move(method), std::move(handler));
  if (!inserted) return Status::Error("rpc: method '" + it->first + "' registered twice");
  return Status::Ok();
}

bool Dispatcher::Has(std::string_view method) const { return methods_.contains(method); }

std::vector<std::string> Dispatcher::Methods() const {
  std::vector<std::string> names;
  names.reserve(methods_.size());
  for (const auto& [name, handler] : methods_) names.push_back(name);
  return names;
}

RpcResult Dispatcher::Invoke(std::string_view method, const Json& params) const {
  auto it = methods_.find(method);
  if (it == methods_.end()) return StandardError(kMethodNotFound);
  try {
    return it->second(params);
  } catch (const std::exception& e) {
    if (options_.on_handler_exception) options_.on_handler_exception(method, e.what());
  } catch (...) {
    if (options_.on_handler_exception) options_.on_handler_exception(method, "unknown exception");
  }
  return StandardError(kInternalError);
}

bool Dispatcher::HandleRequest(const Json& request, std::string* out) const {
  if (!request.is_object()) {
    AppendErrorResponse(nullptr, StandardError(kInvalidRequest, "request must be an object"), out);
    return true;
  }
  auto id_it = request.find("id");
  const bool has_id = id_it != request.end();
  if (has_id && !IsValidId(*id_it)) {
    AppendErrorResponse(
        nullptr, StandardError(kInvalidRequest, "id must be a string, a number or null"), out);
    return true;
  }
  const Json& id = has_id ? *id_it : NullJson();

  auto version = request.find("jsonrpc");
  if (version == request.end() || !version->is_string() || *version != "2.0") {
    AppendErrorResponse(id, StandardError(kInvalidRequest, R"("jsonrpc" must be "2.0")"), out);
    return true;
  }
  auto method = request.find("method");
  if (method == request.end() || !method->is_string()) {
    AppendErrorResponse(id, StandardError(kInvalidRequest, R"("method" must be a string)"), out);
    return true;
  }
  auto params = request.find("params");
  if (params != request.end() && !params->is_array() && !params->is_object()) {
    AppendErrorResponse(
        id, StandardError(kInvalidRequest, R"("params" must be an array or an object)"), out);
    return true;
  }

  RpcResult result =
      Invoke(method->get_ref<const std::string&>(), params == request.end() ? NullJson() : *params);
  if (!has_id) return false;  // a notification: the outcome, even an error, is not reported
  if (!result.ok()) {
    AppendErrorResponse(id, result.error(), out);
    return true;
  }
  const size_t mark = out->size();
  try {
    AppendResultResponse(id, result.value(), out);
  } catch (const std::exception& e) {
    // Cut the half-written response so *out stays well-formed.
    out->resize(mark);
    if (options_.on_handler_exception) {
      options_.on_handler_exception(method->get_ref<const std::string&>(), e.what());
    }
    AppendErrorResponse(id, StandardError(kInternalError), out);
  }
  return true;
}

std::string Dispatcher::Dispatch(std::string_view body) const {
  std::string out;
  try {
    size_t depth = NestingDepth(body, options_.max_nesting_depth);
    if (depth > options_.max_nesting_depth) {
      return ErrorResponse(
          nullptr, StandardError(kInvalidRequest, "JSON nesting deeper than the limit of " +
                                                      std::to_string(options_.max_nesting_depth) +
                                                      " (max_nesting_depth)"));
    }
    Json doc = Json::parse(body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return ErrorResponse(nullptr, StandardError(kParseError));

    if (!doc.is_array()) {
      HandleRequest(doc, &out);
      return out;
    }
    if (doc.empty()) {
      return ErrorResponse(nullptr, StandardError(kInvalidRequest, "empty batch"));
    }
    if (doc.size() > options_.max_batch_size) {
      return ErrorResponse(
          nullptr, StandardError(kInvalidRequest, "batch of " + std::to_string(doc.size()) +
                                                      " requests exceeds the limit of " +
                                                      std::to_string(options_.max_batch_size) +
                                                      " (max_batch_size)"));
    }
    out.push_back('[');
    bool any = false;
    for (const Json& request : doc) {
      const size_t mark = out.size();
      if (any) out.push_back(',');
      if (HandleRequest(request, &out)) {
        any = true;
      } else {
        out.resize(mark);  // a notification leaves no trace, not even its comma
      }
    }
    if (!any) return std::string();  // only notifications: nothing is returned at all
    out.push_back(']');
    return out;
  } catch (const std::exception& e) {
    // Only allocation failure can get here; answer rather than take the server down.
    if (options_.on_handler_exception) options_.on_handler_exception("", e.what());
    return ErrorResponse(nullptr, StandardError(kInternalError));
  }
}

}  // namespace cairn::rpc
