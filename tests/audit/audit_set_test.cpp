// The audit of a BFT chain whose validator set changes: each certificate is checked against
// set(H) replayed from state (docs/PROTOCOL.md "The validator set of a height"), so a
// validator added by governance counts from its effective height on and a removed one never
// counts again.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "audit/audit.h"
#include "consensus/bft/messages.h"
#include "consensus/signer.h"
#include "ledger/governance.h"
#include "tests/audit/audit_fixture.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;
namespace bft = cairn::consensus::bft;

namespace {

// Genesis: validators ids 0..3 and one role admin, who is therefore the only governance admin
// (threshold 1), so each proposal executes in its own block.
//   block 1: add validator id 4            (in force from height 3)
//   block 4: remove validator id 3         (in force from height 6)
// Blocks 1..7 are committed, each with a certificate of a quorum of set(H) by index:
//   H 1-2: ids 0,1,3 of 4; H 3-5: ids 0,1,2,4 of 5; H 6-7: ids 0,1,4 of 4 (indices 0,1,3).
struct ChangingChain {
  std::map<uint32_t, crypto::KeyPair> keys;  // by member id
  crypto::KeyPair admin = SeededKey(2);
  genesis::Genesis genesis;
  std::vector<ledger::Block> blocks;        // 1..7
  std::vector<Bytes> certificates;          // 1..7
  std::vector<std::vector<uint32_t>> sets;  // member ids of set(H), H = 1..7

  ChangingChain() {
    for (uint32_t id = 0; id <= 4; ++id) keys.emplace(id, SeededKey(static_cast<uint8_t>(11 + id)));
    genesis.chain_id = "audit-set";
    genesis.genesis_time_ms = 1'767'225'600'000;
    genesis.consensus = genesis::ConsensusKind::kBft;
    for (uint32_t id = 0; id < 4; ++id) {
      genesis.validators.push_back(
          {"v" + std::to_string(id), keys.at(id).public_key(), "127.0.0.1:1"});
    }
    genesis.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, 1'000'000});
  }

  // A certificate of `signers` (member ids) for `b`, by their indices in `set`; `keyed_as`
  // overrides the key that signs for an id (a removed validator signing in another's slot).
  Bytes Certificate(const ledger::Block& b, const std::vector<uint32_t>& set,
                    const std::vector<uint32_t>& signers,
                    const std::map<uint32_t, uint32_t>& keyed_as = {}) const {
    bft::Certificate c;
    c.height = b.header.height;
    c.round = 0;
    c.block = b.Hash();
    for (uint32_t id : signers) {
      const auto index =
          static_cast<consensus::ReplicaId>(std::find(set.begin(), set.end(), id) - set.begin());
      bft::Vote v;
      v.type = bft::VoteType::kPrecommit;
      v.height = c.height;
      v.round = c.round;
      v.block = c.block;
      auto k = keyed_as.find(id);
      consensus::Ed25519Signer signer(index, keys.at(k == keyed_as.end() ? id : k->second));
      v = bft::SignVote(genesis.Block0().Hash(), v, signer);
      c.sigs.push_back({index, v.sig});
    }
    return c.Encode();
  }

  // Builds and commits blocks 1..7. `proposer_of` picks the proposer's member id by height.
  void Build(ledger::ChainStore& store, uint32_t proposer_at_7 = 0) {
    ledger::BlockHeader parent = genesis.Block0().header;
    uint64_t nonce = 0;
    for (uint64_t h = 1; h <= 7; ++h) {
      std::vector<ledger::Transaction> txs;
      if (h == 1) {
        const auto k = keys.at(4).public_key();
        txs.push_back(testkit::MakeTx(
            admin, genesis.chain_id, nonce++,
            ledger::GovPropose{h + 10, ledger::AddValidator{"v4", k, k, "127.0.0.1:1"}}));
      } else if (h == 4) {
        txs.push_back(testkit::MakeTx(admin, genesis.chain_id, nonce++,
                                      ledger::GovPropose{h + 10, ledger::RemoveMember{3}}));
      } else {
        txs.push_back(testkit::MakeTx(admin, genesis.chain_id, nonce++,
                                      ledger::Put{Bytes{'k', static_cast<uint8_t>(h)}, Bytes{1}}));
      }
      std::vector<uint32_t> set = h <= 2   ? std::vector<uint32_t>{0, 1, 2, 3}
                                  : h <= 5 ? std::vector<uint32_t>{0, 1, 2, 3, 4}
                                           : std::vector<uint32_t>{0, 1, 2, 4};
      std::vector<uint32_t> signers = h <= 2   ? std::vector<uint32_t>{0, 1, 3}
                                      : h <= 5 ? std::vector<uint32_t>{0, 1, 2, 4}
                                               : std::vector<uint32_t>{0, 1, 4};
      const uint32_t proposer = h == 7 ? proposer_at_7 : (h <= 2 ? 0 : 4);
      auto built = ledger::BuildBlock(store, parent, cairn::testkit::TreeOf(store), std::move(txs),
                                      genesis.genesis_time_ms + h, keys.at(proposer));
      REQUIRE(built.skipped.empty());
      REQUIRE(built.exec.receipts.at(0).code == ledger::TxCode::kOk);
      Bytes cert = Certificate(built.block, set, signers);
      REQUIRE(store.Commit(built.block, built.exec, true, nullptr, cert).ok());
      blocks.push_back(built.block);
      certificates.push_back(cert);
      sets.push_back(set);
      parent = built.block.header;
    }
  }
};

