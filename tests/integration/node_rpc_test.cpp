// A real single-validator cairnd: transactions over raw JSON-RPC, every error case, restart.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/hex.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/eventually.h"
#include "tests/kit/keys.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;

namespace {

crypto::KeyPair Key(uint8_t n) { return TestKey(n, /*family=*/0x77); }

json Call(rpc::Client& c, const std::string& method, const json& params) {
  auto r = c.Call(method, params);
  INFO(method << " " << params.dump() << " -> " << r.status().message());
  REQUIRE(r.ok());
  return r.value();
}

// The app error code a sendTransaction of `tx` is refused with (0 when accepted).
int RefusalCode(rpc::Client& c, const ledger::Transaction& tx, std::string* reason = nullptr) {
  auto r = c.Call("sendTransaction", {{"tx", Hex(tx)}});
  if (r.ok()) return 0;
  REQUIRE(r.is_rpc_error());
  if (reason && r.rpc_error().data) *reason = (*r.rpc_error().data)["reason"].get<std::string>();
  return r.rpc_error().code;
}

}  // namespace

TEST_CASE("transfers and records sent over JSON-RPC commit, survive a restart", "[integration]") {
  TempDir dir("it-rpc");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  rpc::Client c = node.Client();
  std::string chain = node.ChainId();
  crypto::KeyPair admin = node.AdminKey(), alice = Key(1);

  // Register alice, fund her, let her notarise a document hash.
  auto reg =
      MakeTx(admin, chain, 0, ledger::RegisterAccount{alice.public_key(), ledger::Role::kMember});
  auto fund = MakeTx(admin, chain, 1, ledger::Transfer{alice.public_key(), 5000});
  std::string reg_hash = Call(c, "sendTransaction", {{"tx", Hex(reg)}})["hash"];
  json batch = Call(c, "sendTransactions", {{"txs", {Hex(fund)}}});
  REQUIRE(batch["accepted"] == 1);
  std::string fund_hash = batch["results"][0]["hash"];
  CHECK(reg_hash == reg.Hash().ToHex());
  REQUIRE(WaitCommitted(c, reg_hash));
  auto fund_tx = WaitCommitted(c, fund_hash);
  REQUIRE(fund_tx);
  CHECK((*fund_tx)["receipt"]["result"] == "ok");
  CHECK((*fund_tx)["tx"]["amount"] == "5000");

  ledger::Put put{{'d', 'o', 'c'}, {0xde, 0xad, 0xbe, 0xef}};
  auto put_tx = MakeTx(alice, chain, 0, put);
  std::string put_hash = Call(c, "sendTransaction", {{"tx", Hex(put_tx)}})["hash"];
  REQUIRE(WaitCommitted(c, put_hash));

  json acct = Call(c, "getAccount", {{"address", alice.public_key().ToHex()}});
  CHECK(acct["balance"] == "5000");
  CHECK(acct["nonce"] == 1);
  CHECK(acct["role"] == "member");
  json rec = Call(c, "getRecord", {{"address", alice.public_key().ToHex()}, {"key", "646f63"}});
  CHECK(rec["value"] == "deadbeef");
  json status = Call(c, "getStatus", json::object());
  uint64_t height = status["height"];
  CHECK(height >= 2);
  json latest = Call(c, "getBlock", {{"height", "latest"}, {"full", true}});
  CHECK(latest["height"] == height);
  CHECK(latest["hash"] == status["head_hash"]);

  // SIGTERM: exit 0; restart: the same head, the same state, and it keeps going.
  auto code = node.Stop();
  REQUIRE(code);
  CHECK(*code == 0);
  REQUIRE(node.Start({}, &why));
  c = node.Client();
  json again = Call(c, "getStatus", json::object());
  CHECK(again["height"] == height);
  CHECK(again["head_hash"] == status["head_hash"]);
  CHECK(Call(c, "getAccount", {{"address", alice.public_key().ToHex()}})["balance"] == "5000");
  CHECK(Call(c, "getTransaction", {{"hash", put_hash}})["status"] == "committed");
  auto more = MakeTx(alice, chain, 1, ledger::Transfer{admin.public_key(), 1000});
  std::string more_hash = Call(c, "sendTransaction", {{"tx", Hex(more)}})["hash"];
  REQUIRE(WaitCommitted(c, more_hash));
  CHECK(Call(c, "getAccount", {{"address", alice.public_key().ToHex()}})["balance"] == "4000");
  CHECK(node.Stop() == 0);
}

