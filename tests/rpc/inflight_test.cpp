// R10: the server-wide budget of bytes in flight (max_inflight_bytes). Clients that ask for
// large answers and never read, or send large bodies slowly, cannot make the server hold more
// than the budget (its own accounting, InflightBytes()); past it bodies are refused 503 unread
// and answers are cut as at max_response_bytes; small calls and /health go on; and the budget
// comes back whole when those clients leave.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rpc/byte_budget.h"
#include "rpc/client.h"
#include "rpc/dispatcher.h"
#include "rpc/server.h"
#include "tests/rpc/test_util.h"

using namespace cairn;
using namespace cairn::rpc;
using namespace cairn::rpc::testing;

namespace {

constexpr size_t kItemBytes = 1000;
constexpr size_t kItemCost = kItemBytes + 3;  // quotes and a comma
constexpr size_t kEnvelope = 256;

// "blob" [n] (heavy): n strings of 1000 bytes, like a range method: it stops early with
// "truncated": true when the next item would pass its budget. "len" [s] (light): the length of
// s. "ping" (light): "pong". "big" (heavy): a 1 MB string, all or nothing.
void RegisterMethods(Dispatcher& d) {
  REQUIRE(d.Register("blob", [](const Json& params, const CallContext& ctx) -> RpcResult {
             const size_t n = params.at(0).get<size_t>();
             Json items = Json::array();
             size_t used = kEnvelope;
             bool truncated = false;
             for (size_t i = 0; i < n; ++i) {
               if (used + kItemCost > ctx.response_budget) {
                 if (items.empty()) {
                   return StandardError(kLimitExceeded,
                                        std::string("no room (") + ctx.limit_name() + ")");
                 }
                 truncated = true;
                 break;
               }
               used += kItemCost;
               items.push_back(std::string(kItemBytes, 'b'));
             }
             return Json{{"items", std::move(items)}, {"truncated", truncated}};
           }).ok());
  REQUIRE(d.Register(
               "len",
               [](const Json& params) -> RpcResult {
                 return params.at(0).get_ref<const std::string&>().size();
               },
               Lane::kLight)
              .ok());
  REQUIRE(d.Register(
               "ping", [](const Json&) -> RpcResult { return "pong"; }, Lane::kLight)
              .ok());
  REQUIRE(
      d.Register("big", [](const Json&) -> RpcResult { return std::string(1'000'000, 'g'); }).ok());
}

DispatcherOptions WithResponseLimit(size_t bytes) {
  DispatcherOptions o;
  o.max_response_bytes = bytes;
  return o;
}

std::string Call(const std::string& method, const Json& params, int id = 1) {
  return Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}, {"id", id}}.dump();
}

std::string PostJson(const std::string& body) {
  return "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string PostHeaders(size_t content_length) {
  return "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(content_length) + "\r\n\r\n";
}

// A client that reads nothing: a small receive buffer, so the kernel cannot take a large answer
// off the server's hands.
std::unique_ptr<RawConn> NonReader(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
  return std::make_unique<RawConn>(RawConn::Adopt{fd});
}