struct Fixture {
  ChangingChain chain;
  ledger::KvStore* kv = nullptr;
  std::unique_ptr<ledger::ChainStore> store;

  explicit Fixture(uint32_t proposer_at_7 = 0) {
    auto mem = std::make_unique<ledger::MemoryKv>();
    kv = mem.get();
    auto s = ledger::ChainStore::Open(std::move(mem), chain.genesis.Block0(),
                                      chain.genesis.InitialState());
    REQUIRE(s.ok());
    store = std::move(s.value());
    chain.Build(*store, proposer_at_7);
  }

  void PutCertificate(uint64_t h, const Bytes& cert) {
    ledger::WriteBatch b;
    b.Put(ledger::ChainStore::CertificateKey(h), cert);
    REQUIRE(kv->Write(b, true).ok());
  }

  AuditReport Audit() const { return AuditStore(*kv, chain.genesis); }
};

}  // namespace

TEST_CASE("audit follows the validator set from genesis across an addition and a removal",
          "[audit][bft][membership]") {
  Fixture f;
  // The headers commit to the sets the test expects: 4, then 5 from height 3, then 4 from 6.
  const auto& b = f.chain.blocks;
  CHECK(b[0].header.validators_hash == f.chain.genesis.ValidatorsHash());
  CHECK(b[1].header.next_validators_hash != b[1].header.validators_hash);  // set(3) differs
  CHECK(b[2].header.validators_hash == b[1].header.next_validators_hash);
  CHECK(b[4].header.next_validators_hash != b[4].header.validators_hash);  // set(6) differs
  AuditReport r = f.Audit();
  INFO(Why(r));
  REQUIRE(r.ok());
  CHECK(r.certificates == 7);
  CHECK(r.head_height == 7);
}

TEST_CASE("audit refuses a certificate that counts a validator outside set(H)",
          "[audit][bft][membership]") {
  Fixture f;
  const auto& c = f.chain;
  SECTION("the removed validator signs in the slot of another after its removal") {
    // Height 6: index 3 of set(6) is id 4; id 3's key (removed at 6) signs there.
    f.PutCertificate(6, c.Certificate(c.blocks[5], c.sets[5], {0, 1, 4}, {{4, 3}}));
    AuditReport r = f.Audit();
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 6);
    CHECK(r.certificates == 5);
  }
  SECTION("a quorum of the old set is no quorum of the grown set") {
    // Height 3: set(3) has 5 validators, quorum 4; three of the genesis validators signed.
    f.PutCertificate(3, c.Certificate(c.blocks[2], c.sets[2], {0, 1, 2}));
    AuditReport r = f.Audit();
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 3);
  }
  SECTION("the added validator signs before its effective height") {
    // Height 2 is still governed by the genesis set: index 3 is id 3, whatever id 4 signs.
    f.PutCertificate(2, c.Certificate(c.blocks[1], c.sets[1], {0, 1, 3}, {{3, 4}}));
    AuditReport r = f.Audit();
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 2);
  }
}

TEST_CASE("audit refuses a block proposed by a validator removed from set(H)",
          "[audit][bft][membership]") {
  // Block 7 is built and signed by id 3, removed at 6 (its certificate is a valid quorum).
  Fixture f(/*proposer_at_7=*/3);
  AuditReport r = f.Audit();
  REQUIRE(r.failure);
  CHECK(r.failure->check == AuditCheck::kProposer);
  CHECK(r.failure->height == 7);
  CHECK_THAT(r.failure->detail, Catch::Contains("not a validator of height 7"));
}
