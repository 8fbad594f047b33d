// libFuzzer target for the JSON-RPC parser and dispatcher. Built only with Clang and
// -DCAIRN_FUZZ=ON (see tests/rpc/CMakeLists.txt); run e.g.
//   ./rpc_dispatcher_fuzz -max_total_time=60 -max_len=4096
// Checks that any body is answered with nothing or with well-formed JSON-RPC responses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "rpc/dispatcher.h"

namespace {

using cairn::rpc::Json;

const cairn::rpc::Dispatcher& TheDispatcher() {
  static const cairn::rpc::Dispatcher* d = [] {
    cairn::rpc::DispatcherOptions options;
    options.max_batch_size = 16;
    auto* dispatcher = new cairn::rpc::Dispatcher(options);
    (void)dispatcher->Register("echo", [](const Json& p) -> cairn::rpc::RpcResult { return p; });
    (void)dispatcher->Register(
        "throw", [](const Json&) -> cairn::rpc::RpcResult { throw std::runtime_error("x"); });
    return dispatcher;
  }();
  return *d;
}

void CheckResponse(const Json& r) {
  if (!r.is_object() || r.value("jsonrpc", "") != "2.0" || !r.contains("id") ||
      r.contains("result") == r.contains("error") || r.size() != 3) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out =
      TheDispatcher().Dispatch(std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.empty()) return 0;
  Json r = Json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (r.is_discarded()) std::abort();
  if (r.is_array()) {
    if (r.empty()) std::abort();
    for (const auto& e : r) CheckResponse(e);
  } else {
    CheckResponse(r);
  }
  return 0;
}
