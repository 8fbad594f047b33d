#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>

#include "rpc/dispatcher.h"

using namespace cairn;
using namespace cairn::rpc;

namespace {

// The methods of the JSON-RPC 2.0 specification's section 7 examples.
Dispatcher SpecDispatcher(DispatcherOptions options = {}) {
  Dispatcher d(std::move(options));
  REQUIRE(d.Register("subtract", [](const Json& p) -> RpcResult {
             const Json* minuend = FindParam(p, 0, "minuend");
             const Json* subtrahend = FindParam(p, 1, "subtrahend");
             if (!minuend || !subtrahend || !minuend->is_number_integer() ||
                 !subtrahend->is_number_integer()) {
               return InvalidParams("expected two integers");
             }
             return minuend->get<int64_t>() - subtrahend->get<int64_t>();
           }).ok());
  REQUIRE(d.Register("sum", [](const Json& p) -> RpcResult {
             int64_t total = 0;
             for (const auto& v : p) total += v.get<int64_t>();
             return total;
           }).ok());
  REQUIRE(d.Register("update", [](const Json&) -> RpcResult { return nullptr; }).ok());
  REQUIRE(d.Register("notify_hello", [](const Json&) -> RpcResult { return nullptr; }).ok());
  REQUIRE(d.Register("notify_sum", [](const Json&) -> RpcResult { return nullptr; }).ok());
  REQUIRE(d.Register("get_data", [](const Json&) -> RpcResult {
             return Json::array({"hello", 5});
           }).ok());
  REQUIRE(d.Register("echo", [](const Json& p) -> RpcResult { return p; }).ok());
  return d;
}

// The spec's examples leave out "data"; ours explains invalid requests there.
Json WithoutData(Json j) {
  if (j.is_array()) {
    for (auto& e : j) e = WithoutData(e);
  } else if (j.is_object() && j.contains("error")) {
    j["error"].erase("data");
  }
  return j;
}

Json Answer(const Dispatcher& d, const std::string& body) {
  std::string out = d.Dispatch(body);
  INFO("request: " << body << "\nresponse: " << out);
  REQUIRE_FALSE(out.empty());
  Json j = Json::parse(out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// Every response object has jsonrpc "2.0", an id, and exactly one of result and error.
void CheckResponseShape(const Json& r) {
  INFO(r.dump());
  REQUIRE(r.is_object());
  REQUIRE(r.value("jsonrpc", "") == "2.0");
  REQUIRE(r.contains("id"));
  REQUIRE(r.contains("result") != r.contains("error"));
  if (r.contains("error")) {
    REQUIRE(r["error"]["code"].is_number_integer());
    REQUIRE(r["error"]["message"].is_string());
  }
  REQUIRE(r.size() == 3);
}

}  // namespace

TEST_CASE("spec 7: calls with positional and named parameters", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1})") ==
        Json::parse(R"({"jsonrpc": "2.0", "result": 19, "id": 1})"));
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2})") ==
        Json::parse(R"({"jsonrpc": "2.0", "result": -19, "id": 2})"));
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "subtract",
                      "params": {"subtrahend": 23, "minuend": 42}, "id": 3})") ==
        Json::parse(R"({"jsonrpc": "2.0", "result": 19, "id": 3})"));
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "subtract",
                      "params": {"minuend": 42, "subtrahend": 23}, "id": 4})") ==
        Json::parse(R"({"jsonrpc": "2.0", "result": 19, "id": 4})"));
}

TEST_CASE("spec 7: notifications get no response", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  CHECK(d.Dispatch(R"({"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]})").empty());
  CHECK(d.Dispatch(R"({"jsonrpc": "2.0", "method": "foobar"})").empty());
}

