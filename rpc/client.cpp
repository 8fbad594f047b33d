// Blocking calls built from Beast's asynchronous operations on a private io_context: the
// asynchronous forms are the ones that honour tcp_stream deadlines, so every step times out.
#include "rpc/client.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/span.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace cairn::rpc {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

struct ParsedUrl {
  std::string host;         // without brackets
  std::string port;         // decimal
  std::string host_header;  // host[:port] as written, brackets kept
  std::string target;       // path, "/" at least
};

Result<ParsedUrl> ParseUrl(std::string_view url) {
  const std::string bad = "rpc client: invalid url '" + std::string(url) + "': ";
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() ||
      !beast::iequals(beast::string_view(url.data(), kScheme.size()), "http://")) {
    return Status::Error(bad + "expected http://host:port");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ParsedUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  out.host_header = std::string(authority);
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::Error(bad + "unclosed '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Error(bad + "junk after ']'");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.find(':') != std::string_view::npos) {
        return Status::Error(bad + "an IPv6 host must be in brackets");
      }
    }
  }
  if (host.empty()) return Status::Error(bad + "no host");
  if (port.empty()) port = "80";
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return Status::Error(bad + "port must be 1..65535");
  }
  out.host = std::string(host);
  out.port = std::to_string(value);
  return out;
}

std::optional<RpcError> ParseErrorObject(const Json& error) {
  if (!error.is_object()) return std::nullopt;
  auto code = error.find("code");
  auto message = error.find("message");
  if (code == error.end() || !code->is_number_integer()) return std::nullopt;
  if (message == error.end() || !message->is_string()) return std::nullopt;
  RpcError out;
  out.code = code->get<int>();
  out.message = message->get<std::string>();
  if (auto data = error.find("data"); data != error.end()) out.data = *data;
  return out;
}

Status Malformed(const std::string& why) {
  return Status::Error("rpc client: malformed response: " + why);
}

// One response object. `expected_id` is checked for results; an error may carry a null id
// (the server could not read ours).
CallResult InterpretResponse(Json&& response, const Json& expected_id) {
  if (!response.is_object()) return Malformed("not an object");
  auto id = response.find("id");
  if (id == response.end()) return Malformed("no id");
  if (auto error = response.find("error"); error != response.end()) {
    if (response.contains("result")) return Malformed("both result and error");
    if (*id != expected_id && !id->is_null()) return Malformed("id " + Dump(*id) + " unexpected");
    std::optional<RpcError> parsed = ParseErrorObject(*error);
    if (!parsed) return Malformed("bad error object " + Dump(*error));
    return std::move(*parsed);
  }
  auto result = response.find("result");
  if (result == response.end()) return Malformed("neither result nor error");
  if (*id != expected_id) return Malformed("id " + Dump(*id) + " unexpected");
  return std::move(*result);
}

std::string Excerpt(const std::string& body) {
  constexpr size_t kMax = 200;
  return body.size() <= kMax ? body : body.substr(0, kMax) + "...";
}

// The body of an HTTP response to a JSON-RPC POST, parsed; a transport error when it is not
// JSON, or not JSON-RPC shaped.
Result<Json> ParseHttpBody(const HttpResponse& response) {
  if (response.body.empty()) {
    return Status::Error("rpc client: HTTP " + std::to_string(response.status) + " with no body");
  }
  Json doc = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Status::Error("rpc client: HTTP " + std::to_string(response.status) +
                         ", body is not JSON: " + Excerpt(response.body));
  }
  // 413, 503 and the like carry a JSON-RPC error: that is the server's answer.
  if (response.status != 200 && !(doc.is_object() && doc.contains("error"))) {
    return Status::Error("rpc client: HTTP " + std::to_string(response.status) + ": " +
                         Excerpt(response.body));
  }
  return doc;
}

void AppendRequest(std::string_view method, const Json& params, const Json* id, std::string* out) {
  out->append(R"({"jsonrpc":"2.0","method":)");
  out->append(Dump(Json(std::string(method))));
  if (!params.is_null()) {
    out->append(R"(,"params":)");
    out->append(Dump(params));
  }
  if (id != nullptr) {
    out->append(R"(,"id":)");
    out->append(Dump(*id));
  }
  out->push_back('}');
}

}  // namespace

Status CallResult::status() const {
  switch (v_.index()) {
    case 0:
      return Status::Ok();
    case 1: {
      const RpcError& e = std::get<1>(v_);
      std::string msg = "rpc error " + std::to_string(e.code) + ": " + e.message;
      if (e.data.has_value()) msg += " (" + Dump(*e.data) + ")";
      return Status::Error(msg);
    }
    default:
      return std::get<2>(v_);
  }
}

