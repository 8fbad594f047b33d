// WebSocket subscriptions on a real cairnd with Cairn's own client (rpc::WsClient), and the
// cairn CLI's follow and send --wait over them. The independent client's test is
// ws_subscriptions_test.py.
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/hex.h"
#include "rpc/subscription.h"
#include "rpc/ws_client.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/keys.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

// Notifications arrive in commit order across subscriptions (one block's events for the
// account topic may precede its tx event): keep each subscription's in its own queue.
std::map<uint64_t, std::deque<json>> pending;

// The next notification of `sub`; fails the test after kWait.
json NextOf(rpc::WsClient& ws, uint64_t sub) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (pending[sub].empty() && std::chrono::steady_clock::now() < deadline) {
    auto n = ws.Next(std::chrono::milliseconds(500));
    INFO(n.status().message());
    REQUIRE(n.ok());
    if (n->has_value()) pending[(*n)->subscription].push_back((*n)->result);
  }
  if (pending[sub].empty()) FAIL("no notification for subscription " << sub);
  json out = pending[sub].front();
  pending[sub].pop_front();
  return out;
}

}  // namespace

TEST_CASE("WsClient: calls, newBlocks, tx, account, records and resume on a real node",
          "[integration][ws]") {
  TempDir dir("it-ws");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string chain = node.ChainId();
  const crypto::KeyPair admin = node.AdminKey(), alice = TestKey(1, 0x57);

  auto ws = rpc::WsClient::Connect(node.url());
  REQUIRE(ws.ok());
  auto status = ws->Call("getStatus");
  REQUIRE(status.ok());
  CHECK(status.value()["chain_id"] == chain);

  auto blocks = ws->Subscribe(json::array({"newBlocks"}));
  auto acct = ws->Subscribe(json::array({"account", {{"address", alice.public_key().ToHex()}}}));
  auto recs = ws->Subscribe(json::array(
      {"records",
       {{"namespace", admin.public_key().ToHex()}, {"prefix", crypto::ToHex(Bytes{'k'})}}}));
  REQUIRE(blocks.ok());
  REQUIRE(acct.ok());
  REQUIRE(recs.ok());

  auto reg =
      MakeTx(admin, chain, 0, ledger::RegisterAccount{alice.public_key(), ledger::Role::kMember});
  auto tx = ws->Subscribe(json::array({"tx", {{"hash", reg.Hash().ToHex()}}}));
  REQUIRE(tx.ok());
  // Sent over the same socket: every method works over it.
  REQUIRE(ws->Call("sendTransaction", {{"tx", Hex(reg)}}).ok());
  json receipt = NextOf(*ws, *tx);
  CHECK(receipt["hash"] == reg.Hash().ToHex());
  CHECK(receipt["receipt"]["result"] == "ok");
  json change = NextOf(*ws, *acct);
  CHECK(change["kind"] == "register");
  json first = NextOf(*ws, *blocks);

  auto put = MakeTx(admin, chain, 1, ledger::Put{Bytes{'k', '1'}, Bytes{7}});
  REQUIRE(ws->Call("sendTransaction", {{"tx", Hex(put)}}).ok());
  json record = NextOf(*ws, *recs);
  CHECK(record["key"] == "6b31");
  CHECK(record["value"] == "07");
  json second = NextOf(*ws, *blocks);
  CHECK(second["height"] == first["height"].get<uint64_t>() + 1);

  // Resume on a new connection: the same headers again, from the first one.
  auto again = rpc::WsClient::Connect(node.url());
  REQUIRE(again.ok());
  auto resumed = again->Subscribe(json::array({"newBlocks", {{"from_height", first["height"]}}}));
  REQUIRE(resumed.ok());
  CHECK(NextOf(*again, *resumed) == first);
  CHECK(NextOf(*again, *resumed) == second);

  CHECK(ws->Call("unsubscribe", json::array({rpc::SubscriptionIdString(*blocks)})).value() == true);
}

TEST_CASE("cairn follow and send --wait go over subscriptions", "[integration][ws]") {
  TempDir dir("it-ws-cli");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  const std::string admin_key = dir.path() + "/home/admin_key.json";
  const crypto::KeyPair alice = TestKey(2, 0x57);
  Process follow(
      CairnPath(),
      {"--rpc", node.url(), "--json", "follow", "--from", "1", "--count", "2", "--timeout", "30"},
      dir.path() + "/follow.err");
  auto reg = RunCommand(CairnPath(), {"--rpc", node.url(), "--json", "send", "register", "--key",
                                      admin_key, "--pubkey", alice.public_key().ToHex(), "--wait"});
  INFO(reg.err);
  REQUIRE(reg.exit_code == 0);
  CHECK(json::parse(reg.out)["status"] == "committed");
  auto fund = RunCommand(
      CairnPath(), {"--rpc", node.url(), "--json", "send", "transfer", "--key", admin_key, "--to",
                    alice.public_key().ToHex(), "--amount", "9", "--wait"});
  INFO(fund.err);
  REQUIRE(fund.exit_code == 0);
  CHECK(json::parse(fund.out)["receipt"]["result"] == "ok");
  std::vector<uint64_t> heights;
  for (int i = 0; i < 2; ++i) {
    auto line = follow.WaitForLine("{", kWait);
    REQUIRE(line.has_value());
    heights.push_back(json::parse(*line)["height"]);
  }
  CHECK(heights == std::vector<uint64_t>{1, 2});
  CHECK(follow.Wait(kWait) == 0);
}
