#include "cli/common.h"

#include <cstdio>
#include <thread>

#include "crypto/key_file.h"

namespace cairn::cli {

Result<NodeClient> NodeClient::Connect(const std::string& url) {
  auto c = rpc::Client::Create(url);
  if (!c.ok()) return Status::Error("--rpc: " + c.error());
  return NodeClient(std::move(c.value()));
}

rpc::CallResult NodeClient::CallRaw(std::string_view method, const Json& params) {
  return client_.Call(method, params);
}

std::string NodeClient::Describe(const rpc::CallResult& r) const {
  if (r.is_rpc_error()) return DescribeRpcError(r.rpc_error());
  return OneLine("cannot reach the node at " + url() + ": " + r.status().message());
}

Result<Json> NodeClient::Call(std::string_view method, const Json& params) {
  rpc::CallResult r = CallRaw(method, params);
  if (!r.ok()) return Status::Error(Describe(r));
  return std::move(r).value();
}

Result<crypto::KeyPair> LoadKey(const std::string& path) {
  if (path.empty()) return Status::Error("no key file: give --key FILE or set CAIRN_KEY");
  auto k = crypto::ReadKeyFile(path);
  if (!k.ok()) return Status::Error("key file " + path + ": " + OneLine(k.error()));
  return k;
}

void Print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void PrintJson(const Json& j) {
  // Replace, never throw, on invalid UTF-8: node strings are untrusted input.
  Print(j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

void PrintJsonLine(const Json& j) {
  Print(j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

// Calls `method` on the node and prints the result as JSON (--json) or as `human` renders it.
Status Show(const GlobalOptions& g, std::string_view method, const Json& params,
            const std::function<std::string(const Json&)>& human) {
  auto node = NodeClient::Connect(g.rpc_url);
  if (!node.ok()) return node.status();
  auto r = node->Call(method, params);
  if (!r.ok()) return r.status();
  if (g.json) {
    PrintJson(*r);
  } else {
    Print(human(*r));
  }
  return Status::Ok();
}

namespace {

template <typename Parse>
CLI::Validator MakeValidator(const char* type_name, Parse parse) {
  return CLI::Validator(
      [parse](std::string& s) -> std::string {
        auto r = parse(s);
        return r.ok() ? std::string() : r.error();
      },
      "", type_name);
}

}  // namespace

CLI::Validator AddressValidator() {
  return MakeValidator("ADDR", [](std::string_view s) { return ParseAddress(s, ""); });
}
CLI::Validator HashValidator() {
  return MakeValidator("HASH", [](std::string_view s) { return ParseHash(s, ""); });
}
CLI::Validator HexValidator() {
  return MakeValidator("HEX", [](std::string_view s) { return ParseHexBytes(s, ""); });
}
CLI::Validator U64Validator() {
  return MakeValidator("UINT", [](std::string_view s) { return ParseU64(s, ""); });
}

uint64_t U64Of(const std::string& s) {
  auto v = ParseU64(s, "");
  return v.ok() ? *v : 0;
}

void SleepUntilNextPoll(std::chrono::milliseconds interval,
                        std::chrono::steady_clock::time_point deadline) {
  auto wake = std::chrono::steady_clock::now() + interval;
  std::this_thread::sleep_until(std::min(wake, deadline));
}

}  // namespace cairn::cli