class Client::Impl {
 public:
  Impl(std::string url, ParsedUrl parsed, ClientOptions options)
      : url_(std::move(url)), parsed_(std::move(parsed)), options_(options) {}

  const std::string& url() const { return url_; }
  uint64_t TakeIds(uint64_t n) {
    uint64_t first = next_id_;
    next_id_ += n;
    return first;
  }

  Result<HttpResponse> Post(std::string_view body, std::string_view content_type) {
    for (int attempt = 0;; ++attempt) {
      bool reused = stream_.has_value();
      if (reused && !PeerStillOpen()) {
        Disconnect();
        reused = false;
      }
      if (!stream_.has_value()) {
        if (Status s = Connect(); !s.ok()) return s;
      }
      bool nothing_received = false;
      Result<HttpResponse> response = ExchangeOnce(body, content_type, &nothing_received);
      if (response.ok()) return response;
      Disconnect();
      // The server may close a kept-alive connection just as we reuse it (its idle timeout).
      // Not one byte came back, so it did not answer; sending once more on a fresh connection
      // is what browsers and curl do. (A node deduplicates transactions by hash.)
      if (!(reused && nothing_received && attempt == 0)) return response;
    }
  }

  void Disconnect() {
    if (stream_.has_value()) {
      beast::error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_->close();
      stream_.reset();
    }
    buffer_.clear();
  }

 private:
  std::string Where() const { return parsed_.host_header; }

  std::string Describe(const beast::error_code& ec, std::chrono::milliseconds timeout) const {
    if (ec == beast::error::timeout) {
      return "timed out after " + std::to_string(timeout.count()) + " ms";
    }
    return ec.message();
  }

  void RunIo() {
    ioc_.restart();
    ioc_.run();
  }