// Samples the server's accounting on its own thread for as long as it lives; max() is the most
// it ever saw held.
class InflightWatch {
 public:
  explicit InflightWatch(const Server& server)
      : thread_([this, &server] {
          while (!stop_) {
            const size_t now = server.InflightBytes();
            size_t seen = max_.load();
            while (now > seen && !max_.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::yield();
          }
        }) {}
  ~InflightWatch() {
    stop_ = true;
    thread_.join();
  }
  size_t max() const { return max_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<size_t> max_{0};
  std::thread thread_;
};

Client NewClient(const Server& server) {
  auto c = Client::Create("http://127.0.0.1:" + std::to_string(server.port()));
  REQUIRE(c.ok());
  return std::move(c).value();
}

}  // namespace

TEST_CASE("R10: the dispatcher cuts an answer at what the server-wide budget grants",
          "[rpc][inflight]") {
  Dispatcher d(WithResponseLimit(1 << 20));
  RegisterMethods(d);
  ByteBudget budget(1 << 20);
  // Another answer holds all but 20 KiB of the budget.
  ByteBudget::Reservation other = budget.Open();
  REQUIRE(other.TryGrow((1 << 20) - (20 << 10)));

  SECTION("a range stops early, with its continuation") {
    ByteBudget::Reservation charge = budget.Open();
    Json r = Json::parse(d.Execute(d.Prepare(Call("blob", {500})), &charge));
    CHECK(r["result"]["truncated"] == true);
    const size_t items = r["result"]["items"].size();
    // What the budget had left plus the answer's uncounted first bytes, no more.
    CHECK(items == ((20 << 10) + kUncountedAnswerBytes - kEnvelope) / kItemCost);
    CHECK(budget.used() <= budget.limit());
    CHECK(charge.bytes() > 0);
    charge.Reset();
    CHECK(budget.used() == other.bytes());
  }
  SECTION("another result is -32005 naming max_inflight_bytes, and the batch stops there") {
    ByteBudget::Reservation charge = budget.Open();
    const std::string body = "[" + Call("ping", Json::array(), 1) + "," +
                             Call("big", Json::array(), 2) + "," + Call("ping", Json::array(), 3) +
                             "]";
    Json r = Json::parse(d.Execute(d.Prepare(body), &charge));
    REQUIRE(r.size() == 3);
    CHECK(r[0]["result"] == "pong");
    CHECK(r[1]["error"]["code"] == kLimitExceeded);
    CHECK(r[1]["error"]["data"].get<std::string>().find("max_inflight_bytes") != std::string::npos);
    CHECK(r[2]["error"]["code"] == kLimitExceeded);
    CHECK(budget.used() <= budget.limit());
  }
  SECTION("with the budget free again, the same calls are answered whole") {
    other.Reset();
    ByteBudget::Reservation charge = budget.Open();
    Json r = Json::parse(d.Execute(d.Prepare(Call("blob", {500})), &charge));
    CHECK(r["result"]["truncated"] == false);
    CHECK(r["result"]["items"].size() == 500);
    // The answer stays charged, past its uncounted first bytes, while its holder keeps it.
    CHECK(charge.bytes() >= 500 * kItemCost - kUncountedAnswerBytes);
    CHECK(budget.used() == charge.bytes());
  }
}

TEST_CASE("R10: clients that never read their large answers hold at most max_inflight_bytes",
          "[rpc][inflight]") {
  Dispatcher d(WithResponseLimit(8 << 20));
  RegisterMethods(d);
  ServerOptions o;
  o.max_inflight_bytes = 32 << 20;
  o.max_body_bytes = 1 << 20;
  o.write_timeout = std::chrono::minutes(2);  // only their leaving frees these answers
  Server server(d, o);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  InflightWatch watch(server);

  // Each asks for more than max_response_bytes (9,000 items, 9 MB) and gets 8 MiB: the budget
  // holds four such answers, which no kernel buffer can take whole (tcp_wmem tops at 4 MiB).
  // The others are cut to what is left, at least the uncounted first bytes; the kernel may take
  // those whole, so they may or may not stay held.
  constexpr int kNonReaders = 10;
  std::vector<std::unique_ptr<RawConn>> non_readers;
  for (int i = 0; i < kNonReaders; ++i) {
    non_readers.push_back(NonReader(server.port()));
    REQUIRE(non_readers.back()->Send(PostJson(Call("blob", {9000}, i))));
  }
  REQUIRE(Eventually([&] { return server.Stats().requests == kNonReaders; }));
  // Four answers held: all but less than an item, an envelope and the uncounted first bytes of
  // each.
  const size_t held = o.max_inflight_bytes - 4 * (kItemCost + kEnvelope + kUncountedAnswerBytes);
  REQUIRE(Eventually([&] { return server.InflightBytes() >= held; }));
  CHECK(server.InflightBytes() <= o.max_inflight_bytes);

  // A reading client asking for the same gets a range cut short, with its continuation.
  Client client = NewClient(server);
  CallResult cut = client.Call("blob", Json::array({8000}));
  REQUIRE(cut.ok());
  CHECK(cut.value()["truncated"] == true);
  CHECK(cut.value()["items"].size() < 8000);
  CHECK_FALSE(cut.value()["items"].empty());
  // A result that cannot be cut is -32005, naming the budget.
  CallResult big = client.Call("big");
  REQUIRE(big.is_rpc_error());
  CHECK(big.rpc_error().code == kLimitExceeded);
  CHECK(big.rpc_error().data.value().get<std::string>().find("max_inflight_bytes") !=
        std::string::npos);
  // A large body cannot be reserved: 503, Retry-After, -32002, before the body is sent, closed.
  RawConn large_body(server.port());
  REQUIRE(large_body.Send(PostHeaders(512 << 10)));
  const std::string refused = large_body.ReadResponse();
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(refused.find("Retry-After: 1") != std::string::npos);
  CHECK(refused.find("-32002") != std::string::npos);
  CHECK(refused.find("max_inflight_bytes") != std::string::npos);
  CHECK(refused.find("Connection: close") != std::string::npos);
  std::string rest;
  CHECK(large_body.ReadUntilClosed(&rest));
  CHECK(server.Stats().rejected_inflight == 1);

  // Small calls go on: /health, a light method, a transaction-sized body (20 KiB).
  RawConn health(server.port());
  REQUIRE(health.Send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK(health.ReadResponse().rfind("HTTP/1.1 200", 0) == 0);
  CHECK(client.Call("ping").value() == "pong");
  CHECK(client.Call("len", Json::array({std::string(20 << 10, 'a')})).value() == 20 << 10);
  CHECK(server.InflightBytes() <= o.max_inflight_bytes);

  // When the non-readers leave, their answers go, and large answers are whole again.
  non_readers.clear();
  CHECK(Eventually([&] { return server.InflightBytes() == 0; }));
  CallResult whole = client.Call("blob", Json::array({8000}));
  REQUIRE(whole.ok());
  CHECK(whole.value()["truncated"] == false);
  CHECK(whole.value()["items"].size() == 8000);
  CHECK(client.Call("big").ok());

  INFO("most held at once: " << watch.max() << " of " << o.max_inflight_bytes);
  CHECK(watch.max() <= o.max_inflight_bytes);
  CHECK(watch.max() >= held);
  server.Stop();
  CHECK(server.InflightBytes() == 0);
}

TEST_CASE(
    "R10: large bodies sent slowly hold at most max_inflight_bytes, and past it get 503 unread",
    "[rpc][inflight]") {
  Dispatcher d(WithResponseLimit(1 << 20));
  RegisterMethods(d);
  ServerOptions o;
  o.max_inflight_bytes = 4 << 20;
  o.max_body_bytes = 1 << 20;
  o.read_timeout = std::chrono::minutes(2);  // only their leaving frees these bodies
  Server server(d, o);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  InflightWatch watch(server);

  // Four 1 MiB bodies, each started and left hanging, fill the budget (each has its first
  // 32 KiB uncounted).
  const size_t charge = (1 << 20) - kUncountedBodyBytes;
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<RawConn>(server.port()));
    REQUIRE(slow.back()->Send(PostHeaders(1 << 20) + R"({"jsonrpc":"2.0","method":"len",)"));
  }
  REQUIRE(Eventually([&] { return server.InflightBytes() == 4 * charge; }));

