// A 3-validator Raft network of real cairnd processes on loopback.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/dev_node.h"
#include "tests/integration/temp_network.h"
#include "tests/kit/keys.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAll = {"v0", "v1", "v2"};

crypto::KeyPair Member(uint8_t n) { return TestKey(n, /*family=*/0x42); }

// The name of the node all live nodes agree is leader, or "".
std::string Leader(const Network& net, const std::vector<std::string>& live) {
  std::string leader_key;
  for (const std::string& n : live) {
    json s = net.Status(n);
    if (s.is_null() || s["leader"].get<std::string>().empty()) return "";
    if (leader_key.empty()) leader_key = s["leader"];
    if (s["leader"] != leader_key) return "";
  }
  json g = json::parse(ReadFile(net.dir() + "/genesis.json"));
  for (const auto& v : g["validators"]) {
    if (v["public_key"] == leader_key) return v["name"];
  }
  return "";
}

// Every committed tx hash on `n`, in chain order.
std::vector<std::string> ChainTxs(const Network& net, const std::string& n) {
  auto c = net.Client(n);
  std::vector<std::string> out;
  uint64_t h = Height(net, n);
  for (uint64_t i = 1; i <= h; ++i) {
    auto b = c.Call("getBlock", {{"height", i}});
    REQUIRE(b.ok());
    for (const auto& t : b.value()["txs"]) out.push_back(t);
  }
  return out;
}

}  // namespace

TEST_CASE("raft: transactions sent to every node commit once, in one order, everywhere",
          "[integration][raft]") {
  TempNetwork net("it-raft", 3, 0, "raft");
  net.StartAll(kAll);
  REQUIRE(Eventually([&] { return !Leader(net, kAll).empty(); }, 30s));
  const crypto::KeyPair& admin = net.admin();
  const std::string& chain = net.chain_id();

  // Register three members through the three nodes (one admin nonce sequence), then each
  // member sends transfers through a different node.
  std::vector<crypto::KeyPair> members = {Member(1), Member(2), Member(3)};
  std::vector<std::string> hashes;
  for (size_t i = 0; i < 3; ++i) {
    auto c = net.Client(kAll[i]);
    for (const auto& tx :
         {MakeTx(admin, chain, 2 * i,
                 ledger::RegisterAccount{members[i].public_key(), ledger::Role::kMember}),
          MakeTx(admin, chain, 2 * i + 1, ledger::Transfer{members[i].public_key(), 1000})}) {
      auto r = c.Call("sendTransaction", {{"tx", Hex(tx)}});
      INFO(r.status().message());
      REQUIRE(r.ok());
      hashes.push_back(tx.Hash().ToHex());
    }
  }
  auto c0 = net.Client("v0");
  // Every node must know the members before it admits their transactions.
  for (const std::string& n : kAll) {
    auto cn = net.Client(n);
    REQUIRE(WaitCommitted(cn, hashes.back(), 30s));
  }
  for (size_t i = 0; i < 3; ++i) {
    auto c = net.Client(kAll[(i + 1) % 3]);
    for (uint64_t nonce = 0; nonce < 5; ++nonce) {
      auto tx =
          MakeTx(members[i], chain, nonce, ledger::Transfer{members[(i + 1) % 3].public_key(), 1});
      auto r = c.Call("sendTransaction", {{"tx", Hex(tx)}});
      REQUIRE(r.ok());
      hashes.push_back(tx.Hash().ToHex());
    }
  }
  for (const std::string& h : hashes) REQUIRE(WaitCommitted(c0, h, 30s));
  uint64_t target = Height(net, "v0");
  REQUIRE(
      Eventually([&] { return Height(net, "v1") >= target && Height(net, "v2") >= target; }, 30s));
  auto order = ChainTxs(net, "v0");
  CHECK(std::set<std::string>(order.begin(), order.end()).size() == order.size());  // once each
  CHECK(order.size() == hashes.size());
  for (const char* n : {"v1", "v2"}) {
    auto other = ChainTxs(net, n);
    other.resize(std::min(other.size(), order.size()));
    CHECK(other == order);
  }
  json s = net.Status("v1");
  CHECK(s["consensus"] == "raft");
  CHECK(s["term"].get<uint64_t>() >= 1);
}