  Status Connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(parsed_.host, parsed_.port, ec);
    if (ec) return Status::Error("rpc client: resolve " + parsed_.host + ": " + ec.message());
    stream_.emplace(ioc_);
    stream_->expires_after(options_.connect_timeout);
    stream_->async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunIo();
    if (ec) {
      Disconnect();
      return Status::Error("rpc client: connect to " + Where() + ": " +
                           Describe(ec, options_.connect_timeout));
    }
    beast::error_code ignored;
    stream_->socket().set_option(tcp::no_delay(true), ignored);
    return Status::Ok();
  }

  // False when the server has closed the kept-alive connection (or sent bytes nobody asked
  // for), so it must not be reused.
  bool PeerStillOpen() {
    if (buffer_.size() != 0) return false;
    char c;
    ssize_t n = ::recv(stream_->socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  Result<HttpResponse> ExchangeOnce(std::string_view body, std::string_view content_type,
                                    bool* nothing_received) {
    http::request<http::span_body<const char>> request{http::verb::post, parsed_.target, 11};
    request.set(http::field::host, parsed_.host_header);
    request.set(http::field::user_agent, "cairn-rpc-client");
    request.set(http::field::content_type,
                beast::string_view(content_type.data(), content_type.size()));
    request.body() = beast::span<const char>(body.data(), body.size());
    request.keep_alive(true);
    request.prepare_payload();

    const std::string what = "rpc client: POST " + url_ + ": ";
    beast::error_code ec;
    // One deadline for the whole exchange.
    stream_->expires_after(options_.request_timeout);
    http::async_write(*stream_, request, [&ec](beast::error_code e, size_t) { ec = e; });
    RunIo();
    if (ec) {
      *nothing_received = ec != beast::error::timeout;
      return Status::Error(what + Describe(ec, options_.request_timeout));
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    // Header first: Beast 1.74's eager parse (http::async_read alone) skips the Content-Length
    // vs body_limit check when body bytes arrive in the same read as the header.
    http::async_read_header(*stream_, buffer_, parser,
                            [&ec](beast::error_code e, size_t) { ec = e; });
    RunIo();
    if (!ec && !parser.is_done()) {
      http::async_read(*stream_, buffer_, parser, [&ec](beast::error_code e, size_t) { ec = e; });
      RunIo();
    }
    if (ec) {
      *nothing_received = !parser.got_some() && ec != beast::error::timeout;
      if (ec == http::error::end_of_stream) {
        return Status::Error(what + "server closed the connection without a response");
      }
      if (ec == http::error::body_limit) {
        return Status::Error(what + "response larger than " +
                             std::to_string(options_.max_response_bytes) +
                             " bytes (max_response_bytes)");
      }
      return Status::Error(what + Describe(ec, options_.request_timeout));
    }
    http::response<http::string_body> message = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(message.result_int());
    const beast::string_view type = message[http::field::content_type];
    out.content_type.assign(type.data(), type.size());
    out.keep_alive = message.keep_alive();
    out.body = std::move(message.body());
    if (!out.keep_alive) Disconnect();
    return out;
  }

  const std::string url_;
  const ParsedUrl parsed_;
  const ClientOptions options_;
  net::io_context ioc_{1};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  uint64_t next_id_ = 1;
};

Result<Client> Client::Create(std::string_view url, ClientOptions options) {
  Result<ParsedUrl> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  return Client(std::make_unique<Impl>(std::string(url), std::move(*parsed), options));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

const std::string& Client::url() const { return impl_->url(); }

void Client::Disconnect() { impl_->Disconnect(); }

Result<HttpResponse> Client::PostRaw(std::string_view body, std::string_view content_type) {
  return impl_->Post(body, content_type);
}

CallResult Client::Call(std::string_view method, const Json& params) {
  const Json id = impl_->TakeIds(1);
  std::string body;
  AppendRequest(method, params, &id, &body);
  Result<HttpResponse> response = impl_->Post(body, "application/json");
  if (!response.ok()) return response.status();
  if (response->status == 204) {
    return Status::Error("rpc client: server sent no response (HTTP 204) to a call");
  }
  Result<Json> doc = ParseHttpBody(*response);
  if (!doc.ok()) return doc.status();
  return InterpretResponse(std::move(*doc), id);
}

Status Client::Notify(std::string_view method, const Json& params) {
  std::string body;
  AppendRequest(method, params, /*id=*/nullptr, &body);
  Result<HttpResponse> response = impl_->Post(body, "application/json");
  if (!response.ok()) return response.status();
  if (response->status == 204 || (response->status == 200 && response->body.empty())) {
    return Status::Ok();
  }
  Result<Json> doc = ParseHttpBody(*response);
  if (!doc.ok()) return doc.status();
  CallResult answer = InterpretResponse(std::move(*doc), Json(nullptr));
  return answer.ok() ? Malformed("a result for a notification") : answer.status();
}

Result<std::vector<RpcResult>> Client::CallBatch(
    const std::vector<std::pair<std::string, Json>>& calls) {
  std::vector<RpcResult> results;
  if (calls.empty()) return results;  // an empty batch is invalid JSON-RPC; nothing to send
  const uint64_t first_id = impl_->TakeIds(calls.size());
  std::string body = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0) body.push_back(',');
    const Json id = first_id + i;
    AppendRequest(calls[i].first, calls[i].second, &id, &body);
  }
  body.push_back(']');

  Result<HttpResponse> response = impl_->Post(body, "application/json");
  if (!response.ok()) return response.status();
  Result<Json> doc = ParseHttpBody(*response);
  if (!doc.ok()) return doc.status();
  if (doc->is_object()) {  // one error for the whole batch
    CallResult answer = InterpretResponse(std::move(*doc), Json(nullptr));
    if (!answer.is_rpc_error()) {
      return answer.ok() ? Malformed("an object where a batch was expected") : answer.status();
    }
    results.assign(calls.size(), RpcResult(answer.rpc_error()));
    return results;
  }
  if (!doc->is_array()) return Malformed("batch response is not an array");

  std::vector<std::optional<RpcResult>> slots(calls.size());
  for (Json& element : *doc) {
    if (!element.is_object()) return Malformed("batch element is not an object");
    auto id = element.find("id");
    if (id == element.end() || !id->is_number_unsigned()) {
      // An error with a null id means the server could not read one of our requests, which
      // it cannot do for a batch we built; report it rather than guess which call it was.
      CallResult answer = InterpretResponse(std::move(element), Json(nullptr));
      return Malformed("batch element without our id: " + answer.status().message());
    }
    const uint64_t n = id->get<uint64_t>();
    if (n < first_id || n - first_id >= calls.size() || slots[n - first_id].has_value()) {
      return Malformed("batch element with unexpected id " + std::to_string(n));
    }
    const Json expected = n;
    CallResult answer = InterpretResponse(std::move(element), expected);
    if (answer.is_transport_error()) return answer.status();
    if (answer.ok()) {
      slots[n - first_id].emplace(std::move(answer).value());
    } else {
      slots[n - first_id].emplace(answer.rpc_error());
    }
  }
  results.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!slots[i].has_value()) {
      return Malformed("no answer for call #" + std::to_string(i) + " (" + calls[i].first + ")");
    }
    results.push_back(std::move(*slots[i]));
  }
  return results;
}

}  // namespace cairn::rpc
