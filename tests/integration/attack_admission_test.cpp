// Attack R6 of issue 12 against a real cairnd: sendTransactions full of copies of one forged
// transaction. Before the fix every copy's signature was verified (twice), and a bad one was
// never remembered: 1.5 CPU-s per request, and a legitimate client's commits slowed from
// 52 ms to 3.4 s. Now copies in a call are answered once, cheap checks come first, and a bad
// signature is remembered by hash. bench/attack_admission.py measures the cost (2 vCPU, load
// ~25, 10,000 copies per request, 2 attackers): 1.44 -> 0.17 cairnd CPU-s per request, and a
// legitimate transfer's commit latency during the attack, median 1,984 -> 186 ms. This test
// checks what a client sees; tests/node/tx_pool_test.cpp counts the signature checks.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/dev_node.h"
#include "tests/kit/keys.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;

namespace {

json Call(rpc::Client& c, const std::string& method, const json& params) {
  auto r = c.Call(method, params);
  INFO(method << " -> " << r.status().message());
  REQUIRE(r.ok());
  return r.value();
}

// Counts each element's answer by `data.reason` ("accepted" when admitted).
void Tally(const json& result, std::map<std::string, size_t>* reasons, std::set<int>* codes) {
  for (const json& e : result["results"]) {
    if (!e.contains("error")) {
      ++(*reasons)["accepted"];
      continue;
    }
    ++(*reasons)[e["error"]["data"]["reason"].get<std::string>()];
    codes->insert(e["error"]["code"].get<int>());
  }
}

}  // namespace

TEST_CASE("R6: batches of one forged transaction are refused, and legitimate ones still commit",
          "[integration][attack]") {
  const uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  TempDir dir("it-attack-admission");
  DevNode node(dir.path() + "/home");
  std::string why;
  REQUIRE(node.Start({}, &why));
  INFO(why);
  rpc::Client c = node.Client();
  const std::string chain = node.ChainId();
  const crypto::KeyPair admin = node.AdminKey(), alice = TestKey(1, 0x6a), bob = TestKey(2, 0x6a);

  // A legitimate client: alice, registered and funded.
  std::vector<std::string> setup = {
      Hex(MakeTx(admin, chain, 0,
                 ledger::RegisterAccount{alice.public_key(), ledger::Role::kMember})),
      Hex(MakeTx(admin, chain, 1,
                 ledger::RegisterAccount{bob.public_key(), ledger::Role::kMember})),
      Hex(MakeTx(admin, chain, 2, ledger::Transfer{alice.public_key(), 1'000'000}))};
  json r = Call(c, "sendTransactions", {{"txs", setup}});
  REQUIRE(r["accepted"] == 3);
  for (const json& e : r["results"]) REQUIRE(WaitCommitted(c, e["hash"].get<std::string>()));

  // The forgery passes every cheap check (the admin's key, a nonce inside the window, funds):
  // only its signature, random bytes, is wrong.
  ledger::Transaction forged = MakeTx(admin, chain, 10, ledger::Transfer{alice.public_key(), 1});
  for (size_t i = 0; i < crypto::Signature::kSize; ++i) {
    forged.signature.data()[i] = static_cast<uint8_t>(rng());
  }
  ledger::Transaction wrong_chain = forged;
  wrong_chain.chain_id = chain + "-other";
  constexpr size_t kCopies = 5000;
  const std::vector<std::string> copies(kCopies, Hex(forged));
  std::vector<std::string> mixed(kCopies / 2, Hex(forged));
  mixed.insert(mixed.end(), kCopies / 2, Hex(wrong_chain));

  // Attackers send the batches over and over while alice's transfers go through.
  std::atomic<bool> stop{false};
  std::atomic<size_t> requests{0};
  std::map<std::string, size_t> reasons;
  std::set<int> codes;
  std::string attacker_error;
  std::thread attacker([&] {
    rpc::Client a = node.Client();
    while (!stop.load() || requests.load() < 4) {
      const bool even = requests.load() % 2 == 0;
      auto res = a.Call("sendTransactions", {{"txs", even ? copies : mixed}});
      if (!res.ok()) {
        attacker_error = res.status().message();
        return;
      }
      Tally(res.value(), &reasons, &codes);
      ++requests;
    }
  });
  std::vector<std::string> legit;
  for (uint64_t n = 0; n < 10; ++n) {
    auto tx = MakeTx(alice, chain, n, ledger::Transfer{bob.public_key(), 1 + n});
    json sent = Call(c, "sendTransaction", {{"tx", Hex(tx)}});
    legit.push_back(sent["hash"].get<std::string>());
    auto committed = WaitCommitted(c, legit.back());
    INFO("legit transaction " << n);
    REQUIRE(committed);
    CHECK((*committed)["receipt"]["result"] == "ok");
  }
  stop = true;
  attacker.join();
  INFO(attacker_error);
  REQUIRE(attacker_error.empty());

  // Every forged element was refused: copies of the forgery with bad_signature, the other
  // chain's with wrong_chain. None was admitted.
  const size_t n = requests.load();
  REQUIRE(n >= 4);
  const size_t mixed_requests = n / 2;
  CHECK(reasons["accepted"] == 0);
  CHECK(reasons["wrong_chain"] == mixed_requests * (kCopies / 2));
  CHECK(reasons["bad_signature"] ==
        (n - mixed_requests) * kCopies + mixed_requests * (kCopies / 2));
  CHECK(codes == std::set<int>{1033, 1034});
  json acct = Call(c, "getAccount", {{"address", bob.public_key().ToHex()}});
  CHECK(acct["balance"] == "55");
  json admin_acct = Call(c, "getAccount", {{"address", admin.public_key().ToHex()}});
  CHECK(admin_acct["next_nonce"] == 3);  // the forgery never entered the mempool
  json tx = Call(c, "getTransaction", {{"hash", forged.Hash().ToHex()}});
  CHECK(tx["status"] == "unknown");
  // Answered one at a time as well.
  auto single = c.Call("sendTransaction", {{"tx", Hex(forged)}});
  REQUIRE(single.is_rpc_error());
  CHECK(single.rpc_error().code == 1034);
}
