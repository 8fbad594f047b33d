// The audit of data dirs that do not keep every block (docs/design/state-sync.md section 4):
// a store pruned with ChainStore::SetRetainBlocks, and one written by a snapshot import
// (SnapshotImport from another store's snapshot). The report must say exactly what was
// verified; a tampered retained block, header-only record or state entry must fail at its
// height.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "audit/audit.h"
#include "ledger/snapshot.h"
#include "tests/audit/audit_fixture.h"

namespace cairn::audit {
namespace {

using testing::AuditChain;
using testing::EditValue;
using testing::HeightKey;
using testing::Why;

// Every line of the report, for failure messages and for `Contains` checks.
std::string Lines(const AuditReport& r) {
  std::string out = Why(r) + "\n";
  if (!r.coverage) return out + "(no coverage)\n";
  for (const auto& l : r.coverage->verified) out += "verified: " + l + "\n";
  for (const auto& l : r.coverage->not_verified) out += "not verified: " + l + "\n";
  return out;
}

bool HasLine(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

// AuditChain's five blocks, then `extra` blocks of one transfer each from the admin.
uint64_t BuildLong(AuditChain& chain, ledger::ChainStore& store, uint64_t extra) {
  chain.Build(store);
  std::vector<std::vector<ledger::Transaction>> blocks;
  for (uint64_t i = 0; i < extra; ++i) {
    blocks.push_back(
        {chain.Tx(chain.admin, 5 + i, ledger::Transfer{chain.alice.public_key(), 1 + i})});
  }
  chain.transactions += extra;
  auto head =
      testkit::CommitChain(store,
                           store.head().height == 0 ? chain.genesis.Block0().header
                                                    : *store.HeaderAt(store.head().height).value(),
                           std::move(blocks), chain.validator);
  REQUIRE(head.ok());
  return *head;
}

struct PrunedStore {
  AuditChain chain;
  ledger::MemoryKv kv;
  std::unique_ptr<ledger::ChainStore> store;
  uint64_t head = 0;

  explicit PrunedStore(uint64_t retain_blocks, uint64_t retain_heights = 1000) {
    auto opened = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(kv),
                                           chain.genesis.Block0(), chain.genesis.InitialState());
    REQUIRE(opened.ok());
    store = std::move(opened.value());
    REQUIRE(store->SetRetainBlocks(retain_blocks).ok());
    REQUIRE(store->SetRetainHeights(retain_heights).ok());
    head = BuildLong(chain, *store, 15);  // 20 blocks
  }
};

TEST_CASE(
    "a pruned store audits: headers from genesis, the state at the base proven, the "
    "blocks above it replayed",
    "[audit][pruned]") {
  PrunedStore p(/*retain_blocks=*/5);
  REQUIRE(p.head == 20);
  REQUIRE(p.store->BlocksFrom() == 16);
  AuditReport r = AuditStore(p.kv, p.chain.genesis);
  INFO(Lines(r));
  REQUIRE(r.ok());
  REQUIRE(r.coverage);
  CHECK(r.coverage->blocks_from == 16);
  CHECK(r.coverage->state_base == 15u);
  CHECK(r.coverage->headers_checked == 15);
  CHECK(r.head_height == 20);
  CHECK(r.blocks == 5);
  CHECK(r.store_checked);
  CHECK(HasLine(r.coverage->verified, "headers 1..15: linked by hash from genesis"));
  CHECK(HasLine(r.coverage->verified, "state at 15: rebuilt from the stored state and 5 undo"));
  CHECK(HasLine(r.coverage->verified, "blocks 16..20: replayed"));
  CHECK(HasLine(r.coverage->not_verified, "bodies 1..15 pruned"));
  // 'P' records keep no proposer signature: said, not hidden.
  CHECK(HasLine(r.coverage->not_verified, "15 header-only records keep no proposer signature"));
}

TEST_CASE(
    "a pruned store whose undo records stop above the pruned range audits from where "
    "they reach, and says so",
    "[audit][pruned]") {
  PrunedStore p(/*retain_blocks=*/5, /*retain_heights=*/2);
  REQUIRE(p.store->BlocksFrom() == 16);
  REQUIRE(p.store->RetainedFrom() == 18);
  AuditReport r = AuditStore(p.kv, p.chain.genesis);
  INFO(Lines(r));
  REQUIRE(r.ok());
  CHECK(r.coverage->state_base == 18u);
  CHECK(HasLine(r.coverage->verified, "headers 1..18"));
  CHECK(HasLine(r.coverage->verified, "blocks 19..20: replayed"));
  CHECK(HasLine(r.coverage->not_verified, "blocks 16..18 kept but not replayed"));
}

TEST_CASE(
    "an audit of a pruned store catches a retained block with a flipped byte, at its "
    "height",
    "[audit][pruned]") {
  PrunedStore p(/*retain_blocks=*/5);
  const uint64_t h = 18;
  REQUIRE(EditValue(p.kv, HeightKey('B', h), [](Bytes& v) { v.back() ^= 0x01; }));
  AuditReport r = AuditStore(p.kv, p.chain.genesis);
  INFO(Lines(r));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->height == h);
}

TEST_CASE(
    "an audit of a pruned store catches a header-only record with a flipped byte, at its "
    "height, in the link check",
    "[audit][pruned]") {
  PrunedStore p(/*retain_blocks=*/5);
  const uint64_t h = 7;
  // One bit of its timestamp: the record still decodes, and still looks plausible.
  REQUIRE(EditValue(p.kv, HeightKey('P', h), [](Bytes& v) {
    auto header = ledger::BlockHeader::Decode(v);
    REQUIRE(header.ok());
    header->timestamp_ms ^= 0x01;
    v = header->Encode();
  }));
  AuditReport r = AuditStore(p.kv, p.chain.genesis);
  INFO(Lines(r));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->height == h);
  CHECK(r.failure->check == AuditCheck::kHeader);
  CHECK(r.failure->detail.find("prev_hash") != std::string::npos);
}

