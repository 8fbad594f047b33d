// The light client across validator-set changes, in process on hand-built headers
// (audit::HeaderTrust, cli::LightStore): it takes a new set only when a trusted header commits
// to its hash, then checks the next headers against that set, so a header signed or certified
// by a removed validator is refused. Deterministic: fixed keys and times.
#include <catch2/catch.hpp>

#include "audit/header_trust.h"
#include "cli/light_store.h"
#include "consensus/bft/messages.h"
#include "tests/kit/keys.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;

namespace {

crypto::KeyPair Key(uint32_t i) { return testkit::TestKey(i, 0x73); }

ledger::Member Validator(uint32_t id) {
  ledger::Member m;
  m.id = id;
  m.name = "v" + std::to_string(id);
  m.consensus_key = Key(id).public_key();
  m.p2p_key = m.consensus_key;
  return m;
}

std::vector<ledger::Member> Set(std::initializer_list<uint32_t> ids) {
  std::vector<ledger::Member> out;
  for (uint32_t id : ids) out.push_back(Validator(id));
  return out;
}

genesis::Genesis MakeGenesis(genesis::ConsensusKind kind, uint32_t validators) {
  genesis::Genesis g;
  g.chain_id = "light-set-test";
  g.genesis_time_ms = 1'767'225'600'000;
  g.consensus = kind;
  for (uint32_t i = 0; i < validators; ++i) {
    g.validators.push_back(genesis::Node{"v" + std::to_string(i), Key(i).public_key(), ""});
  }
  g.accounts = {genesis::InitialAccount{Key(0).public_key(), ledger::Role::kAdmin, 1}};
  return g;
}

// The child of `prev` naming set `now` and `next`, signed by validator `proposer`.
ledger::Block Child(const ledger::BlockHeader& prev, uint32_t proposer,
                    const std::vector<ledger::Member>& now,
                    const std::vector<ledger::Member>& next) {
  ledger::Block b;
  b.header.chain_id = prev.chain_id;
  b.header.height = prev.height + 1;
  b.header.prev_hash = prev.Hash();
  b.header.timestamp_ms = prev.timestamp_ms + 1000;
  b.header.validators_hash = ledger::SetHash(now);
  b.header.next_validators_hash = ledger::SetHash(next);
  b.Sign(Key(proposer));
  return b;
}

// A commit certificate for `header` by the members of `set` at `indices`, each signing with
// the key of validator `signer_ids[i]` (normally the member's own).
Bytes Certify(const crypto::Hash256& chain, const ledger::BlockHeader& header,
              const std::vector<uint32_t>& indices, const std::vector<uint32_t>& signer_ids) {
  consensus::bft::Certificate c;
  c.height = header.height;
  c.round = 0;
  c.block = header.Hash();
  for (size_t i = 0; i < indices.size(); ++i) {
    consensus::bft::Vote v;
    v.type = consensus::bft::VoteType::kPrecommit;
    v.height = header.height;
    v.round = 0;
    v.block = header.Hash();
    consensus::Ed25519Signer signer(indices[i], Key(signer_ids[i]));
    v = consensus::bft::SignVote(chain, v, signer);
    c.sigs.push_back({indices[i], v.sig});
  }
  return c.Encode();
}

}  // namespace

TEST_CASE("light client, solo: follows a set change and refuses a removed validator's header",
          "[cli][light][membership]") {
  audit::HeaderTrust trust(MakeGenesis(genesis::ConsensusKind::kSolo, 1));
  const auto s0 = Set({0}), s1 = Set({0, 1}), s2 = Set({1});
  CHECK(trust.validators_hash() == ledger::SetHash(s0));

  // Block 1 executes "add v1": it commits to set(2) = {v0, v1}.
  ledger::Block b1 = Child(trust.genesis_header(), 0, s0, s1);
  REQUIRE(trust.CheckLinked(trust.genesis_header(), b1.header, b1.proposer_sig).ok());

  // Block 2 is proposed by the new validator v1: the held set must move first.
  ledger::Block b2 = Child(b1.header, 1, s1, s1);
  CHECK(trust.NeedsSet(b2.header));
  Status old = trust.CheckLinked(b1.header, b2.header, b2.proposer_sig);
  REQUIRE_FALSE(old.ok());
  CHECK_THAT(old.message(), Catch::StartsWith("header 2: names validator set") &&
                                Catch::Contains("not the set this client holds"));
  // A node that answers another set for height 2 is caught by the trusted hash.
  Status lied = trust.Follow(b1.header, Set({0, 2}));
  REQUIRE_FALSE(lied.ok());
  CHECK_THAT(lied.message(), Catch::Contains("is not the set trusted header 1 commits to"));
  CHECK(trust.validators_hash() == ledger::SetHash(s0));  // unchanged
  REQUIRE(trust.Follow(b1.header, s1).ok());
  REQUIRE(trust.CheckLinked(b1.header, b2.header, b2.proposer_sig).ok());

  // A header that hides the announced change is refused whoever signs it.
  ledger::Block hides = Child(b1.header, 0, s0, s0);
  Status hidden = trust.CheckLinked(b1.header, hides.header, hides.proposer_sig);
  REQUIRE_FALSE(hidden.ok());
  CHECK_THAT(hidden.message(), Catch::Contains("is not the next_validators_hash"));

  // Block 3 executes "remove v0": set(4) = {v1}.
  ledger::Block b3 = Child(b2.header, 0, s1, s2);
  REQUIRE(trust.CheckLinked(b2.header, b3.header, b3.proposer_sig).ok());
  REQUIRE(trust.Follow(b3.header, s2).ok());
  // The removed v0 signs block 4: refused. v1 signs it: accepted.
  ledger::Block by_removed = Child(b3.header, 0, s2, s2);
  Status refused = trust.CheckLinked(b3.header, by_removed.header, by_removed.proposer_sig);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.message(), Catch::Contains("is not a validator of height 4"));
  ledger::Block b4 = Child(b3.header, 1, s2, s2);
  CHECK(trust.CheckLinked(b3.header, b4.header, b4.proposer_sig).ok());
}

