// The server under the R3 and R4 attacks: heavy handlers cannot delay /health or light
// methods, idle connections give way to newcomers, one address cannot take every slot.
#include <catch2/catch.hpp>

#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "rpc/client.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

// "block" (heavy) holds its thread until released; "ping" is light.
struct LaneServer {
  explicit LaneServer(ServerOptions options = {}) {
    REQUIRE(dispatcher
                .Register("block",
                          [this](const Json&) -> RpcResult {
                            ++blocked;
                            release.wait();
                            return "released";
                          })
                .ok());
    REQUIRE(dispatcher
                .Register(
                    "ping", [](const Json&) -> RpcResult { return "pong"; }, Lane::kLight)
                .ok());
    server = std::make_unique<Server>(dispatcher, options);
    REQUIRE(server->Start("127.0.0.1", 0).ok());
  }
  ~LaneServer() {
    Release();
    server->Stop();
  }
  void Release() {
    if (!released) release_promise.set_value();
    released = true;
  }
  Client NewClient() const {
    auto c = Client::Create("http://127.0.0.1:" + std::to_string(server->port()));
    REQUIRE(c.ok());
    return std::move(c).value();
  }

  Dispatcher dispatcher;
  std::atomic<int> blocked{0};
  std::promise<void> release_promise;
  std::shared_future<void> release = release_promise.get_future().share();
  bool released = false;
  std::unique_ptr<Server> server;
};

std::string Get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"; }

std::string PostJson(const std::string& body) {
  return "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A TCP connection from a chosen loopback source address (127.0.0.0/8 is all loopback), so a
// test can be several clients.
std::unique_ptr<RawConn> ConnectFrom(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &src.sin_addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
  return std::make_unique<RawConn>(RawConn::Adopt{fd});
}

}  // namespace

TEST_CASE("R3: /health and light methods answer while every heavy thread is busy", "[rpc][lanes]") {
  ServerOptions options;
  options.threads = 2;
  LaneServer s(options);
  // Four heavy calls: two run and block, two wait in the heavy queue.
  std::vector<std::future<CallResult>> heavy;
  for (int i = 0; i < 4; ++i) {
    heavy.push_back(std::async(std::launch::async, [&] { return s.NewClient().Call("block"); }));
  }
  REQUIRE(Eventually([&] { return s.blocked == 2; }));

  RawConn health(s.server->port());
  REQUIRE(health.Send(Get("/health")));
  std::string answer = health.ReadResponse();
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.find("ok\n") != std::string::npos);
  Client light = s.NewClient();
  for (int i = 0; i < 10; ++i) CHECK(light.Call("ping").value() == "pong");
  // A batch of light methods is light too.
  RawConn batch(s.server->port());
  REQUIRE(batch.Send(PostJson(R"([{"jsonrpc":"2.0","method":"ping","id":1},)"
                              R"({"jsonrpc":"2.0","method":"ping","id":2}])")));
  CHECK(batch.ReadResponse().find(R"("result":"pong","id":2)") != std::string::npos);

  // The heavy calls were still in progress all along.
  CHECK(s.blocked == 2);
  for (auto& h : heavy) {
    CHECK(h.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  }
  s.Release();
  for (auto& h : heavy) CHECK(h.get().value() == "released");
}

TEST_CASE("R4: a newcomer past max_connections closes the longest-idle connection",
          "[rpc][lanes]") {
  ServerOptions options;
  options.max_connections = 3;
  // Only eviction may close these silent connections, however slow the machine.
  options.first_request_timeout = std::chrono::seconds(60);
  LaneServer s(options);
  auto oldest = ConnectFrom("127.0.0.2", s.server->port());
  REQUIRE(Eventually([&] { return s.server->Stats().active_connections == 1; }));
  auto middle = ConnectFrom("127.0.0.3", s.server->port());
  auto newest = ConnectFrom("127.0.0.4", s.server->port());
  REQUIRE(Eventually([&] { return s.server->Stats().active_connections == 3; }));

  Client client = s.NewClient();
  CHECK(client.Call("ping").value() == "pong");
  std::string ignored;
  CHECK(oldest->ReadUntilClosed(&ignored));
  CHECK(s.server->Stats().evicted == 1);
  CHECK(s.server->Stats().rejected_busy == 0);
  // The others are still served on their connections.
  REQUIRE(middle->Send(PostJson(R"({"jsonrpc":"2.0","method":"ping","id":7})")));
  CHECK(middle->ReadResponse().find("pong") != std::string::npos);
}