TEST_CASE("every JSON-RPC error is answered and the server keeps serving", "[integration]") {
  TempDir dir("it-err");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  rpc::Client c = node.Client();
  std::string chain = node.ChainId();
  crypto::KeyPair admin = node.AdminKey(), member = Key(2), stranger = Key(3);

  auto raw = [&](const std::string& body) {
    auto r = c.PostRaw(body);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(json::parse(raw("{not json").body)["error"]["code"] == -32700);
  CHECK(
      json::parse(raw(R"({"jsonrpc":"1.0","method":"getStatus","id":1})").body)["error"]["code"] ==
      -32600);
  CHECK(json::parse(
            raw(R"({"jsonrpc":"2.0","method":"noSuchMethod","id":"x"})").body)["error"]["code"] ==
        -32601);
  json id_echo = json::parse(raw(R"({"jsonrpc":"2.0","method":"noSuchMethod","id":"x"})").body);
  CHECK(id_echo["id"] == "x");
  CHECK(
      json::parse(raw(R"({"jsonrpc":"2.0","method":"getAccount","params":{"address":"zz"},"id":2})")
                      .body)["error"]["code"] == -32602);
  // Malformed batches.
  CHECK(json::parse(raw("[]").body)["error"]["code"] == -32600);
  json mixed = json::parse(raw(R"([1, {"jsonrpc":"2.0","method":"getStatus","id":7}])").body);
  REQUIRE(mixed.is_array());
  REQUIRE(mixed.size() == 2);
  // Notifications get no answer.
  CHECK(raw(R"({"jsonrpc":"2.0","method":"getStatus"})").body.empty());
  // An oversized body: refused, and the server still answers the next request.
  auto big = c.PostRaw(std::string(9u << 20, ' '));
  REQUIRE(big.ok());
  CHECK(big->status == 413);
  CHECK(json::parse(big->body)["error"]["code"] == -32005);
  c.Disconnect();
  CHECK(c.Call("getStatus").ok());

  // Transaction refusals carry stable codes and the reason in data.
  std::string reason;
  auto garbage = c.Call("sendTransaction", {{"tx", "00ff"}});
  REQUIRE(garbage.is_rpc_error());
  CHECK(garbage.rpc_error().code == 1032);
  auto forged = MakeTx(admin, chain, 0, ledger::Transfer{member.public_key(), 1});
  forged.signature.data()[0] ^= 1;
  CHECK(RefusalCode(c, forged, &reason) == 1034);
  CHECK(reason == "bad_signature");
  CHECK(RefusalCode(c, MakeTx(admin, "other-chain", 0, ledger::Transfer{member.public_key(), 1}),
                    &reason) == 1033);
  CHECK(reason == "wrong_chain");
  CHECK(RefusalCode(c, MakeTx(stranger, chain, 0, ledger::Transfer{admin.public_key(), 1}),
                    &reason) == 1035);
  CHECK(reason == "unknown_sender");
  CHECK(RefusalCode(c, MakeTx(admin, chain, 1000, ledger::Transfer{member.public_key(), 1}),
                    &reason) == 1037);
  CHECK(reason == "nonce_too_high");
  auto reg =
      MakeTx(admin, chain, 0, ledger::RegisterAccount{member.public_key(), ledger::Role::kMember});
  REQUIRE(RefusalCode(c, reg) == 0);
  // The same bytes again: already_known while pending; nonce_too_low if a block committed it
  // in between (the solo block interval is short, and a loaded machine can take that long).
  const int again = RefusalCode(c, reg, &reason);
  INFO("second submission: " << again << " " << reason);
  CHECK(((again == 1065 && reason == "already_known") ||
         (again == 1036 && reason == "nonce_too_low")));
  REQUIRE(WaitCommitted(c, reg.Hash().ToHex()));
  CHECK(RefusalCode(c, MakeTx(admin, chain, 0, ledger::Transfer{member.public_key(), 1}),
                    &reason) == 1036);
  CHECK(reason == "nonce_too_low");
  CHECK(RefusalCode(c, MakeTx(member, chain, 0, ledger::Transfer{admin.public_key(), 1}),
                    &reason) == 1001);
  CHECK(reason == "insufficient_balance");
  CHECK(RefusalCode(
            c, MakeTx(member, chain, 0, ledger::SetRole{member.public_key(), ledger::Role::kAdmin}),
            &reason) == 1002);
  CHECK(reason == "not_permitted");
  // Unknown things are "not found" / "unknown", not errors of the server.
  CHECK(Call(c, "getTransaction", {{"hash", std::string(64, 'a')}})["status"] == "unknown");
  auto no_block = c.Call("getBlock", {{"height", 1000000}});
  REQUIRE(no_block.is_rpc_error());
  CHECK(no_block.rpc_error().code == 1100);
  CHECK(c.Call("getStatus").ok());
  CHECK(node.Stop() == 0);
}

namespace {

// Thread name -> nice values of a running process's threads (/proc/PID/task/*/comm, stat).
std::multimap<std::string, int> ThreadNices(pid_t pid) {
  std::multimap<std::string, int> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(task)) {
    std::string comm;
    std::getline(std::ifstream(e.path() / "comm"), comm);
    std::string stat;
    std::getline(std::ifstream(e.path() / "stat"), stat);
    // Fields after the ")" that ends comm: state is field 3, nice field 19.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    if (!comm.empty() && !field.empty()) out.emplace(comm, std::stoi(field));
  }
  return out;
}

}  // namespace