TEST_CASE("spec 7: errors for unknown methods, bad JSON and bad requests", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "foobar", "id": "1"})") ==
        Json::parse(R"({"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"},
                        "id": "1"})"));
  CHECK(Answer(d, R"({"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz])") ==
        Json::parse(R"({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"},
                        "id": null})"));
  CHECK(WithoutData(Answer(d, R"({"jsonrpc": "2.0", "method": 1, "params": "bar"})")) ==
        Json::parse(R"({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"},
                        "id": null})"));
}

TEST_CASE("spec 7: batches", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  const Json invalid = Json::parse(
      R"({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null})");

  SECTION("invalid JSON in a batch is one parse error") {
    CHECK(Answer(d, R"([
      {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
      {"jsonrpc": "2.0", "method"
    ])") == Json::parse(R"({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"},
                            "id": null})"));
  }
  SECTION("an empty array is one invalid request, not an array") {
    CHECK(WithoutData(Answer(d, "[]")) == invalid);
  }
  SECTION("non-objects in a batch are each invalid") {
    CHECK(WithoutData(Answer(d, "[1]")) == Json::array({invalid}));
    CHECK(WithoutData(Answer(d, "[1,2,3]")) == Json::array({invalid, invalid, invalid}));
  }
  SECTION("a mixed batch answers every request but the notification, in order") {
    CHECK(WithoutData(Answer(d, R"([
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
      ])")) == Json::parse(R"([
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
      ])"));
  }
  SECTION("a batch of only notifications returns nothing at all") {
    CHECK(d.Dispatch(R"([
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
      ])")
              .empty());
  }
}

TEST_CASE("the id is echoed with its exact type and value", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  auto raw = [&](const std::string& id) {
    return d.Dispatch(R"({"jsonrpc":"2.0","method":"get_data","id":)" + id + "}");
  };
  CHECK(raw(R"("abc")").find(R"("id":"abc")") != std::string::npos);
  CHECK(raw(R"("7")").find(R"("id":"7")") != std::string::npos);
  CHECK(raw("7").find(R"("id":7})") != std::string::npos);
  CHECK(raw("-3").find(R"("id":-3})") != std::string::npos);
  CHECK(raw("18446744073709551615").find(R"("id":18446744073709551615})") != std::string::npos);
  CHECK(raw("1.5").find(R"("id":1.5})") != std::string::npos);
  CHECK(raw(R"("")").find(R"("id":""})") != std::string::npos);

  SECTION("id null is a request, not a notification") {
    Json r = Answer(d, R"({"jsonrpc":"2.0","method":"get_data","id":null})");
    CHECK(r["id"].is_null());
    CHECK(r["result"] == Json::array({"hello", 5}));
  }
  SECTION("an id that is an object, an array or a boolean is invalid") {
    for (const char* id : {"{}", "[1]", "true"}) {
      Json r = Answer(d, std::string(R"({"jsonrpc":"2.0","method":"get_data","id":)") + id + "}");
      CHECK(r["error"]["code"] == kInvalidRequest);
      CHECK(r["id"].is_null());
    }
  }
}

TEST_CASE("request members are validated", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  auto code_of = [&](const std::string& body) {
    Json r = Answer(d, body);
    CheckResponseShape(r);
    return r["error"]["code"].get<int>();
  };
  SECTION("jsonrpc must be exactly the string 2.0; a readable id is still echoed") {
    CHECK(code_of(R"({"method":"get_data","id":1})") == kInvalidRequest);
    CHECK(code_of(R"({"jsonrpc":"1.0","method":"get_data","id":1})") == kInvalidRequest);
    CHECK(code_of(R"({"jsonrpc":2.0,"method":"get_data","id":1})") == kInvalidRequest);
    CHECK(Answer(d, R"({"jsonrpc":"1.0","method":"get_data","id":1})")["id"] == 1);
  }
  SECTION("method must be a string") {
    CHECK(code_of(R"({"jsonrpc":"2.0","id":1})") == kInvalidRequest);
    CHECK(code_of(R"({"jsonrpc":"2.0","method":null,"id":1})") == kInvalidRequest);
    CHECK(code_of(R"({"jsonrpc":"2.0","method":["x"],"id":1})") == kInvalidRequest);
  }
  SECTION("params, when present, must be an array or an object") {
    for (const char* p : {"null", "1", R"("s")", "true"}) {
      CHECK(code_of(std::string(R"({"jsonrpc":"2.0","method":"echo","id":1,"params":)") + p +
                    "}") == kInvalidRequest);
    }
    CHECK(Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":[]})")["result"] ==
          Json::array());
    CHECK(Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":{}})")["result"] ==
          Json::object());
  }
  SECTION("omitted params reach the handler as null") {
    CHECK(Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1})")["result"].is_null());
  }
  SECTION("an invalid request is answered even without an id") {
    CHECK(code_of(R"({"jsonrpc":"1.0","method":"update"})") == kInvalidRequest);
  }
  SECTION("a non-object request and non-JSON bodies") {
    CHECK(code_of("42") == kInvalidRequest);
    CHECK(code_of(R"("text")") == kInvalidRequest);
    CHECK(code_of("") == kParseError);
    CHECK(code_of("   ") == kParseError);
    CHECK(code_of(R"({"jsonrpc":"2.0","method":"echo","id":1} trailing)") == kParseError);
    CHECK(code_of("\xff\xfe") == kParseError);
  }
  SECTION("members the spec does not define are ignored") {
    CHECK(Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":[1],"x":2})")["result"] ==
          Json::array({1}));
  }
}

