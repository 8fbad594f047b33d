#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "rpc/client.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

// A dispatcher with a few methods, and a "slow" one that blocks until released.
struct Methods {
  Methods() {
    REQUIRE(dispatcher
                .Register("add",
                          [](const Json& p) -> RpcResult {
                            const Json* a = FindParam(p, 0, "a");
                            const Json* b = FindParam(p, 1, "b");
                            if (!a || !b || !a->is_number() || !b->is_number()) {
                              return InvalidParams("expected numbers a and b");
                            }
                            return a->get<int64_t>() + b->get<int64_t>();
                          })
                .ok());
    REQUIRE(dispatcher.Register("echo", [](const Json& p) -> RpcResult { return p; }).ok());
    REQUIRE(dispatcher
                .Register("count",
                          [this](const Json&) -> RpcResult {
                            ++counted;
                            return nullptr;
                          })
                .ok());
    REQUIRE(dispatcher
                .Register("throw", [](const Json&) -> RpcResult { throw std::logic_error("bug"); })
                .ok());
    REQUIRE(dispatcher
                .Register("slow",
                          [this](const Json&) -> RpcResult {
                            ++slow_entered;
                            release.wait();
                            return "done";
                          })
                .ok());
  }
  Dispatcher dispatcher;
  std::atomic<int> counted{0};
  std::atomic<int> slow_entered{0};
  std::promise<void> release_promise;
  std::shared_future<void> release = release_promise.get_future().share();
};

struct Fixture {
  explicit Fixture(ServerOptions options = {}) : server(methods.dispatcher, options) {
    Status s = server.Start("127.0.0.1", 0);
    REQUIRE(s.ok());
    REQUIRE(server.port() != 0);
  }
  ~Fixture() {
    Release();
    server.Stop();
  }
  void Release() {
    if (!released) methods.release_promise.set_value();
    released = true;
  }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(server.port()) + path;
  }
  Client NewClient(ClientOptions options = {}) const {
    Result<Client> c = Client::Create(url(), options);
    REQUIRE(c.ok());
    return std::move(c).value();
  }
  Methods methods;
  Server server;
  bool released = false;
};

std::string Post(const std::string& body, const std::string& extra_headers = "") {
  return "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace

TEST_CASE("server: calls, batches and notifications over one kept-alive connection",
          "[rpc][server]") {
  Fixture f;
  Client client = f.NewClient();

  CallResult sum = client.Call("add", Json::array({2, 3}));
  REQUIRE(sum.ok());
  CHECK(sum.value() == 5);
  CHECK(client.Call("add", Json{{"a", 10}, {"b", -4}}).value() == 6);

  CallResult bad = client.Call("add", Json::array({"x"}));
  REQUIRE(bad.is_rpc_error());
  CHECK(bad.rpc_error().code == kInvalidParams);
  CHECK(bad.rpc_error().message == "expected numbers a and b");

  CallResult missing = client.Call("nope");
  REQUIRE(missing.is_rpc_error());
  CHECK(missing.rpc_error().code == kMethodNotFound);
  CHECK(missing.status().message() == "rpc error -32601: Method not found");

  Result<std::vector<RpcResult>> batch = client.CallBatch(
      {{"add", Json::array({1, 1})}, {"nope", nullptr}, {"echo", Json{{"k", "v"}}}});
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 3);
  CHECK((*batch)[0].value() == 2);
  CHECK((*batch)[1].error().code == kMethodNotFound);
  CHECK((*batch)[2].value() == Json{{"k", "v"}});

  CHECK(client.Notify("count").ok());
  CHECK(f.methods.counted == 1);

  // Everything above went over a single connection.
  CHECK(f.server.Stats().accepted == 1);
  CHECK(f.server.Stats().requests == 6);
}

