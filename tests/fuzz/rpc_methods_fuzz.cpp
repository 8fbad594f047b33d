// Each node method's parameters (api/methods.cpp) on hostile JSON: the first input byte picks
// the method, the rest is its params (array, object or anything else), invoked as the
// dispatcher would. Properties: the answer is a result or an error with a documented code
// (invalid params or an application error, never an internal error, since the fake node
// never fails), and the response serialises.
#include "api/methods.h"
#include "tests/fuzz/fake_node.h"

using namespace cairn;
using rpc::Json;

namespace {

struct Methods {
  api::testing::FakeNode node{fuzz::FixtureChain()};
  rpc::Dispatcher dispatcher;
  std::vector<std::string> names;
  Methods() {
    FUZZ_CHECK(api::RegisterNodeMethods(dispatcher, node).ok());
    names = dispatcher.Methods();
  }
};

const Methods& TheMethods() {
  static const Methods* m = new Methods();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Methods& m = TheMethods();
  const std::string& method = m.names[data[0] % m.names.size()];
  const std::string text = fuzz::ToString(fuzz::Input(data + 1, size - 1));
  Json params = text.empty() ? Json(nullptr) : Json::parse(text, nullptr, false);
  if (params.is_discarded()) return 0;
  rpc::RpcResult r = m.dispatcher.Invoke(method, params);
  std::string out;
  if (r.ok()) {
    rpc::AppendResultResponse(Json(1), r.value(), &out);
  } else {
    const int code = r.error().code;
    if (code == rpc::kInternalError) {
      std::fprintf(
          stderr, "%s: internal error: %s\n", method.c_str(),
          r.error().data
              ? r.error().data->dump(-1, ' ', false, Json::error_handler_t::replace).c_str()
              : "");
      std::abort();
    }
    FUZZ_CHECK(code == rpc::kInvalidParams ||
               (code >= rpc::kAppErrorFirst && code <= rpc::kAppErrorLast));
    rpc::AppendErrorResponse(Json(1), r.error(), &out);
  }
  FUZZ_CHECK(!Json::parse(out, nullptr, false).is_discarded());
  return 0;
}