  // A fifth, with Content-Length, is refused before it sends its body.
  RawConn fifth(server.port());
  REQUIRE(fifth.Send(PostHeaders(1 << 20)));
  const std::string refused = fifth.ReadResponse();
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(refused.find("Retry-After: 1") != std::string::npos);
  CHECK(refused.find("-32002") != std::string::npos);
  // Also with 100-continue: no "100 Continue" comes first.
  RawConn expecting(server.port());
  REQUIRE(
      expecting.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: 1048576\r\n\r\n"));
  CHECK(expecting.ReadResponse().rfind("HTTP/1.1 503", 0) == 0);
  // A chunked body is charged as it grows: it is refused part-way, never held past the budget.
  {
    RawConn chunked(server.port());
    REQUIRE(
        chunked.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk(64 << 10, ' ');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    for (int i = 0; i < 15; ++i) {
      if (!chunked.Send(size + chunk + "\r\n")) break;  // the server may reset once it answered
    }
    std::string all;
    chunked.ReadUntilClosed(&all);
    CHECK(all.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(all.find("max_inflight_bytes") != std::string::npos);
  }
  CHECK(server.Stats().rejected_inflight == 3);
  // Small bodies are not counted: calls go on.
  Client client = NewClient(server);
  CHECK(client.Call("ping").value() == "pong");
  CHECK(client.Call("len", Json::array({std::string(20 << 10, 'a')})).value() == 20 << 10);
  CHECK(server.InflightBytes() == 4 * charge);

  // One of them finishes its body: it is answered, and its charge comes back.
  const std::string head = R"({"jsonrpc":"2.0","method":"len",)";
  const std::string params = R"("params":[")";
  const std::string end = R"("],"id":1})";
  const size_t n = (1 << 20) - head.size() - params.size() - end.size();
  REQUIRE(slow[0]->Send(params + std::string(n, 'x') + end));
  const std::string answer = slow[0]->ReadResponse();
  CHECK(answer.find(R"("result":)" + std::to_string(n)) != std::string::npos);
  CHECK(Eventually([&] { return server.InflightBytes() == 3 * charge; }));

  // The others leave: the budget is whole again, and a large chunked body is read and answered.
  slow.clear();
  CHECK(Eventually([&] { return server.InflightBytes() == 0; }));
  {
    RawConn chunked(server.port());
    const std::string body = Call("len", Json::array({std::string(900 << 10, 'c')}));
    std::string request =
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 50'000) {
      const std::string piece = body.substr(at, 50'000);
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
      request += size + piece + "\r\n";
    }
    request += "0\r\n\r\n";
    REQUIRE(chunked.Send(request));
    CHECK(chunked.ReadResponse().find(R"("result":)" + std::to_string(900 << 10)) !=
          std::string::npos);
  }
  CHECK(Eventually([&] { return server.InflightBytes() == 0; }));
  INFO("most held at once: " << watch.max() << " of " << o.max_inflight_bytes);
  CHECK(watch.max() <= o.max_inflight_bytes);
}