TEST_CASE("light client, BFT: certificates are checked against the set of their height",
          "[cli][light][membership]") {
  audit::HeaderTrust trust(MakeGenesis(genesis::ConsensusKind::kBft, 4));
  const crypto::Hash256 chain = trust.genesis_hash();
  const auto s0 = Set({0, 1, 2, 3}), s1 = Set({0, 1, 2});

  // Block 1 removes v3 (set(2) = {v0, v1, v2}); certified by 3 of the 4 genesis validators.
  ledger::Block b1 = Child(trust.genesis_header(), 1, s0, s1);
  auto c1 = trust.CheckCertified(b1.header, Certify(chain, b1.header, {0, 1, 3}, {0, 1, 3}));
  REQUIRE(c1.ok());
  CHECK(*c1 == 3);

  ledger::Block b2 = Child(b1.header, 2, s1, s1);
  // Still holding the genesis set: the header names another one.
  auto stale = trust.CheckCertified(b2.header, Certify(chain, b2.header, {0, 1, 2}, {0, 1, 2}));
  REQUIRE_FALSE(stale.ok());
  CHECK_THAT(stale.status().message(), Catch::Contains("not the set this client holds"));
  REQUIRE(trust.Follow(b1.header, s1).ok());

  // The removed v3 signs in index 2's place: its signature does not verify for that member.
  auto forged = trust.CheckCertified(b2.header, Certify(chain, b2.header, {0, 1, 2}, {0, 1, 3}));
  REQUIRE_FALSE(forged.ok());
  CHECK_THAT(forged.status().message(), Catch::StartsWith("header 2: certificate"));
  // v3 under its old index: no such member in set(2).
  auto removed = trust.CheckCertified(b2.header, Certify(chain, b2.header, {0, 1, 3}, {0, 1, 3}));
  REQUIRE_FALSE(removed.ok());
  // Two of the three remaining validators are not a quorum of set(2): Quorum(3) = 3.
  auto two = trust.CheckCertified(b2.header, Certify(chain, b2.header, {0, 1}, {0, 1}));
  CHECK_FALSE(two.ok());
  auto all = trust.CheckCertified(b2.header, Certify(chain, b2.header, {0, 1, 2}, {0, 1, 2}));
  REQUIRE(all.ok());
  CHECK(*all == 3);
}

TEST_CASE("light store: the followed set survives a reopen and is checked against its header",
          "[cli][light][membership]") {
  testkit::TempDir dir("light-set");
  audit::HeaderTrust trust(MakeGenesis(genesis::ConsensusKind::kSolo, 1));
  const auto s0 = Set({0}), s1 = Set({0, 1});
  ledger::Block b1 = Child(trust.genesis_header(), 0, s0, s1);
  ledger::Block b2 = Child(b1.header, 1, s1, s1);
  {
    auto store = cli::LightStore::Open(dir.path() + "/store", /*linked=*/true);
    REQUIRE(store.ok());
    CHECK_FALSE(store->saved_set().has_value());
    REQUIRE(trust.Follow(b1.header, s1).ok());
    std::vector<cli::TrustedHeader> hs;
    for (const ledger::Block* b : {&b1, &b2}) {
      Bytes sig(b->proposer_sig.view().begin(), b->proposer_sig.view().end());
      hs.push_back(cli::TrustedHeader{b->header.Encode(), b->header, sig});
    }
    REQUIRE(store->Append(std::move(hs)).ok());
    REQUIRE(store->SaveSet(trust.validators()).ok());
  }
  auto store = cli::LightStore::Open(dir.path() + "/store", /*linked=*/true);
  REQUIRE(store.ok());
  REQUIRE(store->saved_set().has_value());
  CHECK(ledger::SetHash(*store->saved_set()) == ledger::SetHash(s1));
  audit::HeaderTrust fresh(MakeGenesis(genesis::ConsensusKind::kSolo, 1));
  CHECK(fresh.NeedsSet(store->Find(2)->header));
  // Hold accepts the saved set for the header that names it, and no other set.
  CHECK_FALSE(fresh.Hold(store->Find(2)->header, s0).ok());
  REQUIRE(fresh.Hold(store->Find(2)->header, *store->saved_set()).ok());
  CHECK_FALSE(fresh.NeedsSet(store->Find(2)->header));
}
