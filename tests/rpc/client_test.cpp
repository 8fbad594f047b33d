#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <string>

#include "rpc/client.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

Client MustCreate(const std::string& url, ClientOptions options = {}) {
  Result<Client> c = Client::Create(url, options);
  REQUIRE(c.ok());
  return std::move(c).value();
}

// The JSON-RPC request inside a raw HTTP request.
Json RequestBody(const std::string& http) {
  return Json::parse(http.substr(http.find("\r\n\r\n") + 4));
}

}  // namespace

TEST_CASE("client: urls are parsed strictly", "[rpc][client]") {
  CHECK(Client::Create("http://127.0.0.1:8545").ok());
  CHECK(Client::Create("http://localhost").ok());
  CHECK(Client::Create("HTTP://[::1]:8545/rpc").ok());
  for (const char* bad :
       {"https://127.0.0.1:8545", "127.0.0.1:8545", "http://", "http://:80", "http://h:0",
        "http://h:65536", "http://h:8x", "http://::1:80", "http://[::1", "http://[::1]x"}) {
    INFO(bad);
    Result<Client> c = Client::Create(bad);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().find("invalid url") != std::string::npos);
  }
}

TEST_CASE("client: connection refused is a clear transport error", "[rpc][client]") {
  Dispatcher dispatcher;
  uint16_t port = 0;
  {
    Server server(dispatcher);
    REQUIRE(server.Start("127.0.0.1", 0).ok());
    port = server.port();
  }  // nothing listens there now
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(port));
  CallResult r = client.Call("x");
  REQUIRE(r.is_transport_error());
  CHECK(r.status().message() ==
        "rpc client: connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  CHECK_FALSE(client.Notify("x").ok());
  CHECK_FALSE(client.CallBatch({{"x", nullptr}}).ok());
}

TEST_CASE("client: reconnects after the server closed an idle connection", "[rpc][client]") {
  Dispatcher dispatcher;
  REQUIRE(dispatcher.Register("one", [](const Json&) -> RpcResult { return 1; }).ok());
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  Server server(dispatcher, options);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(server.port()));

  REQUIRE(client.Call("one").ok());
  REQUIRE(Eventually([&] { return server.Stats().active_connections == 0; }));
  CallResult again = client.Call("one");
  REQUIRE(again.ok());
  CHECK(server.Stats().accepted == 2);
}

TEST_CASE("client: a kept-alive connection the server drops unanswered is retried once",
          "[rpc][client]") {
  std::atomic<int> seen{0};
  FakeHttpServer fake([&seen](const std::string& request) -> std::string {
    ++seen;
    if (seen == 2) return "";  // closes as if its idle timer fired just as the request came
    const std::string body =
        R"({"jsonrpc":"2.0","result":"ok","id":)" + RequestBody(request)["id"].dump() + "}";
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  Client client = MustCreate(fake.url());
  REQUIRE(client.Call("m").ok());
  CallResult second = client.Call("m");
  REQUIRE(second.ok());
  CHECK(fake.requests() == 3);
  CHECK(fake.connections() == 2);

  // A fresh connection closed unanswered is not retried.
  seen = 1;
  client.Disconnect();
  CallResult third = client.Call("m");
  REQUIRE(third.is_transport_error());
  CHECK(third.status().message().find("without a response") != std::string::npos);
}

TEST_CASE("client: a request that takes too long times out", "[rpc][client]") {
  Dispatcher dispatcher;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  REQUIRE(dispatcher
              .Register("wait",
                        [released](const Json&) -> RpcResult {
                          released.wait();
                          return 1;
                        })
              .ok());
  REQUIRE(dispatcher.Register("one", [](const Json&) -> RpcResult { return 1; }).ok());
  Server server(dispatcher);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(server.port()), options);

  CallResult r = client.Call("wait");
  REQUIRE(r.is_transport_error());
  CHECK(r.status().message().find("timed out after 200 ms") != std::string::npos);
  release.set_value();
  CHECK(client.Call("one").ok());  // a fresh connection
  server.Stop();
}

TEST_CASE("client: errors keep their code, message and data", "[rpc][client]") {
  Dispatcher dispatcher;
  REQUIRE(dispatcher
              .Register("send",
                        [](const Json&) -> RpcResult {
                          return AppError(1001, "nonce too low", Json{{"expected", 5}});
                        })
              .ok());
  Server server(dispatcher);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(server.port()));
  CallResult r = client.Call("send", Json::array({"tx"}));
  REQUIRE(r.is_rpc_error());
  CHECK(r.rpc_error().code == 1001);
  CHECK(r.rpc_error().message == "nonce too low");
  CHECK(*r.rpc_error().data == Json{{"expected", 5}});
  CHECK(r.status().message() == R"(rpc error 1001: nonce too low ({"expected":5}))");
}

