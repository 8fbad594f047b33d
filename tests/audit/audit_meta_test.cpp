// The audit of what is not a block: each metadata record ('M') tampered one way at a time,
// a stray key, a consensus record on a chain that keeps none. Each is named: the record, and
// for the head record the height at which it disagrees with the blocks.
#include <catch2/catch.hpp>

#include "audit/audit.h"
#include "base/codec.h"
#include "tests/audit/audit_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;

namespace {

Bytes MetaKey(std::string_view name) { return PrefixedKey('M', AsBytes(name)); }

struct MemChain {
  AuditChain chain;
  ledger::MemoryKv kv;  // shares its contents with the copy the ChainStore owns
  uint64_t head = 0;
  ledger::Head stored_head;

  MemChain() {
    auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(kv),
                                          chain.genesis.Block0(), chain.genesis.InitialState());
    REQUIRE(store.ok());
    head = chain.Build(**store);
    stored_head = (*store)->head();
  }
  void Put(const Bytes& key, ByteView value) {
    ledger::WriteBatch b;
    b.Put(key, Bytes(value.begin(), value.end()));
    REQUIRE(kv.Write(b, true).ok());
  }
  void Delete(const Bytes& key) {
    ledger::WriteBatch b;
    b.Delete(key);
    REQUIRE(kv.Write(b, true).ok());
  }
  AuditReport Audit() const { return AuditStore(kv, chain.genesis); }
};

Bytes HeadRecord(uint64_t height, const crypto::Hash256& hash, const crypto::Hash256& root) {
  codec::Writer w;
  w.U64(height).Fixed(hash).Fixed(root);
  return w.Take();
}

crypto::Hash256 Flipped(crypto::Hash256 h) {
  Bytes b(h.view().begin(), h.view().end());
  b[0] ^= 0x01;
  return *crypto::Hash256::FromBytes(b);
}

// The failure, for the test log and for the report of tamper cases.
void Expect(const AuditReport& r, AuditCheck check, std::optional<uint64_t> height,
            const std::string& says) {
  INFO(Why(r));
  REQUIRE_FALSE(r.ok());
  CHECK(AuditCheckName(r.failure->check) == AuditCheckName(check));
  CHECK(r.failure->height == height);
  CHECK_THAT(r.failure->detail, Catch::Contains(says));
  WARN("audit says: " << r.failure->ToString());
}

}  // namespace

TEST_CASE("audit checks the stored chain id against the genesis file", "[audit][meta]") {
  MemChain c;
  REQUIRE(c.Audit().ok());
  SECTION("one byte changed") {
    c.Put(MetaKey("chain_id"), AsBytes(std::string_view("audit-tesu")));
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "the metadata record 'M' \"chain_id\" holds \"audit-tesu\", but the genesis file's "
           "chain id is \"audit-test\"");
  }
  SECTION("deleted") {
    c.Delete(MetaKey("chain_id"));
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "the metadata record 'M' \"chain_id\" is missing");
  }
}

TEST_CASE("audit checks the format and genesis records", "[audit][meta]") {
  MemChain c;
  SECTION("format version 4") {
    c.Put(MetaKey("format"), Bytes{4, 0, 0, 0});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "'M' \"format\" says version 4; this audit reads version 3");
  }
  SECTION("format version 2: a PROTOCOL v1 chain") {
    c.Put(MetaKey("format"), Bytes{2, 0, 0, 0});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "'M' \"format\" says version 2; this audit reads version 3 (versions 1 and 2 are "
           "PROTOCOL v1 chains");
  }
  SECTION("format truncated") {
    c.Put(MetaKey("format"), Bytes{1, 0, 0});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt, "'M' \"format\" does not decode");
  }
  SECTION("genesis hash changed") {
    c.Put(MetaKey("genesis"), Flipped(c.chain.genesis.Block0().Hash()).view());
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "'M' \"genesis\" holds " + Flipped(c.chain.genesis.Block0().Hash()).ToHex());
  }
  SECTION("an unknown metadata record") {
    c.Put(MetaKey("checkpoint"), Bytes{1, 2, 3});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "unknown metadata record 'M' \"checkpoint\" (3 bytes)");
  }
}