TEST_CASE("server: HTTP status codes and bodies for raw requests", "[rpc][server]") {
  Fixture f;
  Client client = f.NewClient();

  SECTION("a notification is answered 204 with no body") {
    Result<HttpResponse> r = client.PostRaw(R"({"jsonrpc":"2.0","method":"count"})");
    REQUIRE(r.ok());
    CHECK(r->status == 204);
    CHECK(r->body.empty());
    CHECK(f.methods.counted == 1);
  }
  SECTION("malformed JSON is 200 with a -32700 body") {
    Result<HttpResponse> r = client.PostRaw("{not json");
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->content_type == "application/json");
    CHECK(Json::parse(r->body)["error"]["code"] == kParseError);
  }
  SECTION("a wrong Content-Type is 415 with a JSON-RPC error") {
    Result<HttpResponse> r = client.PostRaw(R"({"jsonrpc":"2.0","method":"count"})", "text/plain");
    REQUIRE(r.ok());
    CHECK(r->status == 415);
    CHECK(Json::parse(r->body)["error"]["code"] == kInvalidRequest);
    CHECK(f.methods.counted == 0);
    // Parameters and case do not matter.
    r = client.PostRaw(R"({"jsonrpc":"2.0","method":"echo","id":1})",
                       "Application/JSON; charset=utf-8");
    REQUIRE(r.ok());
    CHECK(r->status == 200);
  }
  SECTION("other paths are 404, other methods 405 with Allow") {
    Result<Client> elsewhere = Client::Create(f.url("/v1"));
    REQUIRE(elsewhere.ok());
    Result<HttpResponse> r = elsewhere->PostRaw(R"({"jsonrpc":"2.0","method":"echo","id":1})");
    REQUIRE(r.ok());
    CHECK(r->status == 404);
    CHECK(Json::parse(r->body)["error"]["code"] == kInvalidRequest);

    RawConn raw(f.server.port());
    REQUIRE(raw.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string response = raw.ReadResponse();
    CHECK(response.rfind("HTTP/1.1 405", 0) == 0);
    CHECK(response.find("Allow: POST") != std::string::npos);
    CHECK(Json::parse(BodyOf(response))["error"]["code"] == kInvalidRequest);
    // No body was pending, so the connection stays usable.
    REQUIRE(raw.Send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n"));
    response = raw.ReadResponse();
    CHECK(response.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(BodyOf(response) == "ok\n");
  }
  SECTION("pipelined requests are answered in order") {
    RawConn raw(f.server.port());
    REQUIRE(raw.Send(Post(R"({"jsonrpc":"2.0","method":"echo","params":[1],"id":1})") +
                     Post(R"({"jsonrpc":"2.0","method":"echo","params":[2],"id":2})")));
    CHECK(Json::parse(BodyOf(raw.ReadResponse()))["id"] == 1);
    CHECK(Json::parse(BodyOf(raw.ReadResponse()))["id"] == 2);
  }
  SECTION("HTTP/1.0 without keep-alive is answered, then closed") {
    RawConn raw(f.server.port());
    std::string body = R"({"jsonrpc":"2.0","method":"echo","params":[1],"id":1})";
    REQUIRE(raw.Send("POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body));
    std::string all;
    REQUIRE(raw.ReadUntilClosed(&all));
    CHECK(all.rfind("HTTP/1.0 200", 0) == 0);
    CHECK(Json::parse(BodyOf(all))["result"] == Json::array({1}));
  }
  SECTION("Expect: 100-continue gets an interim response before the body is sent") {
    RawConn raw(f.server.port());
    std::string body = R"({"jsonrpc":"2.0","method":"echo","params":[3],"id":3})";
    REQUIRE(
        raw.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Expect: 100-continue\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
    CHECK(raw.ReadResponse().rfind("HTTP/1.1 100 Continue", 0) == 0);
    REQUIRE(raw.Send(body));
    CHECK(Json::parse(BodyOf(raw.ReadResponse()))["result"] == Json::array({3}));
  }
}

TEST_CASE("server: an oversized body is 413 and the server keeps serving", "[rpc][server]") {
  ServerOptions options;
  options.max_body_bytes = 1024;
  Fixture f(options);
  Client client = f.NewClient();
  const std::string big =
      R"({"jsonrpc":"2.0","method":"echo","id":1,"params":[")" + std::string(4096, 'x') + R"("]})";

  SECTION("announced by Content-Length") {
    Result<HttpResponse> r = client.PostRaw(big);
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    Json error = Json::parse(r->body)["error"];
    CHECK(error["code"] == kLimitExceeded);
    CHECK(error["data"].get<std::string>().find("max_body_bytes") != std::string::npos);
    // Through Call the same answer keeps its code.
    CallResult call = client.Call("echo", Json::array({std::string(4096, 'y')}));
    REQUIRE(call.is_rpc_error());
    CHECK(call.rpc_error().code == kLimitExceeded);
  }
  SECTION("discovered while reading a chunked body") {
    RawConn raw(f.server.port());
    std::string chunk(800, 'z');
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    REQUIRE(raw.Send(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        std::string(size) + "\r\n" + chunk + "\r\n" + size + "\r\n" + chunk + "\r\n0\r\n\r\n"));
    std::string all;
    REQUIRE(raw.ReadUntilClosed(&all));
    CHECK(all.rfind("HTTP/1.1 413", 0) == 0);
  }
  CallResult after = client.Call("add", Json::array({1, 2}));
  REQUIRE(after.ok());
  CHECK(after.value() == 3);
}

TEST_CASE("server: past max_connections with none idle, a newcomer gets 503, and serving goes on",
          "[rpc][server]") {
  ServerOptions options;
  options.max_connections = 2;
  Fixture f(options);
  // Two connections with a request in progress: neither may be closed for a newcomer.
  auto first = std::async(std::launch::async, [&] { return f.NewClient().Call("slow"); });
  auto second = std::async(std::launch::async, [&] { return f.NewClient().Call("slow"); });
  REQUIRE(Eventually([&] { return f.methods.slow_entered == 2; }));

  Client client = f.NewClient();
  CallResult refused = client.Call("add", Json::array({1, 2}));
  REQUIRE(refused.is_rpc_error());
  CHECK(refused.rpc_error().code == kResourceUnavailable);
  CHECK(f.server.Stats().rejected_busy >= 1);

  f.Release();  // both answer; their connections become idle, so evictable
  CHECK(first.get().value() == "done");
  CHECK(second.get().value() == "done");
  CHECK(Eventually([&] { return client.Call("add", Json::array({1, 2})).ok(); }));
}

TEST_CASE("server: bytes that are not HTTP close the connection, the server lives on",
          "[rpc][server]") {
  ServerOptions options;
  options.max_header_bytes = 4096;
  Fixture f(options);
  std::string all;

  SECTION("a malformed request line gets 400 then close") {
    RawConn raw(f.server.port());
    REQUIRE(raw.Send(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16)));
    REQUIRE(raw.ReadUntilClosed(&all));
    CHECK(all.rfind("HTTP/1.1 400", 0) == 0);
  }
  SECTION("endless bytes without a line end hit the header limit") {
    RawConn raw(f.server.port());
    std::mt19937 rng(7);
    std::string noise(20000, 'a');
    for (auto& c : noise) c = static_cast<char>('a' + rng() % 26);
    raw.Send(noise);  // the server may close before taking it all
    REQUIRE(raw.ReadUntilClosed(&all));
  }
  SECTION("a broken Content-Length") {
    RawConn raw(f.server.port());
    REQUIRE(raw.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n"));
    REQUIRE(raw.ReadUntilClosed(&all));
    CHECK(all.rfind("HTTP/1.1 400", 0) == 0);
  }
  Client client = f.NewClient();
  CHECK(client.Call("add", Json::array({2, 2})).value() == 4);
}

TEST_CASE("server: slow and idle clients are timed out without blocking others", "[rpc][server]") {
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(300);
  options.read_timeout = std::chrono::milliseconds(300);
  options.first_request_timeout = std::chrono::milliseconds(300);
  Fixture f(options);

  RawConn idle(f.server.port());
  RawConn slow(f.server.port());
  REQUIRE(slow.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Le"));  // and never more
  RawConn slow_body(f.server.port());
  REQUIRE(
      slow_body.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n{\"jsonrpc\""));  // 10 of 100 body bytes

  // Others are served meanwhile.
  Client client = f.NewClient();
  CHECK(client.Call("add", Json::array({1, 1})).value() == 2);

  std::string ignored;
  CHECK(idle.ReadUntilClosed(&ignored));
  CHECK(slow.ReadUntilClosed(&ignored));
  CHECK(slow_body.ReadUntilClosed(&ignored));
  CHECK(Eventually([&] { return f.server.Stats().active_connections == 0; }));
}

TEST_CASE("server: a throwing handler is -32603 and the server lives on", "[rpc][server]") {
  Fixture f;
  Client client = f.NewClient();
  CallResult r = client.Call("throw");
  REQUIRE(r.is_rpc_error());
  CHECK(r.rpc_error().code == kInternalError);
  CHECK(client.Call("add", Json::array({1, 2})).value() == 3);
}

TEST_CASE("server: a handler blocked on one connection does not block another", "[rpc][server]") {
  ServerOptions options;
  options.threads = 2;
  Fixture f(options);
  auto pending = std::async(std::launch::async, [&] { return f.NewClient().Call("slow"); });
  REQUIRE(Eventually([&] { return f.methods.slow_entered == 1; }));
  Client client = f.NewClient();
  CHECK(client.Call("add", Json::array({5, 5})).value() == 10);
  f.Release();
  CHECK(pending.get().value() == "done");
}

TEST_CASE("server: Stop() lets a request in flight finish and closes idle connections",
          "[rpc][server]") {
  ServerOptions options;
  options.shutdown_grace = std::chrono::milliseconds(10'000);
  Fixture f(options);
  Client idle_client = f.NewClient();
  REQUIRE(idle_client.Call("add", Json::array({1, 1})).ok());  // now idle, kept alive
  RawConn idle_raw(f.server.port());
  REQUIRE(Eventually([&] { return f.server.Stats().active_connections == 2; }));

  auto pending = std::async(std::launch::async, [&] { return f.NewClient().Call("slow"); });
  REQUIRE(Eventually([&] { return f.methods.slow_entered == 1; }));
  auto stopped = std::async(std::launch::async, [&] { f.server.Stop(); });

  // Idle connections are closed at once; new ones are not served.
  std::string ignored;
  CHECK(idle_raw.ReadUntilClosed(&ignored));
  CHECK(Eventually([&] {
    return f.NewClient().Call("add", Json::array({1, 1})).is_transport_error();
  }));
  CHECK(stopped.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);

  f.Release();
  CallResult in_flight = pending.get();
  REQUIRE(in_flight.ok());
  CHECK(in_flight.value() == "done");
  stopped.get();
  CHECK(f.server.Stats().active_connections == 0);
}

TEST_CASE("server: Stop() closes a stalled request after shutdown_grace", "[rpc][server]") {
  ServerOptions options;
  options.shutdown_grace = std::chrono::milliseconds(200);
  Fixture f(options);
  RawConn stalled(f.server.port());
  REQUIRE(stalled.Send("POST / HTTP/1.1\r\nHost: t\r\n"));  // mid-request, never finished
  REQUIRE(Eventually([&] { return f.server.Stats().active_connections == 1; }));
  f.server.Stop();
  std::string ignored;
  CHECK(stalled.ReadUntilClosed(&ignored));
  CHECK(f.server.Stats().active_connections == 0);
  f.server.Stop();  // idempotent
}

TEST_CASE("server: Start() reports bad addresses, busy ports and double starts", "[rpc][server]") {
  Methods methods;
  Server a(methods.dispatcher);
  REQUIRE(a.Start("127.0.0.1", 0).ok());
  Status again = a.Start("127.0.0.1", 0);
  CHECK_FALSE(again.ok());

  Server b(methods.dispatcher);
  Status busy = b.Start("127.0.0.1", a.port());
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.message().find("127.0.0.1:" + std::to_string(a.port())) != std::string::npos);

  Server c(methods.dispatcher);
  Status bad = c.Start("localhost:80", 0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message().find("invalid listen address") != std::string::npos);

  ServerOptions zero;
  zero.threads = 0;
  Server d(methods.dispatcher, zero);
  CHECK_FALSE(d.Start("127.0.0.1", 0).ok());
  CHECK(d.port() == 0);
  d.Stop();  // a server that never started stops quietly
  methods.release_promise.set_value();
}
