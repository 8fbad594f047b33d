// rpc::Server's subscription side without a node (a fake SubscriptionService): the 4 KiB rule
// for subscribe/unsubscribe messages (docs/RPC.md "WebSocket"), subscribe/unsubscribe reported
// to the dispatcher's on_call observer like its own methods (the node's
// cairn_rpc_requests_total), and GET /ready's 250 ms cache.
#include <sys/socket.h>
#include <sys/time.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "rpc/dispatcher.h"
#include "rpc/readiness_cache.h"
#include "rpc/server.h"
#include "rpc/subscription.h"
#include "rpc/ws_client.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;

// Subscribes anything but the topic "bad" (-32602), and pushes nothing.
class FakeSubscriptions final : public SubscriptionService {
 public:
  std::optional<RpcError> Subscribe(const Json& params, const std::shared_ptr<PushChannel>&,
                                    const std::function<void(uint64_t id)>& accept) override {
    const Json* topic = FindParam(params, 0, "topic");
    if (topic == nullptr || *topic == "bad") return InvalidParams("unknown topic");
    uint64_t id;
    {
      MutexLock lock(&mu_);
      id = next_id_++;
      live_.push_back(id);
    }
    accept(id);
    return std::nullopt;
  }
  bool Unsubscribe(uint64_t id, const PushChannel&) override {
    MutexLock lock(&mu_);
    auto it = std::find(live_.begin(), live_.end(), id);
    if (it == live_.end()) return false;
    live_.erase(it);
    return true;
  }
  void Disconnected(const PushChannel&) override {}
  uint64_t subscribed() const {
    MutexLock lock(&mu_);
    return next_id_ - 1;
  }

 private:
  mutable Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::vector<uint64_t> live_ GUARDED_BY(mu_);
};

// What DispatcherOptions::on_call saw: calls per method, and per (method, error code).
class CallLog {
 public:
  void Add(std::string_view method, int code) {
    MutexLock lock(&mu_);
    ++calls_[std::string(method)];
    ++codes_[{std::string(method), code}];
  }
  int calls(const std::string& method) const {
    MutexLock lock(&mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  int with_code(const std::string& method, int code) const {
    MutexLock lock(&mu_);
    auto it = codes_.find({method, code});
    return it == codes_.end() ? 0 : it->second;
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, int> calls_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, int>, int> codes_ GUARDED_BY(mu_);
};

DispatcherOptions ReportingTo(CallLog* log) {
  DispatcherOptions o;
  o.on_call = [log](std::string_view method, int code, std::chrono::nanoseconds) {
    log->Add(method, code);
  };
  return o;
}

struct SubFixture {
  explicit SubFixture(ServerOptions options = {})
      : dispatcher(ReportingTo(&log)), server(dispatcher, std::move(options), &subs) {
    REQUIRE(dispatcher
                .Register("add",
                          [](const Json& p) -> RpcResult {
                            return p.at(0).get<int64_t>() + p.at(1).get<int64_t>();
                          })
                .ok());
    REQUIRE(server.Start("127.0.0.1", 0).ok());
  }
  ~SubFixture() { server.Stop(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()); }

  CallLog log;
  FakeSubscriptions subs;
  Dispatcher dispatcher;
  Server server;
};

// A blocking WebSocket client that sends exactly the bytes it is given (WsClient builds its
// own envelope). Reads give up after 10 s (SO_RCVTIMEO) rather than hang the test.
class RawWs {
 public:
  explicit RawWs(uint16_t port) : ws_(io_) {
    ws_.next_layer().connect({net::ip::address_v4::loopback(), port});
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.handshake("127.0.0.1", "/");
    ws_.text(true);
  }
  Json Call(std::string_view text) {
    ws_.write(net::buffer(text.data(), text.size()));
    boost::beast::flat_buffer buffer;
    ws_.read(buffer);
    return Json::parse(boost::beast::buffers_to_string(buffer.data()));
  }

 private:
  net::io_context io_;
  websocket::stream<net::ip::tcp::socket> ws_;
};

// {"jsonrpc":"2.0","id":ID,"method":METHOD,"params":[...,{"pad":"xx..."}]} of exactly `size`
// bytes.
std::string CallOfSize(int id, std::string_view method, std::string_view params_head, size_t size) {
  const std::string head = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" +
                           std::string(method) + R"(","params":[)" + std::string(params_head) +
                           R"({"pad":")";
  const std::string tail = R"("}]})";
  REQUIRE(size >= head.size() + tail.size());
  std::string text = head + std::string(size - head.size() - tail.size(), 'x') + tail;
  REQUIRE(text.size() == size);
  return text;
}