TEST_CASE("audit names the height at which the head record is damaged", "[audit][meta]") {
  MemChain c;
  const ledger::Head h = c.stored_head;
  REQUIRE(h.height == 5);
  SECTION("truncated") {
    c.Put(MetaKey("head"), Bytes{5, 0, 0});
    Expect(c.Audit(), AuditCheck::kHead, 5,
           "the metadata record 'M' \"head\" does not decode (head record:");
  }
  SECTION("deleted") {
    c.Delete(MetaKey("head"));
    Expect(c.Audit(), AuditCheck::kHead, 5, "'M' \"head\" is missing; the last stored block is 5");
  }
  SECTION("height lowered, hash kept") {
    c.Put(MetaKey("head"), HeadRecord(3, h.hash, h.state_root));
    Expect(c.Audit(), AuditCheck::kHead, 5,
           "'M' \"head\" says height 3, but blocks up to 5 are stored and check out (its hash is "
           "block 5's)");
  }
  SECTION("height raised") {
    c.Put(MetaKey("head"), HeadRecord(9, h.hash, h.state_root));
    Expect(c.Audit(), AuditCheck::kHead, 6,
           "'M' \"head\" says height 9, but block 6 is missing (the last stored block is 5)");
  }
  SECTION("hash changed") {
    c.Put(MetaKey("head"), HeadRecord(5, Flipped(h.hash), h.state_root));
    Expect(c.Audit(), AuditCheck::kHead, 5,
           "'M' \"head\" has hash " + crypto::ShortHex(Flipped(h.hash), 16) +
               ", but block 5 "
               "hashes to " +
               crypto::ShortHex(h.hash, 16));
  }
  SECTION("state root changed") {
    c.Put(MetaKey("head"), HeadRecord(5, h.hash, Flipped(h.state_root)));
    Expect(c.Audit(), AuditCheck::kHead, 5, "'M' \"head\" has state root");
  }
  SECTION("rolled back to an earlier, consistent head") {
    auto b3 = ledger::Block::Decode(**c.kv.Get(HeightKey('B', 3)));
    REQUIRE(b3.ok());
    c.Put(MetaKey("head"), HeadRecord(3, b3->Hash(), b3->header.state_root));
    Expect(c.Audit(), AuditCheck::kHead, 4, "a block is stored above the head (height 3)");
  }
  SECTION("receipts left above the head") {
    c.Put(HeightKey('R', 6), Bytes{0, 0, 0, 0});
    Expect(c.Audit(), AuditCheck::kHead, 6, "receipts are stored above the head (height 5)");
  }
}

TEST_CASE("audit refuses keys outside the store's layout", "[audit][meta]") {
  MemChain c;
  SECTION("a stray prefix") {
    c.Put(Bytes{'Z', 'z'}, Bytes{1});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt,
           "a key outside the store's layout: Zz (1 bytes)");
  }
  SECTION("a 0xff key") {
    c.Put(Bytes{0xff, 0x00}, Bytes{});
    Expect(c.Audit(), AuditCheck::kMetadata, std::nullopt, "outside the store's layout: 0xff00");
  }
  SECTION("a consensus record on a solo chain") {
    c.Put(Bytes{'C', 'h'}, Bytes{1});
    Expect(c.Audit(), AuditCheck::kEngineState, std::nullopt,
           "the consensus record 'C' 'h' (the solo engine's hard state) is stored, but a solo "
           "chain keeps none");
  }
}

// The undo records behind proofs of past heights (ledger/chain_store.h 'U'): a changed one, a
// missing one, and one outside (undo_from, head] are each named.
TEST_CASE("audit checks the undo records against the replay and their heights", "[audit][meta]") {
  MemChain c;
  SECTION("a changed value") {
    auto stored = c.kv.Get(HeightKey('U', 3));
    REQUIRE(stored.ok());
    REQUIRE(stored.value());
    auto undo = ledger::ChainStore::DecodeUndo(**stored);
    REQUIRE(undo.ok());
    REQUIRE_FALSE(undo->empty());
    auto& first = undo->begin()->second;
    REQUIRE(first);
    first->back() ^= 0x01;
    c.Put(HeightKey('U', 3), ledger::ChainStore::EncodeUndo(*undo));
    Expect(c.Audit(), AuditCheck::kState, 3,
           "the stored undo record ('U') is not what the replay's writes replaced");
  }
  SECTION("a missing one") {
    c.Delete(HeightKey('U', 2));
    Expect(c.Audit(), AuditCheck::kState, std::nullopt,
           "the undo record ('U') of height 2 is missing (undo_from 0)");
  }
  SECTION("one below the window") {
    codec::Writer w;
    w.U64(2);
    c.Put(MetaKey("undo_from"), w.Take());
    Expect(c.Audit(), AuditCheck::kState, std::nullopt,
           "an undo record ('U') at height 1, at or below undo_from 2");
  }
  SECTION("records with no undo_from bounding them") {
    c.Delete(MetaKey("undo_from"));
    Expect(c.Audit(), AuditCheck::kState, std::nullopt, "an undo record ('U') is stored (");
  }
  SECTION("one above the head") {
    c.Put(HeightKey('U', 6), ledger::ChainStore::EncodeUndo({}));
    Expect(c.Audit(), AuditCheck::kHead, 6, "an undo record is stored above the head (height 5)");
  }
}
