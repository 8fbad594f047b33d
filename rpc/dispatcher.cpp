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
#include <chrono>
#include <exception>

namespace cairn::rpc {
namespace {

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Builds the document like nlohmann's own DOM parser, but counts as it goes and stops at the
// first limit passed, so neither a long batch, a deep nesting nor a flood of tiny values
// (`[{},{},...]`: 3 bytes of input, ~100 bytes of DOM each) is ever built whole. The checks
// are per event, so the parse costs what the accepted prefix of the body costs.
class LimitedSax {
 public:
  enum class Stop { kNone, kDepth, kBatch, kValues };

  LimitedSax(Json* root, const DispatcherOptions& options)
      : dom_(*root, /*allow_exceptions=*/false), options_(options) {}

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(Json::number_integer_t v) { return Value() && dom_.number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Value() && dom_.number_unsigned(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& s) {
    return Value() && dom_.number_float(v, s);
  }
  bool string(Json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(Json::binary_t& v) { return Value() && dom_.binary(v); }
  bool start_object(size_t n) { return Open() && dom_.start_object(n); }
  bool key(Json::string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(size_t n) {
    if (depth_ == 0) root_is_array_ = true;
    return Open() && dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(size_t position, const std::string& token, const Exception& ex) {
    return dom_.parse_error(position, token, ex);
  }

  Stop stop() const { return stop_; }
  size_t values() const { return values_; }

 private:
  // Every value, scalar or container, counts once; an element of the top-level array is also
  // one request of the batch.
  bool Value() {
    if (++values_ > options_.max_json_values) return Halt(Stop::kValues);
    if (depth_ == 1 && root_is_array_ && ++batch_ > options_.max_batch_size) {
      return Halt(Stop::kBatch);
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ > options_.max_nesting_depth) return Halt(Stop::kDepth);
    return true;
  }
  bool Halt(Stop why) {
    stop_ = why;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  const DispatcherOptions& options_;
  size_t depth_ = 0;
  size_t values_ = 0;
  size_t batch_ = 0;
  bool root_is_array_ = false;
  Stop stop_ = Stop::kNone;
};

std::string LimitError(const std::string& what) {
  return ErrorResponse(nullptr, StandardError(kInvalidRequest, what));
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

Status Dispatcher::Register(std::string method, Handler handler, Lane lane) {
  if (!handler) return Register(std::move(method), ContextHandler(), lane);
  return Register(
      std::move(method),
      [h = std::move(handler)](const Json& params, const CallContext&) { return h(params); }, lane);
}

Status Dispatcher::Register(std::string method, ContextHandler handler, Lane lane) {
  if (method.empty()) return Status::Error("rpc: empty method name");
  if (method.rfind("rpc.", 0) == 0) {
    return Status::Error("rpc: method name '" + method + "' uses the reserved prefix 'rpc.'");
  }
  if (!handler) return Status::Error("rpc: method '" + method + "' has an empty handler");
  auto [it, inserted] = methods_.try_emplace(std::move(method), Method{std::move(handler), lane});
  if (!inserted) return Status::Error("rpc: method '" + it->first + "' registered twice");
  return Status::Ok();
}

bool Dispatcher::Has(std::string_view method) const { return methods_.contains(method); }

std::vector<std::string> Dispatcher::Methods() const {
  std::vector<std::string> names;
  names.reserve(methods_.size());
  for (const auto& [name, m] : methods_) names.push_back(name);
  return names;
}

Lane Dispatcher::LaneOf(std::string_view method) const {
  auto it = methods_.find(method);
  return it == methods_.end() ? Lane::kLight : it->second.lane;
}

RpcResult Dispatcher::Invoke(std::string_view method, const Json& params,
                             const CallContext& context) const {
  if (!options_.on_call) return Run(method, params, context);
  const auto start = std::chrono::steady_clock::now();
  RpcResult r = Run(method, params, context);
  options_.on_call(method, r.ok() ? 0 : r.error().code, std::chrono::steady_clock::now() - start);
  return r;
}

RpcResult Dispatcher::Run(std::string_view method, const Json& params,
                          const CallContext& context) const {
  auto it = methods_.find(method);
  if (it == methods_.end()) return StandardError(kMethodNotFound);
  try {
    return it->second.handler(params, context);
  } catch (const std::exception& e) {
    if (options_.on_handler_exception) options_.on_handler_exception(method, e.what());
  } catch (...) {
    if (options_.on_handler_exception) options_.on_handler_exception(method, "unknown exception");
  }
  return StandardError(kInternalError);
}

namespace {

RpcError ResponseLimitError(size_t limit, bool limited_by_inflight, std::string detail) {
  if (limited_by_inflight) {
    return StandardError(kLimitExceeded,
                         detail +
                             "; the server's budget of bytes in flight is in use by other "
                             "answers (max_inflight_bytes), retry later or ask for less");
  }
  return StandardError(kLimitExceeded, detail + "; the limit is " + std::to_string(limit) +
                                           " bytes per response (max_response_bytes)");
}

}  // namespace

bool Dispatcher::HandleRequest(const Json& request, size_t budget, bool limited_by_inflight,
                               std::string* out, bool* over_budget) const {
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
  if (budget == 0) {
    // The batch has used the whole response: running this request would only build an
    // answer that cannot be sent.
    if (!has_id) return false;
    AppendErrorResponse(
        id,
        ResponseLimitError(options_.max_response_bytes, limited_by_inflight,
                           limited_by_inflight ? "not executed: no bytes left for this response"
                                               : "not executed: earlier answers in this batch "
                                                 "used the whole response"),
        out);
    return true;
  }

  RpcResult result =
      Invoke(method->get_ref<const std::string&>(), params == request.end() ? NullJson() : *params,
             CallContext{.response_budget = budget, .limited_by_inflight = limited_by_inflight});
  if (!has_id) return false;  // a notification: the outcome, even an error, is not reported
  if (!result.ok()) {
    if (result.error().code == kLimitExceeded) *over_budget = true;
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
    return true;
  }
  if (out->size() - mark > budget) {
    *over_budget = true;
    const size_t size = out->size() - mark;
    out->resize(mark);
    out->shrink_to_fit();
    AppendErrorResponse(
        id,
        ResponseLimitError(options_.max_response_bytes, limited_by_inflight,
                           "result of " + std::to_string(size) + " bytes is over the " +
                               std::to_string(budget) + " bytes left for this response"),
        out);
  }
  return true;
}

Dispatcher::Prepared Dispatcher::Prepare(std::string_view body) const {
  Prepared p;
  try {
    LimitedSax sax(&p.doc_, options_);
    const bool parsed = Json::sax_parse(body.begin(), body.end(), &sax,
                                        nlohmann::detail::input_format_t::json, /*strict=*/true);
    if (!parsed) {
      p.doc_ = Json();
      switch (sax.stop()) {
        case LimitedSax::Stop::kDepth:
          p.answer_ =
              LimitError("JSON nesting deeper than the limit of " +
                         std::to_string(options_.max_nesting_depth) + " (max_nesting_depth)");
          break;
        case LimitedSax::Stop::kBatch:
          p.answer_ =
              LimitError("batch longer than the limit of " +
                         std::to_string(options_.max_batch_size) + " requests (max_batch_size)");
          break;
        case LimitedSax::Stop::kValues:
          p.answer_ =
              LimitError("JSON holds more than the limit of " +
                         std::to_string(options_.max_json_values) + " values (max_json_values)");
          break;
        case LimitedSax::Stop::kNone:
          p.answer_ = ErrorResponse(nullptr, StandardError(kParseError));
          break;
      }
      return p;
    }
    if (p.doc_.is_array() && p.doc_.empty()) {
      p.answer_ = ErrorResponse(nullptr, StandardError(kInvalidRequest, "empty batch"));
      return p;
    }
    // Strings are copied out of the body (at most its size); every value also costs its node.
    p.approx_bytes_ = body.size() + sax.values() * kApproxBytesPerJsonValue;
    auto lane_of = [this](const Json& request) {
      if (!request.is_object()) return Lane::kLight;
      auto method = request.find("method");
      if (method == request.end() || !method->is_string()) return Lane::kLight;
      return LaneOf(method->get_ref<const std::string&>());
    };
    if (p.doc_.is_array()) {
      for (const Json& request : p.doc_) {
        if (lane_of(request) == Lane::kHeavy) {
          p.lane_ = Lane::kHeavy;
          break;
        }
      }
    } else {
      p.lane_ = lane_of(p.doc_);
    }
  } catch (const std::exception& e) {
    // Only allocation failure can get here; answer rather than take the server down.
    if (options_.on_handler_exception) options_.on_handler_exception("", e.what());
    p.doc_ = Json();
    p.answer_ = ErrorResponse(nullptr, StandardError(kInternalError));
  }
  return p;
}

std::string Dispatcher::Execute(Prepared prepared) const {
  ByteBudget::Reservation unlimited;
  return Execute(std::move(prepared), &unlimited);
}

std::string Dispatcher::Execute(Prepared prepared, ByteBudget::Reservation* charge) const {
  if (prepared.answer_) return std::move(*prepared.answer_);
  const Json& doc = prepared.doc_;
  const size_t limit = options_.max_response_bytes;
  const size_t uncounted = charge->limited() ? kUncountedAnswerBytes : 0;
  // What the answer may still grow by: what is left of max_response_bytes, and of what the
  // server-wide budget grants. The reservation is taken before the handler runs, so concurrent
  // answers can never be granted more than the budget together; it is trimmed to the answer's
  // real size at the end. *by_inflight says the server-wide budget was the smaller.
  auto room = [&](const std::string& out, bool* by_inflight) {
    *by_inflight = false;
    const size_t left = out.size() < limit ? limit - out.size() : 0;
    if (!charge->limited()) return left;
    const size_t held = uncounted + charge->bytes();
    size_t granted = held > out.size() ? held - out.size() : 0;
    if (granted < left) granted += charge->GrowUpTo(left - granted);
    if (granted >= left) return left;
    *by_inflight = true;
    return granted;
  };
  // The answer is held as its buffer's capacity: trim the slack string growth left when it
  // passes the grant or is large (one copy of the answer), then charge exactly that. Past the
  // grant only by the error objects that replaced results, which are not refused (docs/RPC.md
  // "Response size", rule 3).
  auto settle = [&](std::string& out) {
    if (!charge->limited()) return;
    auto need = [&] { return out.capacity() > uncounted ? out.capacity() - uncounted : 0; };
    if (need() > charge->bytes() || out.capacity() > out.size() + out.size() / 8) {
      out.shrink_to_fit();
    }
    if (need() > charge->bytes()) charge->ForceGrow(need() - charge->bytes());
    charge->ShrinkTo(need());
  };
  std::string out;
  bool over_budget = false;
  bool by_inflight = false;
  try {
    if (!doc.is_array()) {
      const size_t budget = room(out, &by_inflight);
      HandleRequest(doc, budget, by_inflight, &out, &over_budget);
      settle(out);
      return out;
    }
    out.push_back('[');
    bool any = false;
    for (const Json& request : doc) {
      const size_t mark = out.size();
      if (any) out.push_back(',');
      // The brackets and commas still to come are not charged: they are a few bytes per
      // request, and the limit is about what one answer can make the node hold. Once one
      // answer did not fit, the rest of the batch is not executed: the budget is spent.
      const size_t budget = over_budget ? 0 : room(out, &by_inflight);
      if (HandleRequest(request, budget, by_inflight, &out, &over_budget)) {
        any = true;
      } else {
        out.resize(mark);  // a notification leaves no trace, not even its comma
      }
    }
    if (!any) {
      charge->Reset();
      return std::string();  // only notifications: nothing is returned at all
    }
    out.push_back(']');
    settle(out);
    return out;
  } catch (const std::exception& e) {
    if (options_.on_handler_exception) options_.on_handler_exception("", e.what());
    out = ErrorResponse(nullptr, StandardError(kInternalError));
    settle(out);
    return out;
  }
}

std::string Dispatcher::Dispatch(std::string_view body) const { return Execute(Prepare(body)); }

}  // namespace cairn::rpc