TEST_CASE("R4: when every connection has a request in progress, a newcomer gets 503",
          "[rpc][lanes]") {
  ServerOptions options;
  options.max_connections = 2;
  LaneServer s(options);
  auto a = std::async(std::launch::async, [&] { return s.NewClient().Call("block"); });
  auto b = std::async(std::launch::async, [&] { return s.NewClient().Call("block"); });
  REQUIRE(Eventually([&] { return s.blocked == 2; }));
  Client client = s.NewClient();
  CallResult refused = client.Call("ping");
  REQUIRE(refused.is_rpc_error());
  CHECK(refused.rpc_error().code == kResourceUnavailable);
  CHECK(refused.rpc_error().data.value().get<std::string>().find("max_connections") !=
        std::string::npos);
  CHECK(s.server->Stats().evicted == 0);
  s.Release();
  CHECK(a.get().ok());
  CHECK(b.get().ok());
  CHECK(Eventually([&] { return client.Call("ping").ok(); }));
}

TEST_CASE("R4: one address holds at most max_connections_per_ip, and its own idle ones give way",
          "[rpc][lanes]") {
  ServerOptions options;
  options.max_connections_per_ip = 2;
  options.first_request_timeout = std::chrono::seconds(60);  // only eviction closes them
  LaneServer s(options);
  std::vector<std::unique_ptr<RawConn>> flood;
  for (int i = 0; i < 10; ++i) flood.push_back(ConnectFrom("127.0.0.9", s.server->port()));
  // Each newcomer from .9 past two closed an older one from .9.
  REQUIRE(Eventually([&] { return s.server->Stats().evicted == 8; }));
  CHECK(s.server->Stats().active_connections == 2);
  // Another address is not affected at all.
  Client client = s.NewClient();
  CHECK(client.Call("ping").value() == "pong");
  CHECK(s.server->Stats().evicted == 8);
  // A request from .9 is still served: it takes the place of an idle .9 connection.
  auto again = ConnectFrom("127.0.0.9", s.server->port());
  REQUIRE(again->Send(PostJson(R"({"jsonrpc":"2.0","method":"ping","id":1})")));
  CHECK(again->ReadResponse().find("pong") != std::string::npos);
}

TEST_CASE("R4: a connection that sends nothing is closed after first_request_timeout",
          "[rpc][lanes]") {
  ServerOptions options;
  options.first_request_timeout = std::chrono::milliseconds(200);
  options.idle_timeout = std::chrono::minutes(5);
  LaneServer s(options);
  RawConn silent(s.server->port());
  std::string ignored;
  // Well before idle_timeout: the first request has its own, shorter, deadline.
  CHECK(silent.ReadUntilClosed(&ignored, std::chrono::seconds(30)));
  // A connection that did send a request may then idle for idle_timeout.
  RawConn used(s.server->port());
  REQUIRE(used.Send(PostJson(R"({"jsonrpc":"2.0","method":"ping","id":1})")));
  CHECK(used.ReadResponse().find("pong") != std::string::npos);
  CHECK(Eventually([&] { return s.server->Stats().active_connections == 1; }));
}

TEST_CASE("a chunked trailer over max_header_bytes is answered 431", "[rpc][lanes]") {
  LaneServer s;
  RawConn raw(s.server->port());
  const std::string body = R"({"jsonrpc":"2.0","method":"ping","id":1})";
  std::string request =
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  request += std::string(size) + "\r\n" + body + "\r\n0\r\n";
  for (int i = 0; i < 400; ++i)
    request += "X-Trailer-" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
  request += "\r\n";
  raw.Send(request);  // the server may answer before taking it all
  std::string all;
  REQUIRE(raw.ReadUntilClosed(&all));
  CHECK(all.rfind("HTTP/1.1 431", 0) == 0);
  CHECK(all.find("max_header_bytes") != std::string::npos);
}
