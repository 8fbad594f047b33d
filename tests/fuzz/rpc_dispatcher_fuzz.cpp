// The JSON-RPC dispatcher on hostile HTTP bodies, with every node method registered against
// a fake node: parsing, batches, notifications, ids, routing and each method's parameter
// checks. Properties: a response is empty or one valid JSON value (object, or array for a
// batch); a body that is not JSON gets -32700 (or -32600 when nested too deep); no handler throws
// (the fake never fails, so a throw is a parameter a method did not check).
#include "api/methods.h"
#include "tests/fuzz/fake_node.h"

using namespace cairn;
using rpc::Json;

namespace {

const rpc::Dispatcher& TheDispatcher() {
  static api::testing::FakeNode* node = new api::testing::FakeNode(fuzz::FixtureChain());
  static rpc::Dispatcher* d = [] {
    rpc::DispatcherOptions options;
    options.on_handler_exception = [](std::string_view method, std::string_view what) {
      std::fprintf(stderr, "handler %.*s threw: %.*s\n", static_cast<int>(method.size()),
                   method.data(), static_cast<int>(what.size()), what.data());
      std::abort();
    };
    auto* dispatcher = new rpc::Dispatcher(options);
    FUZZ_CHECK(api::RegisterNodeMethods(*dispatcher, *node).ok());
    return dispatcher;
  }();
  return *d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body = fuzz::ToString(fuzz::Input(data, size));
  const std::string response = TheDispatcher().Dispatch(body);
  if (response.empty()) return 0;
  Json r = Json::parse(response, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!r.is_discarded());
  FUZZ_CHECK(r.is_object() || (r.is_array() && !r.empty()));
  const Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Not JSON: -32700, or -32600 when its brackets nest past max_nesting_depth, which the
    // dispatcher checks before it parses (the soak's first finding was this harness
    // expecting -32700 there).
    FUZZ_CHECK(r.is_object() && (r["error"]["code"] == rpc::kParseError ||
                                 r["error"]["code"] == rpc::kInvalidRequest));
  }
  return 0;
}
