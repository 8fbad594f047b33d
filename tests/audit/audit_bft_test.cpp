// The audit of a BFT chain: every block above genesis must carry a commit certificate of a
// quorum of the genesis validators over its hash.
#include <catch2/catch.hpp>

#include "audit/audit.h"
#include "consensus/bft/messages.h"
#include "consensus/bft/state.h"
#include "consensus/signer.h"
#include "tests/audit/audit_fixture.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;
namespace bft = cairn::consensus::bft;

namespace {

struct BftChain {
  std::vector<crypto::KeyPair> validators = {SeededKey(11), SeededKey(12), SeededKey(13),
                                             SeededKey(14)};
  crypto::KeyPair admin = SeededKey(2);
  genesis::Genesis genesis;
  std::vector<ledger::Block> blocks;  // 1..3

  BftChain() {
    genesis.chain_id = "audit-bft";
    genesis.genesis_time_ms = 1'767'225'600'000;
    genesis.consensus = genesis::ConsensusKind::kBft;
    for (size_t i = 0; i < validators.size(); ++i) {
      genesis.validators.push_back(
          {"v" + std::to_string(i), validators[i].public_key(), "127.0.0.1:1"});
    }
    genesis.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, 1'000'000});
  }

  Bytes Certificate(const ledger::Block& b, std::vector<consensus::ReplicaId> signers) const {
    bft::Certificate c;
    c.height = b.header.height;
    c.round = 1;
    c.block = b.Hash();
    for (consensus::ReplicaId id : signers) {
      bft::Vote v;
      v.type = bft::VoteType::kPrecommit;
      v.height = c.height;
      v.round = c.round;
      v.block = c.block;
      consensus::Ed25519Signer signer(id, validators[id]);
      v = bft::SignVote(genesis.Block0().Hash(), v, signer);
      c.sigs.push_back({id, v.sig});
    }
    return c.Encode();
  }

  // Builds three blocks (rotating proposers) and commits each with a certificate from
  // validators 0, 1 and 3.
  void Build(ledger::ChainStore& store) {
    ledger::BlockHeader parent = genesis.Block0().header;
    for (uint64_t h = 1; h <= 3; ++h) {
      std::vector<ledger::Transaction> txs;
      ledger::Transaction tx =
          testkit::MakeTx(admin, genesis.chain_id, h - 1,
                          ledger::Put{Bytes{'k', static_cast<uint8_t>(h)}, Bytes{1, 2, 3}});
      txs.push_back(tx);
      auto built = ledger::BuildBlock(store, parent, cairn::testkit::TreeOf(store), std::move(txs),
                                      genesis.genesis_time_ms + h, validators[h % 4]);
      REQUIRE(built.skipped.empty());
      REQUIRE(
          store.Commit(built.block, built.exec, true, nullptr, Certificate(built.block, {0, 1, 3}))
              .ok());
      blocks.push_back(built.block);
      parent = built.block.header;
    }
  }
};

struct Fixture {
  BftChain chain;
  ledger::KvStore* kv = nullptr;
  std::unique_ptr<ledger::ChainStore> store;

  Fixture() {
    auto mem = std::make_unique<ledger::MemoryKv>();
    kv = mem.get();
    auto s = ledger::ChainStore::Open(std::move(mem), chain.genesis.Block0(),
                                      chain.genesis.InitialState());
    REQUIRE(s.ok());
    store = std::move(s.value());
    chain.Build(*store);
  }

  void Put(const Bytes& key, const Bytes& value) {
    ledger::WriteBatch b;
    b.Put(key, value);
    REQUIRE(kv->Write(b, true).ok());
  }
};

}  // namespace

TEST_CASE("audit verifies the commit certificate of every block of a BFT chain", "[audit][bft]") {
  Fixture f;
  AuditReport r = AuditStore(*f.kv, f.chain.genesis);
  INFO((r.failure ? r.failure->ToString() : ""));
  REQUIRE(r.ok());
  CHECK(r.certificates == 3);
  CHECK(r.head_height == 3);
}