TEST_CASE("an audit of a pruned store catches a damaged state entry in the proof at the base",
          "[audit][pruned]") {
  PrunedStore p(/*retain_blocks=*/5);
  Bytes key{'S'};
  // Bob's account: no block above the base writes it, so no undo record restores it.
  const Bytes account = ledger::AccountKey(p.chain.bob.public_key());
  key.insert(key.end(), account.begin(), account.end());
  REQUIRE(EditValue(p.kv, key, [](Bytes& v) { v.back() ^= 0x01; }));
  AuditReport r = AuditStore(p.kv, p.chain.genesis);
  INFO(Lines(r));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kState);
  CHECK(r.failure->height == 15u);
}

// A state-synced store: the source's snapshot at its head imported into an empty store.
struct SyncedStore {
  AuditChain chain;
  ledger::MemoryKv source_kv;
  std::unique_ptr<ledger::ChainStore> source;
  ledger::MemoryKv kv;
  std::unique_ptr<ledger::ChainStore> store;
  uint64_t h = 0;

  explicit SyncedStore(bool backfill) {
    auto opened = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(source_kv),
                                           chain.genesis.Block0(), chain.genesis.InitialState());
    REQUIRE(opened.ok());
    source = std::move(opened.value());
    h = BuildLong(chain, *source, 5);
    const ledger::BlockHeader header = *source->HeaderAt(h).value();
    std::map<uint32_t, Bytes> chunks;
    Bytes manifest;
    REQUIRE(ledger::BuildSnapshot(
                source_kv, h, header.state_root,
                [&](uint32_t i, Bytes c) {
                  chunks[i] = std::move(c);
                  return Status::Ok();
                },
                &manifest)
                .ok());
    auto import = ledger::SnapshotImport::Begin(std::make_unique<ledger::MemoryKv>(kv),
                                                chain.genesis.Block0(), manifest, header, {});
    REQUIRE(import.ok());
    for (uint32_t i : (*import)->Missing()) REQUIRE((*import)->AddChunk(i, chunks.at(i)).ok());
    auto finished = (*import)->Finish();
    REQUIRE(finished.ok());
    store = std::move(finished.value());
    if (backfill) {
      std::vector<std::pair<ledger::BlockHeader, Bytes>> below;
      for (uint64_t i = h - 1; i >= 1; --i)
        below.emplace_back(*source->HeaderAt(i).value(), Bytes());
      REQUIRE(store->PutHeadersBelow(below).ok());
    }
  }
};

TEST_CASE(
    "a state-synced store audits: its headers from genesis, the snapshot's state proven, "
    "the blocks committed since replayed",
    "[audit][pruned][statesync]") {
  SyncedStore s(/*backfill=*/true);
  AuditReport r = AuditStore(s.kv, s.chain.genesis);
  INFO(Lines(r));
  REQUIRE(r.ok());
  CHECK(r.coverage->synced_at == s.h);
  CHECK(r.coverage->state_base == s.h);
  CHECK(HasLine(r.coverage->verified, "headers 1.." + std::to_string(s.h)));
  CHECK(r.blocks == 0);

  // Three blocks committed on top of the snapshot are replayed.
  std::vector<std::vector<ledger::Transaction>> more;
  for (uint64_t i = 0; i < 3; ++i) {
    more.push_back(
        {s.chain.Tx(s.chain.admin, 10 + i, ledger::Transfer{s.chain.bob.public_key(), 7})});
  }
  REQUIRE(testkit::CommitChain(*s.store, *s.store->HeaderAt(s.h).value(), std::move(more),
                               s.chain.validator)
              .ok());
  r = AuditStore(s.kv, s.chain.genesis);
  INFO(Lines(r));
  REQUIRE(r.ok());
  CHECK(r.blocks == 3);
  CHECK(HasLine(r.coverage->verified, "blocks " + std::to_string(s.h + 1) + ".." +
                                          std::to_string(s.h + 3) + ": replayed"));
}

TEST_CASE(
    "a state-synced store whose header backfill has not run says the chain below is not "
    "linked to genesis",
    "[audit][pruned][statesync]") {
  SyncedStore s(/*backfill=*/false);
  AuditReport r = AuditStore(s.kv, s.chain.genesis);
  INFO(Lines(r));
  REQUIRE(r.ok());
  CHECK(HasLine(r.coverage->not_verified, "headers 1.." + std::to_string(s.h - 1) + " not kept"));
}

TEST_CASE("an audit from a snapshot catches a tampered snapshot entry at the snapshot's height",
          "[audit][pruned][statesync]") {
  SyncedStore s(/*backfill=*/true);
  Bytes key{'S'};
  const Bytes account = ledger::AccountKey(s.chain.bob.public_key());
  key.insert(key.end(), account.begin(), account.end());
  REQUIRE(EditValue(s.kv, key, [](Bytes& v) { v.back() ^= 0x01; }));
  AuditReport r = AuditStore(s.kv, s.chain.genesis);
  INFO(Lines(r));
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->check == AuditCheck::kState);
  CHECK(r.failure->height == s.h);
}

}  // namespace
}  // namespace cairn::audit