TEST_CASE("client: batch answers are matched by id, whatever their order", "[rpc][client]") {
  FakeHttpServer fake([](const std::string& request) {
    Json calls = RequestBody(request);
    Json answers = Json::array();
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if ((*it)["method"] == "fail") {
        answers.push_back({{"jsonrpc", "2.0"},
                           {"id", (*it)["id"]},
                           {"error", {{"code", 1002}, {"message", "no"}}}});
      } else {
        answers.push_back({{"jsonrpc", "2.0"}, {"id", (*it)["id"]}, {"result", (*it)["method"]}});
      }
    }
    return HttpJsonResponse(200, answers.dump());
  });
  Client client = MustCreate(fake.url());
  Result<std::vector<RpcResult>> r =
      client.CallBatch({{"a", nullptr}, {"fail", Json::array()}, {"c", Json::object()}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].value() == "a");
  CHECK((*r)[1].error().code == 1002);
  CHECK((*r)[2].value() == "c");
}

TEST_CASE("client: a whole-batch error becomes every element's error", "[rpc][client]") {
  DispatcherOptions options;
  options.max_batch_size = 2;
  Dispatcher dispatcher(options);
  REQUIRE(dispatcher.Register("one", [](const Json&) -> RpcResult { return 1; }).ok());
  Server server(dispatcher);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(server.port()));
  Result<std::vector<RpcResult>> r =
      client.CallBatch({{"one", nullptr}, {"one", nullptr}, {"one", nullptr}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  for (const auto& e : *r) CHECK(e.error().code == kInvalidRequest);
  CHECK(client.CallBatch({}).value().empty());
}

TEST_CASE("client: malformed responses are transport errors", "[rpc][client]") {
  std::mutex mu;
  std::string reply;  // guarded by mu: the fake server reads it on its thread
  FakeHttpServer fake([&](const std::string&) {
    std::lock_guard<std::mutex> lock(mu);
    return reply;
  });
  Client client = MustCreate(fake.url());
  auto set_reply = [&](const std::string& response) {
    std::lock_guard<std::mutex> lock(mu);
    reply = response;
  };
  auto call_error = [&](const std::string& response) {
    set_reply(response);
    CallResult r = client.Call("m");
    REQUIRE(r.is_transport_error());
    return r.status().message();
  };
  CHECK(call_error(HttpJsonResponse(200, "not json")).find("not JSON") != std::string::npos);
  CHECK(call_error(HttpJsonResponse(500, "oops")).find("HTTP 500") != std::string::npos);
  CHECK(call_error(HttpJsonResponse(200, R"({"jsonrpc":"2.0","id":999,"result":1})"))
            .find("unexpected") != std::string::npos);
  CHECK(call_error(HttpJsonResponse(200, R"({"jsonrpc":"2.0","id":4})")).find("neither") !=
        std::string::npos);
  CHECK(call_error("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").find("204") !=
        std::string::npos);
  CHECK(call_error("garbage\r\n\r\n").find("rpc client") != std::string::npos);
  CHECK(call_error("").find("without a response") != std::string::npos);

  set_reply(HttpJsonResponse(200, R"([{"jsonrpc":"2.0","id":12345,"result":1}])"));
  Result<std::vector<RpcResult>> batch = client.CallBatch({{"m", nullptr}});
  REQUIRE_FALSE(batch.ok());
  CHECK(batch.error().find("unexpected id") != std::string::npos);
}

TEST_CASE("client: a response over max_response_bytes fails the call", "[rpc][client]") {
  Dispatcher dispatcher;
  REQUIRE(
      dispatcher.Register("big", [](const Json&) -> RpcResult { return std::string(100'000, 'b'); })
          .ok());
  REQUIRE(dispatcher.Register("one", [](const Json&) -> RpcResult { return 1; }).ok());
  Server server(dispatcher);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  ClientOptions options;
  options.max_response_bytes = 10'000;
  Client client = MustCreate("http://127.0.0.1:" + std::to_string(server.port()), options);
  CallResult r = client.Call("big");
  INFO(r.status().message());
  REQUIRE(r.is_transport_error());
  CHECK(r.status().message().find("max_response_bytes") != std::string::npos);
  CHECK(client.Call("one").ok());
}