TEST_CASE("R10: a parsed document is charged by its estimate, and refused 503 when it does not fit",
          "[rpc][inflight]") {
  Dispatcher d(WithResponseLimit(1 << 20));
  RegisterMethods(d);
  // 90,000 empty arrays: a 270 KB body whose document is about 40 times larger.
  std::string params = "[";
  for (int i = 0; i < 90'000; ++i) params += i == 0 ? "[]" : ",[]";
  params += "]";
  const std::string body = R"({"jsonrpc":"2.0","method":"ping","params":)" + params + R"(,"id":1})";
  Dispatcher::Prepared prepared = d.Prepare(body);
  CHECK(prepared.approx_bytes() >= body.size() + 90'000 * kApproxBytesPerJsonValue);
  CHECK(d.Prepare(Call("ping", Json::array())).approx_bytes() < kUncountedBodyBytes);
  CHECK(d.Prepare("[]").approx_bytes() == 0);  // answered while parsing: no document kept

  ServerOptions o;
  o.max_inflight_bytes = 4 << 20;
  o.max_body_bytes = 1 << 20;
  Server server(d, o);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  RawConn conn(server.port());
  REQUIRE(conn.Send(PostJson(body)));
  const std::string refused = conn.ReadResponse();
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(refused.find("Retry-After: 1") != std::string::npos);
  CHECK(refused.find("-32002") != std::string::npos);
  CHECK(refused.find("parsed request") != std::string::npos);
  CHECK(server.Stats().rejected_inflight == 1);
  // The body was read whole, so the connection serves the next request.
  REQUIRE(conn.Send(PostJson(Call("ping", Json::array()))));
  CHECK(conn.ReadResponse().find("pong") != std::string::npos);
  CHECK(Eventually([&] { return server.InflightBytes() == 0; }));
}

TEST_CASE("R10: max_inflight_bytes below max_body_bytes or max_response_bytes is refused",
          "[rpc][inflight]") {
  Dispatcher d(WithResponseLimit(2 << 20));
  ServerOptions o;
  o.max_body_bytes = 1 << 20;
  o.max_inflight_bytes = (2 << 20) - 1;
  Server below_response(d, o);
  Status s = below_response.Start("127.0.0.1", 0);
  CHECK_THAT(s.message(),
             Catch::Contains("max_inflight_bytes") && Catch::Contains("max_response_bytes"));
  o.max_inflight_bytes = 2 << 20;
  o.max_body_bytes = 3 << 20;
  Server below_body(d, o);
  CHECK_THAT(below_body.Start("127.0.0.1", 0).message(), Catch::Contains("max_body_bytes"));
}

TEST_CASE("ByteBudget: grants never pass the limit, however many threads ask", "[rpc][inflight]") {
  ByteBudget budget(1000);
  {
    ByteBudget::Reservation r = budget.Open();
    CHECK(r.TryGrow(600));
    CHECK_FALSE(r.TryGrow(401));  // all or nothing
    CHECK(r.bytes() == 600);
    CHECK(r.GrowUpTo(1000) == 400);  // as much as is left
    CHECK(budget.used() == 1000);
    r.ShrinkTo(100);
    CHECK(budget.used() == 100);
    ByteBudget::Reservation moved = std::move(r);
    CHECK(moved.bytes() == 100);
    CHECK(budget.used() == 100);
  }
  CHECK(budget.used() == 0);  // released on destruction
  // Without a budget everything is granted and nothing counted (Dispatch without a server).
  ByteBudget::Reservation unlimited;
  CHECK(unlimited.TryGrow(size_t{1} << 40));
  CHECK(unlimited.GrowUpTo(77) == 77);
  CHECK_FALSE(unlimited.limited());

  const uint32_t seed = Catch::rngSeed();
  INFO("seed " << seed);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + t);
      ByteBudget::Reservation r = budget.Open();
      for (int i = 0; i < 20'000; ++i) {
        const size_t n = rng() % 300;
        switch (rng() % 3) {
          case 0:
            r.TryGrow(n);
            break;
          case 1:
            r.GrowUpTo(n);
            break;
          default:
            r.ShrinkTo(r.bytes() > n ? r.bytes() - n : 0);
        }
        if (budget.used() > budget.limit()) over = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(over);
  CHECK(budget.used() == 0);
}