TEST_CASE("audit names the block whose certificate is missing or does not prove it",
          "[audit][bft]") {
  Fixture f;
  const Bytes key2 = ledger::ChainStore::CertificateKey(2);
  SECTION("missing") {
    ledger::WriteBatch b;
    b.Delete(key2);
    REQUIRE(f.kv->Write(b, true).ok());
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 2);
    CHECK(r.certificates == 1);
  }
  SECTION("a signature altered") {
    Bytes cert = *f.store->CertificateAt(2).value();
    cert[cert.size() - 1] ^= 0x40;
    f.Put(key2, cert);
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 2);
    CHECK_THAT(r.failure->detail, Catch::Contains("signature"));
  }
  SECTION("too few signers") {
    f.Put(key2, f.chain.Certificate(f.chain.blocks[1], {0, 3}));
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 2);
  }
  SECTION("a valid certificate of another block") {
    f.Put(key2, *f.store->CertificateAt(3).value());
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK(r.failure->height == 2);
  }
  SECTION("garbage") {
    f.Put(key2, Bytes{1, 2, 3});
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kCertificate);
    CHECK_THAT(r.failure->detail, Catch::Contains("decode"));
  }
}

TEST_CASE("audit decodes the BFT engine's records and names the one that is damaged",
          "[audit][bft][meta]") {
  Fixture f;
  bft::HardState hs;
  hs.height = 4;
  hs.next_record = 8;
  f.Put(Bytes{'C', 'h'}, bft::EncodeHardState(hs));
  Bytes log_key = {'C', 'l', 0, 0, 0, 0, 0, 0, 0, 7};
  consensus::Block body;
  body.height = 4;
  body.data = {1};
  body.hash = crypto::Sha256Of(body.data);
  f.Put(log_key, bft::EncodeBlockRecord(body));
  {
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    INFO(Why(r));
    REQUIRE(r.ok());
  }
  auto expect = [&](const std::string& says) {
    AuditReport r = AuditStore(*f.kv, f.chain.genesis);
    INFO(Why(r));
    REQUIRE(r.failure);
    CHECK(r.failure->check == AuditCheck::kEngineState);
    CHECK_FALSE(r.failure->height);
    CHECK_THAT(r.failure->detail, Catch::Contains(says));
    WARN("audit says: " << r.failure->ToString());
  };
  SECTION("the hard state does not decode") {
    f.Put(Bytes{'C', 'h'}, Bytes{1, 2, 3});
    expect("the consensus record 'C' 'h' (the BFT engine's hard state) does not decode");
  }
  SECTION("the hard state is above the head + 1") {
    hs.height = 9;
    f.Put(Bytes{'C', 'h'}, bft::EncodeHardState(hs));
    expect("'C' 'h' (the BFT engine's hard state) is at height 9, above the head 3 + 1");
  }
  SECTION("a log record does not decode") {
    f.Put(log_key, Bytes{9, 9});
    expect("the consensus log record 'C' 'l' 7 does not decode");
  }
  SECTION("an evidence record does not decode") {
    Bytes key = {'C', 'e'};
    key.resize(34, 0xab);
    f.Put(key, Bytes{1, 2});
    expect("the evidence record 'C' 'e' abababababababab.. does not decode");
  }
  SECTION("an unknown consensus record") {
    f.Put(Bytes{'C', 'z'}, Bytes{1});
    expect("unknown consensus record Cz (1 bytes)");
  }
}

TEST_CASE(
    "a pruned BFT store audits the certificates of its header-only records, and catches a "
    "forged one at its height",
    "[audit][bft][pruned]") {
  Fixture f;
  REQUIRE(f.store->SetRetainBlocks(1).ok());  // block 3 kept; 1 and 2 header-only
  REQUIRE(f.store->BlocksFrom() == 3);
  AuditReport r = AuditStore(*f.kv, f.chain.genesis);
  INFO((r.failure ? r.failure->ToString() : ""));
  REQUIRE(r.ok());
  REQUIRE(r.coverage);
  CHECK(r.coverage->headers_certified == 2);
  CHECK(r.coverage->certificates_unchecked == 0);
  CHECK(r.certificates == 1);  // block 3, replayed
  REQUIRE_FALSE(r.coverage->verified.empty());
  CHECK_THAT(r.coverage->verified[1],
             Catch::Contains("headers 1..2: linked by hash from genesis, every certificate"));

  // Header 1's certificate signed by two of four validators: no quorum.
  f.Put(ledger::ChainStore::CertificateKey(1), f.chain.Certificate(f.chain.blocks[0], {0, 1}));
  r = AuditStore(*f.kv, f.chain.genesis);
  INFO((r.failure ? r.failure->ToString() : ""));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kCertificate);
  CHECK(r.failure->height == 1u);
}