TEST_CASE("handler errors, app errors and exceptions", "[rpc][dispatcher]") {
  std::atomic<int> reported{0};
  std::string last_method;
  DispatcherOptions options;
  options.on_handler_exception = [&](std::string_view method, std::string_view what) {
    ++reported;
    last_method = std::string(method) + ":" + std::string(what);
  };
  Dispatcher d(options);
  REQUIRE(d.Register("boom", [](const Json&) -> RpcResult {
             throw std::runtime_error("secret detail");
           }).ok());
  REQUIRE(d.Register("boom_int", [](const Json&) -> RpcResult { throw 7; }).ok());
  REQUIRE(d.Register("reject", [](const Json&) -> RpcResult {
             return AppError(1001, "nonce too low", Json{{"expected", 5}});
           }).ok());
  REQUIRE(
      d.Register("bad_utf8", [](const Json&) -> RpcResult { return std::string("a\xff"); }).ok());

  SECTION("a throwing handler is -32603 without the exception text, and is reported") {
    std::string out = d.Dispatch(R"({"jsonrpc":"2.0","method":"boom","id":1})");
    Json r = Json::parse(out);
    CheckResponseShape(r);
    CHECK(r["error"]["code"] == kInternalError);
    CHECK(r["error"]["message"] == "Internal error");
    CHECK(out.find("secret") == std::string::npos);
    CHECK(reported == 1);
    CHECK(last_method == "boom:secret detail");
    CHECK(Answer(d, R"({"jsonrpc":"2.0","method":"boom_int","id":2})")["error"]["code"] ==
          kInternalError);
    CHECK(reported == 2);
  }
  SECTION("a throwing notification stays silent but is reported") {
    CHECK(d.Dispatch(R"({"jsonrpc":"2.0","method":"boom"})").empty());
    CHECK(reported == 1);
  }
  SECTION("an application error keeps its code, message and data") {
    Json r = Answer(d, R"({"jsonrpc":"2.0","method":"reject","id":"t"})");
    CheckResponseShape(r);
    CHECK(r["error"] ==
          Json::parse(R"({"code":1001,"message":"nonce too low","data":{"expected":5}})"));
  }
  SECTION("invalid UTF-8 in a result is replaced, not thrown") {
    Json r = Answer(d, R"({"jsonrpc":"2.0","method":"bad_utf8","id":1})");
    CHECK(r["result"] == "a\xef\xbf\xbd");
  }
  SECTION("Invoke applies the same containment in-process") {
    RpcResult boom = d.Invoke("boom", nullptr);
    REQUIRE_FALSE(boom.ok());
    CHECK(boom.error().code == kInternalError);
    RpcResult missing = d.Invoke("nope", nullptr);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == kMethodNotFound);
    RpcResult reject = d.Invoke("reject", Json::array());
    REQUIRE_FALSE(reject.ok());
    CHECK(reject.error().code == 1001);
  }
}