TEST_CASE("raft: the leader killed under load is replaced, and nothing committed is lost",
          "[integration][raft]") {
  TempNetwork net("it-raft-kill", 3, 0, "raft");
  net.StartAll(kAll);
  std::string why;
  REQUIRE(Eventually([&] { return !Leader(net, kAll).empty(); }, 30s));
  const crypto::KeyPair& admin = net.admin();
  const std::string& chain = net.chain_id();
  std::string leader = Leader(net, kAll);
  std::vector<std::string> live;
  for (const auto& n : kAll) {
    if (n != leader) live.push_back(n);
  }

  // A steady load through a follower (which survives): one record write every few ms, each
  // tx's commit observed through getTransaction by the same loop.
  std::atomic<bool> stop_load{false};
  std::mutex mu;
  std::vector<std::string> accepted, committed;
  std::thread load([&] {
    auto lc = net.Client(live[0]);
    uint64_t nonce = 0;
    while (!stop_load) {
      auto tx = MakeTx(admin, chain, nonce, ledger::Put{{static_cast<uint8_t>(nonce % 200)}, {1}});
      if (lc.Call("sendTransaction", {{"tx", Hex(tx)}}).ok()) {
        ++nonce;
        std::lock_guard<std::mutex> lock(mu);
        accepted.push_back(tx.Hash().ToHex());
      }
      // Pace the load (it is not a synchronisation): about 100 transactions per second.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto c = net.Client(live[1]);
  auto reported_committed = [&] {
    std::vector<std::string> snapshot;
    {
      std::lock_guard<std::mutex> lock(mu);
      snapshot = accepted;
    }
    std::vector<std::string> out;
    for (const std::string& h : snapshot) {
      auto r = c.Call("getTransaction", {{"hash", h}});
      if (r.ok() && r.value()["status"] == "committed") out.push_back(h);
    }
    return out;
  };
  REQUIRE(Eventually([&] { return reported_committed().size() >= 20; }, 30s));
  committed = reported_committed();
  net.Kill(leader);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(Eventually(
      [&] {
        std::string l = Leader(net, live);
        return !l.empty() && l != leader;
      },
      30s));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("new leader elected " << secs << " s after SIGKILL of " << leader << " under load");
  size_t before = committed.size();
  REQUIRE(Eventually([&] { return reported_committed().size() >= before + 20; }, 30s));
  stop_load = true;
  load.join();
  // Everything accepted commits in the end: nothing the follower took was lost.
  REQUIRE(Eventually([&] { return reported_committed().size() == accepted.size(); }, 30s));
  committed = reported_committed();
  // The old leader restarts and converges on the same chain.
  REQUIRE(net.Start(leader, &why));
  uint64_t target = Height(net, live[0]);
  REQUIRE(Eventually([&] { return Height(net, leader) >= target; }, 30s));
  for (const std::string& n : kAll) {
    auto cn = net.Client(n);
    for (const std::string& h : committed) {
      auto r = cn.Call("getTransaction", {{"hash", h}});
      REQUIRE(r.ok());
      CHECK(r.value()["status"] == "committed");
    }
    auto b = cn.Call("getBlock", {{"height", target}});
    REQUIRE(b.ok());
    CHECK(b.value()["hash"] ==
          net.Client(live[0]).Call("getBlock", {{"height", target}}).value()["hash"]);
    CHECK(b.value()["state_root"] ==
          net.Client(live[0]).Call("getBlock", {{"height", target}}).value()["state_root"]);
  }
}

TEST_CASE("raft: with a majority down nothing commits, and when it returns progress resumes",
          "[integration][raft]") {
  TempNetwork net("it-raft-majority", 3, 0, "raft");
  net.StartAll(kAll);
  std::string why;
  REQUIRE(Eventually([&] { return !Leader(net, kAll).empty(); }, 30s));
  const crypto::KeyPair& admin = net.admin();
  const std::string& chain = net.chain_id();
  net.Kill("v1");
  net.Kill("v2");
  uint64_t before = Height(net, "v0");
  auto c = net.Client("v0");
  auto tx = MakeTx(admin, chain, 0, ledger::Put{{'k'}, {1}});
  REQUIRE(c.Call("sendTransaction", {{"tx", Hex(tx)}}).ok());
  // It stays pending while v0 is alone: it must step down and commit nothing.
  REQUIRE(Eventually([&] { return net.Status("v0")["role"] != "leader"; }, 30s));
  CHECK_FALSE(WaitCommitted(c, tx.Hash().ToHex(), 3s));
  CHECK(Height(net, "v0") == before);
  REQUIRE(net.Start("v1", &why));
  INFO(why);
  CHECK(WaitCommitted(c, tx.Hash().ToHex(), 30s));
  CHECK(Height(net, "v0") > before);
}

TEST_CASE("raft: a follower down past log compaction catches up and can lead",
          "[integration][raft]") {
  TempNetwork net("it-raft-compact", 3, 0, "raft");
  // Empty blocks as fast as consensus allows, so the leader compacts past the dead follower.
  for (const std::string& n : kAll) {
    net.EditConfig(n, [](json& c) {
      c["consensus"]["empty_blocks"] = true;
      c["consensus"]["block_interval_ms"] = 1;
    });
  }
  net.StartAll(kAll);
  std::string why;
  REQUIRE(Eventually([&] { return !Leader(net, kAll).empty(); }, 30s));
  std::string leader = Leader(net, kAll);
  std::string follower = leader == "v2" ? "v1" : "v2";
  std::string other;
  for (const auto& n : kAll) {
    if (n != leader && n != follower) other = n;
  }
  net.Kill(follower);
  uint64_t down_at = Height(net, leader);
  // Compaction runs every 512 blocks and keeps 256: 1,100 blocks put the follower behind it.
  REQUIRE(Eventually([&] { return Height(net, leader) >= down_at + 1100; }, 120s));
  REQUIRE(net.Start(follower, &why));
  INFO(why);
  REQUIRE(Eventually([&] { return Height(net, follower) + 5 >= Height(net, leader); }, 60s));
  // Its engine is live again: with the old leader gone, it and `other` keep committing.
  net.Kill(leader);
  std::vector<std::string> live = {follower, other};
  REQUIRE(Eventually(
      [&] {
        std::string l = Leader(net, live);
        return !l.empty() && l != leader;
      },
      30s));
  uint64_t h = Height(net, follower);
  CHECK(Eventually([&] { return Height(net, follower) >= h + 20 && Height(net, other) >= h + 20; },
                   30s));
  uint64_t common = std::min(Height(net, follower), Height(net, other));
  auto a = net.Client(follower).Call("getBlock", {{"height", common}});
  auto b = net.Client(other).Call("getBlock", {{"height", common}});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value()["hash"] == b.value()["hash"]);
  CHECK(net.Log(follower).find("block-syncing to height") != std::string::npos);
  CHECK(net.Log(follower).find("sync completed refused") == std::string::npos);
}