TEST_CASE("mempool.admission_nice runs the admission threads below the block pipeline",
          "[integration]") {
  TempDir dir("it-nice");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  REQUIRE(node.Stop() == 0);
  const std::string path = node.home() + "/config.json";
  json config = json::parse(ReadFile(path));
  config["mempool"]["admission_nice"] = 7;
  std::ofstream(path) << config.dump(2);
  REQUIRE(node.Start({}, &why));
  INFO(why);
  // The RPC threads are named before the node serves; the gossip worker names itself on its
  // first task, posted before RPC starts.
  std::multimap<std::string, int> nices;
  REQUIRE(Eventually([&] {
    nices = ThreadNices(node.pid());
    return nices.count("gossip-worker") == 1 && nices.count("rpc-io") == 1 &&
           nices.count("rpc-light") == 2 && nices.count("rpc-heavy") == 2;
  }));
  // Priorities are relative to what cairnd inherited (this test may itself run under nice):
  // the loop thread (block production and commit, named after the program) and the p2p
  // thread keep the process's priority, the admission threads sit 7 below it (capped at 19).
  const int base = ::getpriority(PRIO_PROCESS, 0);
  INFO("inherited nice " << base);
  const int lowered = std::min(19, base + 7);
  for (const char* name : {"rpc-io", "rpc-light", "rpc-heavy", "gossip-worker"}) {
    INFO(name);
    auto [first, last] = nices.equal_range(name);
    REQUIRE(first != last);
    for (auto it = first; it != last; ++it) CHECK(it->second == lowered);
  }
  REQUIRE(nices.count("cairnd") >= 1);
  CHECK(nices.find("cairnd")->second == base);
  REQUIRE(nices.count("p2p") == 1);
  CHECK(nices.find("p2p")->second == base);
  // Still serving, at the lower priority.
  auto c = node.Client();
  CHECK(c.Call("getStatus").ok());
  CHECK(node.Stop() == 0);
}

TEST_CASE("a full mempool refuses with mempool_full", "[integration]") {
  TempDir dir("it-full");
  std::string home = dir.path() + "/home";
  auto init = RunCommand(CairndPath(), {"init", "--home", home, "--rpc-listen", "127.0.0.1:0",
                                        "--chain-id", "full-test"});
  REQUIRE(init.exit_code == 0);
  // Two slots. A solo validator commits what it can at once (docs/CONFIG.md,
  // consensus.block_interval_ms), so the transactions wait behind a nonce gap (nonce 0 is
  // never sent) and nothing leaves the pool during the test.
  json cfg = json::parse(ReadFile(home + "/config.json"));
  cfg["mempool"]["max_txs"] = 2;
  std::ofstream(home + "/config.json") << cfg.dump(2);
  DevNode node(home);
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  rpc::Client c = node.Client();
  crypto::KeyPair admin = node.AdminKey();
  std::string reason;
  for (uint64_t n = 1; n <= 2; ++n) {
    REQUIRE(RefusalCode(c, MakeTx(admin, "full-test", n, ledger::Put{{'k'}, {}})) == 0);
  }
  CHECK(RefusalCode(c, MakeTx(admin, "full-test", 3, ledger::Put{{'k'}, {}}), &reason) == 1064);
  CHECK(reason == "mempool_full");
  CHECK(Call(c, "getStatus", json::object())["mempool_size"] == 2);
  CHECK(node.Stop() == 0);
}