TEST_CASE("batch length and nesting depth limits", "[rpc][dispatcher]") {
  DispatcherOptions options;
  options.max_batch_size = 3;
  options.max_nesting_depth = 8;
  Dispatcher d = SpecDispatcher(options);
  const std::string call = R"({"jsonrpc":"2.0","method":"get_data","id":1})";

  SECTION("a batch at the limit is served") {
    Json r = Answer(d, "[" + call + "," + call + "," + call + "]");
    CHECK(r.size() == 3);
  }
  SECTION("a longer batch is one -32600 whose data names the limit") {
    Json r = Answer(d, "[" + call + "," + call + "," + call + "," + call + "]");
    CheckResponseShape(r);
    CHECK(r["error"]["code"] == kInvalidRequest);
    const std::string data = r["error"]["data"].get<std::string>();
    CHECK(data.find("max_batch_size") != std::string::npos);
    CHECK(data.find('3') != std::string::npos);
  }
  SECTION("nesting is limited, brackets inside strings do not count") {
    // Request object (1) + params array (2) + 6 more levels = 8: allowed.
    auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
    Json ok = Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":)" + nested(7) + "}");
    CHECK(ok.contains("result"));
    Json deep = Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":)" + nested(8) + "}");
    CHECK(deep["error"]["code"] == kInvalidRequest);
    CHECK(deep["error"]["data"].get<std::string>().find("max_nesting_depth") != std::string::npos);
    Json quoted =
        Answer(d, R"({"jsonrpc":"2.0","method":"echo","id":1,"params":["[[[[[[[[[[[[\"[[[[[[["]})");
    CHECK(quoted["result"][0] == "[[[[[[[[[[[[\"[[[[[[[");
  }
}

TEST_CASE("registration rules", "[rpc][dispatcher]") {
  Dispatcher d;
  auto h = [](const Json&) -> RpcResult { return 1; };
  CHECK(d.Register("b", h).ok());
  CHECK(d.Register("a", h).ok());
  CHECK_FALSE(d.Register("a", h).ok());
  CHECK_FALSE(d.Register("", h).ok());
  CHECK_FALSE(d.Register("rpc.discover", h).ok());
  CHECK_FALSE(d.Register("c", Handler()).ok());
  CHECK(d.Methods() == std::vector<std::string>{"a", "b"});
  CHECK(d.Has("a"));
  CHECK_FALSE(d.Has("c"));
  // A reserved name is unknown to clients too.
  CHECK(Json::parse(
            d.Dispatch(R"({"jsonrpc":"2.0","method":"rpc.discover","id":1})"))["error"]["code"] ==
        kMethodNotFound);
}

TEST_CASE("helpers build the documented errors and results", "[rpc][dispatcher]") {
  CHECK(StandardMessage(kParseError) == "Parse error");
  CHECK(StandardMessage(kInvalidRequest) == "Invalid Request");
  CHECK(StandardMessage(kMethodNotFound) == "Method not found");
  CHECK(StandardMessage(kInvalidParams) == "Invalid params");
  CHECK(StandardMessage(kInternalError) == "Internal error");
  CHECK(StandardMessage(-32050) == "Server error");
  CHECK(StandardMessage(1001).empty());
  RpcError e = StandardError(kLimitExceeded, "why");
  CHECK(e.code == -32005);
  CHECK(e.message == "Limit exceeded");
  CHECK(*e.data == "why");
  CHECK(InvalidParams("params[0]: expected hex").code == kInvalidParams);
  CHECK(InvalidParams("").message == "Invalid params");
  CHECK(AppError(kAppErrorFirst, "x").code == 1000);

  // Handlers may return any JSON-convertible value.
  RpcResult from_int = 42;
  RpcResult from_text = "ok";
  RpcResult from_json = Json{{"height", 5}};
  RpcResult from_error = RpcError{1002, "unknown block", std::nullopt};
  CHECK(from_int.value() == 42);
  CHECK(from_text.value() == "ok");
  CHECK(from_json.value()["height"] == 5);
  CHECK_FALSE(from_error.ok());

  Json positional = Json::array({"a", "b"});
  Json named = Json{{"to", "x"}};
  CHECK(*FindParam(positional, 1, "to") == "b");
  CHECK(FindParam(positional, 2, "to") == nullptr);
  CHECK(*FindParam(named, 0, "to") == "x");
  CHECK(FindParam(named, 0, "from") == nullptr);
  CHECK(FindParam(Json(), 0, "to") == nullptr);

  CHECK(Json::parse(ErrorResponse("q", StandardError(kResourceUnavailable))) ==
        Json::parse(R"({"jsonrpc":"2.0","error":{"code":-32002,"message":"Resource unavailable"},
                        "id":"q"})"));
}

TEST_CASE("mutated requests never crash and always get well-formed answers", "[rpc][dispatcher]") {
  Dispatcher d = SpecDispatcher();
  const std::vector<std::string> seeds = {
      R"({"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1})",
      R"([{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"foo":"boo"}])",
      R"({"jsonrpc":"2.0","method":"echo","params":{"a":[1,{"b":null}],"c":"\u00e9"},"id":null})",
  };
  const std::string alphabet = "{}[]\",:0123456789.-eE truefalsnul\\\xff";
  const uint64_t seed = 20240601;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0:
          body.erase(at, 1 + rng() % 3);
          break;
        case 1:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          body[at] = alphabet[rng() % alphabet.size()];
          break;
      }
    }
    std::string out = d.Dispatch(body);
    if (out.empty()) continue;
    INFO("seed " << seed << " iteration " << i << " body " << body << " -> " << out);
    Json r = Json::parse(out, nullptr, false);
    REQUIRE_FALSE(r.is_discarded());
    if (r.is_array()) {
      REQUIRE_FALSE(r.empty());
      for (const auto& e : r) CheckResponseShape(e);
    } else {
      CheckResponseShape(r);
    }
  }
}

TEST_CASE("dispatcher: on_call observes every call with its method, error code and time", "[rpc]") {
  struct Seen {
    std::string method;
    int code;
  };
  std::vector<Seen> seen;  // Dispatch runs on this thread
  DispatcherOptions opts;
  opts.on_call = [&seen](std::string_view method, int code, std::chrono::nanoseconds took) {
    CHECK(took.count() >= 0);
    seen.push_back({std::string(method), code});
  };
  Dispatcher d(opts);
  REQUIRE(d.Register("ok", [](const Json&) -> RpcResult { return 1; }).ok());
  REQUIRE(d.Register("fails", [](const Json&) -> RpcResult { return AppError(1003, "no"); }).ok());
  d.Dispatch(R"([{"jsonrpc":"2.0","id":1,"method":"ok"},
                 {"jsonrpc":"2.0","id":2,"method":"fails"},
                 {"jsonrpc":"2.0","id":3,"method":"missing"},
                 {"jsonrpc":"2.0","method":"ok"}])");
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].method == "ok");
  CHECK(seen[0].code == 0);
  CHECK(seen[1].code == 1003);
  CHECK(seen[2].method == "missing");
  CHECK(seen[2].code == kMethodNotFound);
  CHECK(seen[3].method == "ok");  // a notification ran too, though nothing is answered
}
