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
#include "tests/kit/bft_changing_chain.h"
#include "tests/kit/chain_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;
using cairn::testkit::ChangingChain;
namespace bft = cairn::consensus::bft;

namespace {

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
