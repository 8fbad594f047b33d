// Blocking calls over Beast's asynchronous WebSocket operations on a private io_context, run
// only inside a call with a deadline. One read is kept outstanding between calls (so pings are
// answered whenever the loop runs); what it reads waits in inbox_.
#include "rpc/ws_client.h"

#include <charconv>
#include <deque>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "rpc/subscription.h"

namespace cairn::rpc {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

struct WsUrl {
  std::string host, port, host_header, target;
};

Result<WsUrl> ParseWsUrl(std::string_view url) {
  const std::string bad = "ws client: invalid url '" + std::string(url) + "': ";
  std::string_view rest;
  for (std::string_view scheme : {"http://", "ws://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty()) return Status::Error(bad + "expected http://host:port or ws://host:port");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  WsUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  out.host_header = std::string(authority);
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::Error(bad + "unclosed '['");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::Error(bad + "junk after ']'");
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::Error(bad + "no host");
  unsigned value = 80;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Status::Error(bad + "port must be 1..65535");
    }
  }
  out.host = std::string(host);
  out.port = std::to_string(value);
  return out;
}

}  // namespace

class WsClient::Impl {
 public:
  Impl(ClientOptions options) : options_(options), ws_(ioc_) {}

  ~Impl() {
    if (closed_) return;
    beast::error_code ignored;
    bool done = false;
    ws_.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
    RunUntil([&] { return done; }, SteadyClock::now() + std::chrono::seconds(1));
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  Status Open(const WsUrl& url) {
    const auto deadline = SteadyClock::now() + options_.connect_timeout;
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) return Status::Error("ws client: resolve " + url.host + ": " + ec.message());
    bool done = false;
    beast::get_lowest_layer(ws_).expires_at(deadline);
    beast::get_lowest_layer(ws_).async_connect(endpoints,
                                               [&](beast::error_code e, const tcp::endpoint&) {
                                                 ec = e;
                                                 done = true;
                                               });
    RunUntil([&] { return done; }, deadline);
    if (!done || ec) {
      return Status::Error("ws client: connect to " + url.host_header + ": " +
                           (done ? ec.message() : "timed out"));
    }
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
    websocket::response_type response;
    done = false;
    ws_.async_handshake(response, url.host_header, url.target, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    RunUntil([&] { return done; }, deadline);
    if (!done || ec) {
      closed_ = true;
      if (ec == websocket::error::upgrade_declined) {
        return Status::Rejected("ws client: " + url.host_header +
                                " answered the upgrade with HTTP " +
                                std::to_string(response.result_int()));
      }
      return Status::Error("ws client: handshake with " + url.host_header + ": " +
                           (done ? ec.message() : "timed out"));
    }
    // From here the WebSocket's own timers; the socket's deadline would cut a quiet follower.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.read_message_max(options_.max_response_bytes);
    ws_.text(true);
    return Status::Ok();
  }

  CallResult Call(std::string_view method, const Json& params) {
    const uint64_t id = next_id_++;
    Json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
    if (!params.is_null()) request["params"] = params;
    const auto deadline = SteadyClock::now() + options_.request_timeout;
    if (Status s = Write(request.dump(-1, ' ', false, Json::error_handler_t::replace), deadline);
        !s.ok()) {
      return s;
    }
    std::optional<Json> answer;
    RunUntil(
        [&] {
          for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
            if (it->contains("id") && (*it)["id"] == id) {
              answer = std::move(*it);
              inbox_.erase(it);
              return true;
            }
          }
          return false;
        },
        deadline);
    if (!answer) return closed_ ? close_status_ : Status::Error("ws client: call timed out");
    if (auto e = answer->find("error"); e != answer->end() && e->is_object()) {
      RpcError error;
      error.code = e->value("code", kInternalError);
      error.message = e->value("message", std::string());
      if (e->contains("data")) error.data = (*e)["data"];
      return error;
    }
    if (!answer->contains("result")) return Status::Error("ws client: answer without result");
    return std::move((*answer)["result"]);
  }

  Result<std::optional<Notification>> Next(std::chrono::milliseconds timeout) {
    std::optional<Notification> out;
    RunUntil(
        [&] {
          while (!inbox_.empty()) {
            Json m = std::move(inbox_.front());
            inbox_.pop_front();
            if (m.value("method", "") != "subscription" || !m.contains("params")) continue;
            const Json& p = m["params"];
            auto id =
                p.contains("subscription") ? ParseSubscriptionId(p["subscription"]) : std::nullopt;
            if (!id || !p.contains("result")) continue;
            out = Notification{*id, p["result"]};
            return true;
          }
          return false;
        },
        SteadyClock::now() + timeout);
    if (!out && closed_) return close_status_;
    return out;
  }

 private:
  Status Write(const std::string& text, SteadyClock::time_point deadline) {
    if (closed_) return close_status_;
    bool done = false;
    beast::error_code ec;
    ws_.async_write(net::buffer(text), [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    RunUntil([&] { return done; }, deadline);
    if (!done) return Status::Error("ws client: write timed out");
    if (ec) return Status::Error("ws client: write: " + ec.message());
    return Status::Ok();
  }

  void StartRead() {
    if (reading_ || closed_) return;
    reading_ = true;
    ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
      reading_ = false;
      if (ec) {
        closed_ = true;
        const websocket::close_reason& r = ws_.reason();
        close_status_ =
            ec == websocket::error::closed
                ? Status::Error("ws client: closed by the server (" + std::to_string(r.code) +
                                "): " + std::string(r.reason.data(), r.reason.size()))
                : Status::Error("ws client: read: " + ec.message());
        return;
      }
      Json j = Json::parse(beast::buffers_to_string(buffer_.data()), nullptr, false);
      buffer_.consume(buffer_.size());
      if (!j.is_discarded()) inbox_.push_back(std::move(j));
      StartRead();
    });
  }

  // Runs the loop until `done()` holds or `deadline`; the outstanding read stays outstanding.
  template <typename Pred>
  void RunUntil(Pred done, SteadyClock::time_point deadline) {
    while (!done()) {
      const auto now = SteadyClock::now();
      if (now >= deadline) return;
      if (!closed_ && ws_.is_open()) StartRead();
      ioc_.restart();
      if (ioc_.run_one_for(deadline - now) == 0 && closed_) return;
    }
  }

  ClientOptions options_;
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<Json> inbox_;
  bool reading_ = false;
  bool closed_ = false;
  Status close_status_ = Status::Error("ws client: closed");
  uint64_t next_id_ = 1;
};

Result<WsClient> WsClient::Connect(std::string_view url, ClientOptions options) {
  auto parsed = ParseWsUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto impl = std::make_unique<Impl>(options);
  if (Status s = impl->Open(*parsed); !s.ok()) return s;
  return WsClient(std::move(impl));
}

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;
WsClient::~WsClient() = default;

CallResult WsClient::Call(std::string_view method, const Json& params) {
  return impl_->Call(method, params);
}

Result<uint64_t> WsClient::Subscribe(const Json& params) {
  CallResult r = impl_->Call("subscribe", params);
  if (!r.ok()) return r.status();
  auto id = ParseSubscriptionId(r.value());
  if (!id) return Status::Error("ws client: subscribe answered " + r.value().dump());
  return *id;
}

Result<std::optional<Notification>> WsClient::Next(std::chrono::milliseconds timeout) {
  return impl_->Next(timeout);
}

}  // namespace cairn::rpc
