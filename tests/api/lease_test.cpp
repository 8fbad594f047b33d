// getLease against a real ChainStore whose blocks acquire, renew and release a lease: the
// answer at every height (held, holder, token, expiry), heights rebuilt from undo records, and
// a proof that verifies against the stored header's state_root, for presence and absence.
#include <catch2/catch.hpp>

#include "api/methods.h"
#include "crypto/hex.h"
#include "ledger/lease.h"
#include "ledger/state_proof.h"
#include "tests/api/store_node.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using cairn::testing::StoreNode;
using nlohmann::json;

namespace {

json Call(rpc::Dispatcher& d, const json& params) {
  json req = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "getLease"}, {"params", params}};
  json answer = json::parse(d.Dispatch(req.dump()));
  INFO("getLease " << params.dump() << " -> " << answer.dump());
  return answer;
}

json LeaseAt(rpc::Dispatcher& d, uint64_t height) {
  json a = Call(d, {{"name", "db/primary"}, {"height", height}, {"proof", true}});
  REQUIRE(a.contains("result"));
  return a["result"];
}

// What a fencing service does with the answer: the proof against the header's state_root.
void CheckProof(const json& r) {
  auto header_bytes = crypto::FromHex(r["header"].get<std::string>());
  REQUIRE(header_bytes);
  auto header = ledger::BlockHeader::Decode(*header_bytes);
  REQUIRE(header.ok());
  CHECK(header->height == r["height"]);
  auto key = crypto::FromHex(r["state_key"].get<std::string>());
  auto proof = crypto::FromHex(r["proof"].get<std::string>());
  REQUIRE(key);
  REQUIRE(proof);
  CHECK(*key == ledger::SystemKey("lease/db/primary"));
  std::optional<Bytes> value;
  if (!r["value"].is_null()) value = crypto::FromHex(r["value"].get<std::string>());
  auto claim = value ? ledger::StateClaim::Present(*value) : ledger::StateClaim::Absent();
  CHECK(ledger::VerifyStateProof(header->state_root, *key, claim, *proof).ok());
  if (value) {
    auto lease = ledger::Lease::Decode(*value);
    REQUIRE(lease.ok());
    CHECK(r["token"] == lease->token);
  }
}

}  // namespace

TEST_CASE("getLease: holder, token, expiry and held at every height, with proofs", "[api][lease]") {
  testkit::ChainFixture fx(4, "lease-store");
  const crypto::KeyPair& a = fx.accounts[0];
  const crypto::KeyPair& b = fx.accounts[1];
  genesis::Genesis g;
  g.chain_id = fx.chain_id;
  g.consensus = genesis::ConsensusKind::kSolo;
  g.validators.push_back({"v0", fx.proposer.public_key(), ""});
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  (*store)->SetMemoryVersions(1);  // older heights come from undo records

  auto commit = [&](std::vector<ledger::Transaction> txs) {
    if (txs.empty()) txs = fx.Transfers(**store, 1, 1, 2);
    auto parent = (*store)->HeaderAt((*store)->head().height);
    REQUIRE(parent.ok());
    REQUIRE(testkit::CommitChain(**store, **parent, {std::move(txs)}, fx.proposer).ok());
  };
  commit({});                                                      // 1
  commit({fx.Sign(a, 0, ledger::LeaseAcquire{"db/primary", 3})});  // 2: a, token 1, exp 5
  commit({});                                                      // 3
  commit({fx.Sign(a, 1, ledger::LeaseRenew{"db/primary", 1})});    // 4: exp 7
  commit({});                                                      // 5
  commit({});                                                      // 6
  commit({fx.Sign(b, 0, ledger::LeaseAcquire{"db/primary", 2})});  // 7: b, token 2, exp 9
  commit({fx.Sign(b, 1, ledger::LeaseRelease{"db/primary", 2})});  // 8: released
  REQUIRE((*store)->head().height == 8);

  StoreNode node(**store, g);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());

  json r = LeaseAt(d, 1);  // never acquired yet: a proof of absence
  CHECK(r["exists"] == false);
  CHECK(r["holder"].is_null());
  CHECK(r["held"] == false);
  CHECK(r["token"] == 0);
  CHECK(r["value"].is_null());
  CheckProof(r);

  struct Want {
    uint64_t height;
    std::string holder;
    uint64_t token, expires_at;
    bool held;
  };
  const std::string ha = a.public_key().ToHex(), hb = b.public_key().ToHex();
  for (const Want& w :
       {Want{2, ha, 1, 5, true}, Want{3, ha, 1, 5, true}, Want{4, ha, 1, 7, true},
        Want{6, ha, 1, 7, true}, Want{7, hb, 2, 9, true}, Want{8, "", 2, 8, false}}) {
    CAPTURE(w.height);
    r = LeaseAt(d, w.height);
    CHECK(r["height"] == w.height);
    CHECK(r["exists"] == true);
    CHECK(r["holder"] == (w.holder.empty() ? json() : json(w.holder)));
    CHECK(r["token"] == w.token);
    CHECK(r["expires_at"] == w.expires_at);
    CHECK(r["held"] == w.held);
    CheckProof(r);
  }
  // Without a height: the head, and no proof unless asked.
  json head = Call(d, {{"name", "db/primary"}})["result"];
  CHECK(head["height"] == 8);
  CHECK_FALSE(head.contains("proof"));
  // Positional params: [name, height, proof].
  CHECK(Call(d, json::array({"db/primary", 2}))["result"]["holder"] == ha);
}

TEST_CASE("getLease: bad names, heights and flags are -32602, heights above the head 1100",
          "[api][lease]") {
  testkit::ChainFixture fx(2, "lease-params");
  genesis::Genesis g;
  g.chain_id = fx.chain_id;
  auto store =
      ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), fx.genesis, fx.genesis_state);
  REQUIRE(store.ok());
  StoreNode node(**store, g);
  rpc::Dispatcher d;
  REQUIRE(api::RegisterNodeMethods(d, node).ok());
  for (const json& p : {json::object(), json{{"name", ""}}, json{{"name", "a b"}},
                        json{{"name", std::string(129, 'a')}}, json{{"name", 5}},
                        json{{"name", "a"}, {"height", -1}}, json{{"name", "a"}, {"proof", 1}}}) {
    CAPTURE(p.dump());
    CHECK(Call(d, p)["error"]["code"] == -32602);
  }
  CHECK(Call(d, {{"name", "a"}, {"height", 5}})["error"]["code"] == 1100);
  CHECK(Call(d, {{"name", std::string(128, 'a')}})["result"]["exists"] == false);
}
