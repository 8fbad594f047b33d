// The dispatcher's limits against hostile bodies: what parsing may cost (values, batch,
// depth, counted before the document is built), what a response may cost (bytes, across a
// batch), and which lane a body is executed on.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>

#include "rpc/dispatcher.h"
#include "tests/rpc/alloc_probe.h"

using namespace cairn;
using namespace cairn::rpc;

namespace {

Json Parse(const std::string& out) {
  INFO("response: " << out.substr(0, 400));
  Json j = Json::parse(out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// `n` copies of `item` as a JSON array, the shape of the R7 attack body.
std::string ArrayOf(const std::string& item, size_t n) {
  std::string body = "[";
  body.reserve(n * (item.size() + 1) + 2);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) body.push_back(',');
    body += item;
  }
  body.push_back(']');
  return body;
}

// The peak heap a call made, above what was live before it.
template <typename F>
size_t PeakOf(F&& f) {
  const size_t before = cairn::rpc::testing::LiveBytes();
  cairn::rpc::testing::ResetPeak();
  f();
  return cairn::rpc::testing::PeakLiveBytes() - before;
}

}  // namespace

TEST_CASE("R7: an 8 MB batch of empty objects is refused while parsing, in bounded memory",
          "[rpc][limits]") {
  Dispatcher d;  // defaults: max_batch_size 1000, max_json_values 100000
  REQUIRE(d.Register("echo", [](const Json& p) -> RpcResult { return p; }).ok());
  const std::string body = ArrayOf("{}", 8'000'000 / 3);
  std::string out;
  const size_t peak = PeakOf([&] { out = d.Dispatch(body); });
  Json r = Parse(out);
  CHECK(r["error"]["code"] == kInvalidRequest);
  CHECK(r["error"]["data"].get<std::string>().find("max_batch_size") != std::string::npos);
  CHECK(r["error"]["data"].get<std::string>().find("1000") != std::string::npos);
  // The full DOM of this body took ~280 MB; the parse now stops after 1001 elements.
  INFO("peak heap while dispatching: " << peak << " bytes");
  CHECK(peak < 1'000'000);
}

TEST_CASE("R7: values inside one request are counted too", "[rpc][limits]") {
  Dispatcher d;
  std::atomic<int> calls{0};
  REQUIRE(d.Register("echo", [&](const Json& p) -> RpcResult {
             ++calls;
             return p.size();
           }).ok());
  const std::string params = ArrayOf("{}", 2'000'000);
  const std::string body = R"({"jsonrpc":"2.0","method":"echo","id":1,"params":)" + params + "}";
  std::string out;
  const size_t peak = PeakOf([&] { out = d.Dispatch(body); });
  Json r = Parse(out);
  CHECK(r["error"]["code"] == kInvalidRequest);
  CHECK(r["error"]["data"].get<std::string>().find("max_json_values") != std::string::npos);
  CHECK(calls == 0);
  INFO("peak heap while dispatching: " << peak << " bytes, body " << body.size());
  // 100,000 parsed values at most: a small multiple of the body, not 30 times it.
  CHECK(peak < 2 * body.size());

  SECTION("a body at the limit is served") {
    DispatcherOptions o;
    o.max_json_values = 1000;
    Dispatcher small(o);
    REQUIRE(small.Register("echo", [](const Json& p) -> RpcResult { return p.size(); }).ok());
    // The request object, its 3 scalar members and the params array are 5 values.
    auto call = [&](size_t n) {
      return Parse(small.Dispatch(R"({"jsonrpc":"2.0","method":"echo","id":1,"params":)" +
                                  ArrayOf("0", n) + "}"));
    };
    CHECK(call(995)["result"] == 995);
    CHECK(call(996)["error"]["code"] == kInvalidRequest);
  }
}

TEST_CASE("nesting is refused while parsing, however long the body", "[rpc][limits]") {
  Dispatcher d;
  REQUIRE(d.Register("echo", [](const Json& p) -> RpcResult { return p; }).ok());
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  Json r = Parse(d.Dispatch(deep));
  CHECK(r["error"]["code"] == kInvalidRequest);
  CHECK(r["error"]["data"].get<std::string>().find("max_nesting_depth") != std::string::npos);
  // Malformed JSON is still a parse error, also past a limit's worth of valid prefix.
  CHECK(Parse(d.Dispatch("[1,2,"))["error"]["code"] == kParseError);
}

