#include "cli/common.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "crypto/hex.h"
#include "crypto/key_file.h"

namespace cairn::cli {
namespace {

// The node itself failed (as the client library counts it), rather than refused the call.
bool NodeFailed(const rpc::CallResult& r) {
  return r.is_transport_error() ||
         (r.is_rpc_error() && (r.rpc_error().code == rpc::kResourceUnavailable ||
                               r.rpc_error().code == rpc::kInternalError));
}

}  // namespace

Result<NodeClient> NodeClient::Connect(const std::string& urls) {
  auto list = client::Client::ParseUrlList(urls);
  if (!list.ok()) return Status::Error("--rpc: " + list.error());
  client::Options o;
  o.rpc = rpc::ClientOptions{};  // a person waits: the plain client's timeouts
  auto pool = client::Client::Create(std::move(*list), o);
  if (!pool.ok()) return Status::Error("--rpc: " + pool.error());
  return NodeClient(std::move(pool.value()));
}

std::optional<ledger::Address> NodeClient::SenderOf(std::string_view method, const Json& params) {
  const Json* hex = nullptr;
  if (method == "sendTransaction" && params.is_object() && params.contains("tx")) {
    hex = &params["tx"];
  } else if (method == "sendTransactions" && params.is_object() && params.contains("txs") &&
             params["txs"].is_array() && !params["txs"].empty()) {
    hex = &params["txs"][0];
  }
  if (hex == nullptr || !hex->is_string()) return std::nullopt;
  auto bytes = crypto::FromHex(hex->get<std::string>());
  if (!bytes) return std::nullopt;
  auto tx = ledger::Transaction::Decode(*bytes);
  if (!tx.ok()) return std::nullopt;
  return tx->sender;
}

rpc::CallResult NodeClient::CallRaw(std::string_view method, const Json& params) {
  std::optional<ledger::Address> sender = SenderOf(method, params);
  if (!sender) {
    // One command reads one node while it answers: heads differ by a block or two between
    // nodes, and a command that reads a head on one and fetches it from another could miss.
    if (!picked_) last_ = pool_->PickForRead();
    picked_ = true;
    rpc::CallResult r = pool_->CallOn(last_, method, params);
    if (!NodeFailed(r)) return r;
    return pool_->Read(method, params, &last_);  // the next node with the fewest in flight
  }
  // A transaction goes to its sender's node, so a sender's nonces meet one mempool in order;
  // the next node of its ranking when that one is down or behind (1067 syncing).
  rpc::CallResult last = Status::Unavailable("client: no node");
  pool_->ProbeDue();
  std::vector<size_t> rank = pool_->ring().Rank(*sender);
  const std::vector<client::NodeStats> health = pool_->Stats();
  std::stable_partition(rank.begin(), rank.end(), [&](size_t n) { return health[n].healthy; });
  for (size_t n : rank) {
    last_ = n;
    picked_ = true;  // later reads (its receipt) go to the node that took it
    last = pool_->CallOn(n, method, params);
    if (NodeFailed(last) || (last.is_rpc_error() && last.rpc_error().code == 1067)) continue;
    return last;
  }
  return last;
}

std::string NodeClient::Describe(const rpc::CallResult& r) const {
  if (r.is_rpc_error()) return DescribeRpcError(r.rpc_error());
  if (pool_->nodes().size() == 1) {
    return OneLine("cannot reach the node at " + url() + ": " + r.status().message());
  }
  std::string all;
  for (const std::string& u : pool_->nodes()) all += (all.empty() ? "" : ", ") + u;
  return OneLine("cannot reach any node (" + all + "); the last, " + url() + ": " +
                 r.status().message());
}

Result<Json> NodeClient::Call(std::string_view method, const Json& params) {
  rpc::CallResult r = CallRaw(method, params);
  if (!r.ok()) return Status::Error(Describe(r));
  return std::move(r).value();
}

rpc::Client& NodeClient::client() {
  if (!direct_) {
    if (!picked_) last_ = pool_->PickForRead();
    picked_ = true;
    // The URL was checked by Connect, so Create succeeds.
    direct_ = std::make_unique<rpc::Client>(std::move(rpc::Client::Create(url()).value()));
  }
  return *direct_;
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
