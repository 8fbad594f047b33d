// Real cairnd processes on loopback: permissioned p2p, gossip, block sync, observers.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "crypto/key_file.h"
#include "tests/integration/dev_node.h"
#include "tests/integration/temp_network.h"
#include "tests/kit/keys.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string HashAt(const Network& net, const std::string& name, uint64_t height) {
  auto c = net.Client(name);
  auto r = c.Call("getBlock", {{"height", height}});
  return r.ok() ? r.value()["hash"].get<std::string>() : "";
}

// Every node has the block `height` and agrees on its hash (and so on all before it).
bool SameChainAt(const Network& net, const std::vector<std::string>& names, uint64_t height) {
  std::string first = HashAt(net, names[0], height);
  if (first.empty()) return false;
  for (const std::string& n : names) {
    if (HashAt(net, n, height) != first) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("a transaction sent to an observer is committed by the validator", "[integration][p2p]") {
  TempNetwork net("it-p2p", 1, 2);
  net.StartAll({"v0", "o0", "o1"});
  const crypto::KeyPair& admin = net.admin();
  REQUIRE(Eventually(
      [&] { return net.Status("o0")["peers"] == 1 && net.Status("v0")["peers"] == 2; }, 20s));
  std::string chain = net.Status("o0")["chain_id"];

  auto alice = TestKey(9, /*family=*/0);
  auto reg =
      MakeTx(admin, chain, 0, ledger::RegisterAccount{alice.public_key(), ledger::Role::kMember});
  auto o0 = net.Client("o0");
  auto sent = o0.Call("sendTransaction", {{"tx", Hex(reg)}});
  REQUIRE(sent.ok());
  // The validator commits it; both observers follow to the same block.
  auto v0 = net.Client("v0");
  auto committed = WaitCommitted(v0, reg.Hash().ToHex(), 20s);
  REQUIRE(committed);
  uint64_t h = (*committed)["height"];
  CHECK(Eventually([&] { return SameChainAt(net, {"v0", "o0", "o1"}, h); }, 20s));
  auto o1 = net.Client("o1");
  auto seen = o1.Call("getAccount", {{"address", alice.public_key().ToHex()}});
  REQUIRE(seen.ok());
  CHECK(seen.value()["role"] == "member");
  // getPeers names the validator.
  auto peers = o1.Call("getPeers");
  REQUIRE(peers.ok());
  REQUIRE(peers.value().size() == 1);
  CHECK(peers.value()[0]["name"] == "v0");
  CHECK(peers.value()[0]["direction"] == "outbound");
  CHECK(peers.value()[0]["bytes_in"].get<uint64_t>() > 0);
  CHECK(net.Status("o1")["role"] == "observer");
  CHECK(net.Status("v0")["role"] == "leader");
}

TEST_CASE("an observer started after 2000 blocks catches up, and again after SIGKILL",
          "[integration][p2p]") {
  TempNetwork net("it-sync", 1, 1);
  // A fast producer of empty blocks, so 2,000 blocks take seconds.
  net.EditConfig("v0", [](json& c) {
    c["consensus"]["empty_blocks"] = true;
    c["consensus"]["block_interval_ms"] = 1;
    c["consensus"]["tick_ms"] = 1;
  });
  std::string why;
  REQUIRE(net.Start("v0", &why));
  INFO(why);
  REQUIRE(Eventually([&] { return Height(net, "v0") >= 2000; }, 120s));
  REQUIRE(net.Start("o0", &why));
  uint64_t target = Height(net, "v0");
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(Eventually([&] { return Height(net, "o0") >= target; }, 120s));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("observer synced " << target << " blocks in " << secs << " s");
  CHECK(SameChainAt(net, {"v0", "o0"}, target));
  json vs = net.Status("v0"), os = net.Status("o0");
  // Same state root at the same height (compare at the observer's height via getBlock).
  uint64_t oh = os["height"];
  auto vc = net.Client("v0");
  CHECK(vc.Call("getBlock", {{"height", oh}}).value()["state_root"] == os["state_root"]);

  net.Kill("o0");
  uint64_t before = Height(net, "v0");
  REQUIRE(Eventually([&] { return Height(net, "v0") >= before + 200; }, 60s));
  REQUIRE(net.Start("o0", &why));
  uint64_t target2 = Height(net, "v0");
  REQUIRE(Eventually([&] { return Height(net, "o0") >= target2; }, 60s));
  CHECK(SameChainAt(net, {"v0", "o0"}, target2));
  CHECK(net.Stop("o0") == 0);
  CHECK(net.Stop("v0") == 0);
}

TEST_CASE("a node whose key is not in the genesis is refused by every peer", "[integration][p2p]") {
  TempNetwork net("it-rogue", 1, 1);
  std::string why;
  REQUIRE(net.Start("v0", &why));
  REQUIRE(net.Start("o0", &why));
  // The rogue is o0's twin with a key of its own, on fresh ports.
  std::string rogue = net.dir() + "/rogue";
  std::filesystem::create_directories(rogue);
  REQUIRE(crypto::WriteKeyFile(rogue + "/node_key.json", crypto::KeyPair::Generate()).ok());
  json cfg = json::parse(ReadFile(net.Home("o0") + "/config.json"));
  uint16_t ports = FreePortRange(2);
  cfg["rpc"]["listen"] = "127.0.0.1:" + std::to_string(ports);
  cfg["p2p"]["listen"] = "127.0.0.1:" + std::to_string(ports + 1);
  // It dials the observer too.
  json o0cfg = json::parse(ReadFile(net.Home("o0") + "/config.json"));
  json genesis = json::parse(ReadFile(net.dir() + "/genesis.json"));
  cfg["p2p"]["peers"].push_back(
      {{"address", o0cfg["p2p"]["listen"]}, {"node_id", genesis["observers"][0]["public_key"]}});
  std::ofstream(rogue + "/config.json") << cfg.dump(2);
  Process proc(CairndPath(), {"--home", rogue}, rogue + ".log");
  REQUIRE(proc.WaitForLine("rpc: ", 30s));
  // Both peers refuse it at the handshake and say why, once per attempt.
  REQUIRE(Eventually(
      [&] {
        return net.Log("v0").find("is not on the allowlist") != std::string::npos &&
               net.Log("o0").find("is not on the allowlist") != std::string::npos;
      },
      30s));
  auto c = rpc::Client::Create("http://127.0.0.1:" + std::to_string(ports));
  REQUIRE(c.ok());
  auto st = c->Call("getPeers");
  REQUIRE(st.ok());
  CHECK(st.value().empty());
  CHECK(net.Status("v0")["peers"] == 1);  // only o0
  CHECK(net.Status("o0")["peers"] == 1);  // only v0
}