TEST_CASE(
    "ws: subscribe is recognised in a message of 4 KiB, a larger one is -32601 and the "
    "connection stays",
    "[rpc][ws][subs]") {
  SubFixture f;
  RawWs ws(f.server.port());
  // Exactly 4096 bytes: a subscription call.
  Json at = ws.Call(CallOfSize(1, "subscribe", R"("newBlocks",)", 4096));
  INFO(at.dump());
  REQUIRE(at.contains("result"));
  CHECK(at["id"] == 1);
  CHECK(ParseSubscriptionId(at["result"]).has_value());
  CHECK(f.subs.subscribed() == 1);
  // 4097 bytes: answered like an unknown method, and never reaches the subscriptions.
  Json over = ws.Call(CallOfSize(2, "subscribe", R"("newBlocks",)", 4097));
  INFO(over.dump());
  REQUIRE(over.contains("error"));
  CHECK(over["id"] == 2);
  CHECK(over["error"]["code"] == kMethodNotFound);
  CHECK(f.subs.subscribed() == 1);
  Json unsub_over = ws.Call(CallOfSize(3, "unsubscribe", R"("0x1",)", 4097));
  CHECK(unsub_over["error"]["code"] == kMethodNotFound);
  // The connection was not closed: calls and subscriptions still work on it.
  Json sum = ws.Call(R"({"jsonrpc":"2.0","id":4,"method":"add","params":[2,3]})");
  CHECK(sum["result"] == 5);
  Json again = ws.Call(R"({"jsonrpc":"2.0","id":5,"method":"unsubscribe","params":["0x1"]})");
  CHECK(again["result"] == true);
  CHECK(f.server.Stats().ws_connections == 1);
}

TEST_CASE("ws: subscribe and unsubscribe are reported to on_call like dispatcher methods",
          "[rpc][ws][subs]") {
  SubFixture f;
  auto ws = WsClient::Connect(f.url());
  REQUIRE(ws.ok());
  auto sub = ws->Subscribe(Json::array({"newBlocks"}));
  REQUIRE(sub.ok());
  CallResult bad = ws->Call("subscribe", Json::array({"bad"}));
  REQUIRE(bad.is_rpc_error());
  CHECK(bad.rpc_error().code == kInvalidParams);
  CallResult unsub = ws->Call("unsubscribe", Json::array({SubscriptionIdString(*sub)}));
  REQUIRE(unsub.ok());
  CallResult unknown = ws->Call("unsubscribe", Json::array({"0x99"}));
  REQUIRE(unknown.ok());
  CHECK(unknown.value() == false);
  CallResult malformed = ws->Call("unsubscribe", Json::array({42}));
  REQUIRE(malformed.is_rpc_error());
  REQUIRE(ws->Call("add", Json::array({1, 1})).ok());
  // on_call runs after the answer is queued: the client may read it first.
  CHECK(
      Eventually([&] { return f.log.calls("subscribe") == 2 && f.log.calls("unsubscribe") == 3; }));
  CHECK(f.log.with_code("subscribe", 0) == 1);
  CHECK(f.log.with_code("subscribe", kInvalidParams) == 1);
  CHECK(f.log.with_code("unsubscribe", 0) == 2);  // true and false are both results
  CHECK(f.log.with_code("unsubscribe", kInvalidParams) == 1);
  CHECK(f.log.calls("add") == 1);
}

TEST_CASE("/ready: one check per 250 ms window, served to every GET inside it", "[rpc][ready]") {
  // The node's wiring: a steady clock in ms (here a fake one) and a check that costs.
  std::atomic<uint64_t> now_ms{10'000};
  std::atomic<int> checks{0};
  std::atomic<bool> healthy{true};
  ReadinessCache cache;
  ServerOptions o;
  o.readiness = [&] {
    return cache.Get(now_ms.load(), [&] {
      checks.fetch_add(1);
      return healthy ? Readiness{} : Readiness{.ready = false, .reason = "peers: 0 connected"};
    });
  };
  Dispatcher dispatcher;
  Server server(dispatcher, o);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  RawConn c(server.port());
  REQUIRE(c.connected());
  auto get_ready = [&c] {
    REQUIRE(c.Send("GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"));
    return c.ReadResponse();
  };
  std::string first = get_ready();
  CHECK(first.find("200 OK") != std::string::npos);
  CHECK(checks == 1);
  // Inside the window the answer is reused, even though a new check would say otherwise.
  healthy = false;
  now_ms += ReadinessCache::kWindowMs - 1;
  std::string second = get_ready();
  CHECK(second.find("200 OK") != std::string::npos);
  CHECK(checks == 1);
  // At the window's end one new check, then reused again.
  now_ms += 1;
  std::string third = get_ready();
  CHECK(third.find("503") != std::string::npos);
  CHECK(third.find("peers: 0 connected") != std::string::npos);
  CHECK(checks == 2);
  CHECK(get_ready().find("503") != std::string::npos);
  CHECK(checks == 2);
  server.Stop();
}

}  // namespace