TEST_CASE("R2: a response is limited in bytes, with a budget across one batch", "[rpc][limits]") {
  DispatcherOptions o;
  o.max_response_bytes = 10'000;
  Dispatcher d(o);
  std::atomic<int> big_calls{0};
  // Returns params[0] bytes, whatever its budget: the dispatcher must refuse the excess.
  REQUIRE(d.Register("blob", [&](const Json& p) -> RpcResult {
             ++big_calls;
             return std::string(p[0].get<size_t>(), 'x');
           }).ok());
  // Returns as many 100-byte items as fit its budget, like a range method.
  REQUIRE(d.Register("range", [](const Json&, const CallContext& ctx) -> RpcResult {
             Json out = Json::array();
             size_t used = 200;
             while (used + 103 <= ctx.response_budget && out.size() < 1000) {
               out.push_back(std::string(100, 'r'));
               used += 103;
             }
             return out;
           }).ok());
  auto call = [](const std::string& method, int n, int id) {
    return R"({"jsonrpc":"2.0","method":")" + method + R"(","params":[)" + std::to_string(n) +
           R"(],"id":)" + std::to_string(id) + "}";
  };

  SECTION("one answer over the limit is -32005 naming it") {
    Json r = Parse(d.Dispatch(call("blob", 20'000, 1)));
    CHECK(r["id"] == 1);
    CHECK(r["error"]["code"] == kLimitExceeded);
    const std::string data = r["error"]["data"].get<std::string>();
    CHECK(data.find("max_response_bytes") != std::string::npos);
    CHECK(data.find("10000") != std::string::npos);
    CHECK(Parse(d.Dispatch(call("blob", 5'000, 2)))["result"].get<std::string>().size() == 5000);
  }
  SECTION("a batch shares one budget; requests past it are not executed") {
    std::string body = "[";
    for (int i = 0; i < 10; ++i) body += (i ? "," : "") + call("blob", 3'000, i);
    body += "]";
    std::string out = d.Dispatch(body);
    CHECK(out.size() < 10'000 + 10 * 300);
    Json r = Parse(out);
    REQUIRE(r.size() == 10);
    int ok = 0, refused = 0;
    for (const Json& e : r) {
      if (e.contains("result")) ++ok;
      if (e.contains("error") && e["error"]["code"] == kLimitExceeded) ++refused;
    }
    CHECK(ok == 3);
    CHECK(refused == 7);
    // The fourth ran and was refused for size; the others never ran.
    CHECK(big_calls == 4);
  }
  SECTION("a range method sees what is left and stops early") {
    std::string body = "[" + call("range", 0, 1) + "," + call("range", 0, 2) + "]";
    std::string out = d.Dispatch(body);
    CHECK(out.size() <= 10'000);
    Json r = Parse(out);
    REQUIRE(r.size() == 2);
    const size_t first = r[0]["result"].size();
    CHECK(first > 50);
    CHECK(first < 100);
    // The second got what the first left: less than a whole budget's worth.
    CHECK(r[1].contains("error") == false);
    CHECK(r[1]["result"].size() < 5);
  }
}

TEST_CASE("a body runs on the heavy lane when any request in it names a heavy method",
          "[rpc][limits]") {
  Dispatcher d;
  REQUIRE(d.Register(
               "light", [](const Json&) -> RpcResult { return 1; }, Lane::kLight)
              .ok());
  REQUIRE(d.Register("heavy", [](const Json&) -> RpcResult { return 2; }).ok());
  auto lane = [&](const std::string& body) { return d.Prepare(body).lane(); };
  const std::string light = R"({"jsonrpc":"2.0","method":"light","id":1})";
  const std::string heavy = R"({"jsonrpc":"2.0","method":"heavy","id":1})";
  CHECK(d.LaneOf("heavy") == Lane::kHeavy);  // the default for Register
  CHECK(lane(light) == Lane::kLight);
  CHECK(lane(heavy) == Lane::kHeavy);
  CHECK(lane("[" + light + "," + light + "]") == Lane::kLight);
  CHECK(lane("[" + light + "," + heavy + "]") == Lane::kHeavy);
  // Answers decided by parsing, and unknown methods, cost nothing: light.
  CHECK(lane("{") == Lane::kLight);
  CHECK(lane(R"({"jsonrpc":"2.0","method":"nope","id":1})") == Lane::kLight);
  Json r = Parse(d.Execute(d.Prepare("[" + light + "," + heavy + "]")));
  CHECK(r[0]["result"] == 1);
  CHECK(r[1]["result"] == 2);
}
