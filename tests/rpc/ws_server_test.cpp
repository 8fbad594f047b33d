// rpc::Server's WebSocket side without a node: the per-client cap on WebSocket connections,
// and answers larger than a connection's queue (cut like max_response_bytes, not a close).
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/dispatcher.h"
#include "rpc/server.h"
#include "rpc/ws_client.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

struct WsFixture {
  explicit WsFixture(ServerOptions options) : server(dispatcher, options) {
    REQUIRE(dispatcher
                .Register("add",
                          [](const Json& p) -> RpcResult {
                            return p.at(0).get<int64_t>() + p.at(1).get<int64_t>();
                          })
                .ok());
    // A string of params[0] bytes.
    REQUIRE(dispatcher
                .Register("blob",
                          [](const Json& p) -> RpcResult {
                            return std::string(p.at(0).get<size_t>(), 'x');
                          })
                .ok());
    // params[0] items of 1 KiB, as a range method builds them: it stops at the budget and
    // says so, as getBlocks does.
    REQUIRE(dispatcher
                .Register("range",
                          [](const Json& p, const CallContext& ctx) -> RpcResult {
                            Json items = Json::array();
                            size_t used = 64;
                            bool truncated = false;
                            for (size_t i = 0; i < p.at(0).get<size_t>(); ++i) {
                              if (used + 1030 > ctx.response_budget) {
                                truncated = true;
                                break;
                              }
                              items.push_back(std::string(1024, 'y'));
                              used += 1030;
                            }
                            return Json{{"items", items}, {"truncated", truncated}};
                          })
                .ok());
    REQUIRE(server.Start("127.0.0.1", 0).ok());
  }
  ~WsFixture() { server.Stop(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()); }

  Dispatcher dispatcher;
  Server server;
};

TEST_CASE("ws: an answer larger than the connection's queue is cut, the connection stays",
          "[rpc][ws]") {
  ServerOptions o;
  o.ws_queue_bytes = 64 << 10;
  WsFixture f(o);
  auto ws = WsClient::Connect(f.url());
  REQUIRE(ws.ok());
  // Over HTTP this answer fits max_response_bytes (16 MiB); it does not fit the 64 KiB queue.
  CallResult big = ws->Call("blob", Json::array({200 << 10}));
  REQUIRE(big.is_rpc_error());
  CHECK(big.rpc_error().code == kLimitExceeded);
  // A range stops early and says so, as at max_response_bytes.
  CallResult range = ws->Call("range", Json::array({1000}));
  REQUIRE(range.ok());
  CHECK(range.value()["truncated"] == true);
  CHECK(range.value()["items"].size() > 10);
  CHECK(range.value()["items"].size() < 64);
  // The connection was not closed as a slow consumer: it still answers.
  CallResult sum = ws->Call("add", Json::array({2, 3}));
  REQUIRE(sum.ok());
  CHECK(sum.value() == 5);
  CHECK(f.server.Stats().ws_slow_dropped == 0);
}

TEST_CASE("ws: max_ws_connections_per_ip refuses an upgrade past it, HTTP still served",
          "[rpc][ws]") {
  ServerOptions o;
  o.max_ws_connections = 16;
  o.max_ws_connections_per_ip = 2;
  WsFixture f(o);
  std::vector<WsClient> open;
  for (int i = 0; i < 2; ++i) {
    auto ws = WsClient::Connect(f.url());
    REQUIRE(ws.ok());
    open.push_back(std::move(*ws));
  }
  auto third = WsClient::Connect(f.url());
  REQUIRE(!third.ok());
  CHECK(third.status().code() == StatusCode::kRejected);
  CHECK(third.status().message().find("503") != std::string::npos);
  // One closes: its slot is this client's again.
  open.pop_back();
  CHECK(Eventually([&] { return WsClient::Connect(f.url()).ok(); }));
  CallResult sum = open.front().Call("add", Json::array({1, 1}));
  REQUIRE(sum.ok());
}

}  // namespace
