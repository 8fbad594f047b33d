// A Raft block is written once: the engine store keeps the block's bytes under the chain
// store's 'K' key and the log record without them, the chain store's commit refers to that
// body instead of writing it again, truncation and compaction leave no orphan body, a
// restart gets every record back whole, and the audit verifies such a store and catches
// damage to a shared body.
#include <catch2/catch.hpp>

#include <set>

#include "audit/audit.h"
#include "consensus/raft/messages.h"
#include "consensus/raft/raft.h"
#include "node/engine_store.h"
#include "tests/kit/chain_fixture.h"
#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::TestNetwork;
using testkit::ChainFixture;

Bytes RecordKey(char kind, uint64_t index) {
  Bytes k = {'C', static_cast<uint8_t>(kind)};
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<uint8_t>(index >> (8 * i)));
  return k;
}

// The record RaftEngine::TakeReady hands out for a block entry.
consensus::LogRecord BlockRecord(uint64_t index, uint64_t term, const ledger::Block& block) {
  consensus::raft::Entry e;
  e.index = index;
  e.term = term;
  e.type = consensus::raft::EntryType::kBlock;
  e.height = block.header.height;
  e.hash = block.Hash();
  e.data = block.Encode();
  consensus::LogRecord r{index, consensus::raft::EncodeEntry(e)};
  r.block_hash = e.hash;
  r.block_offset = consensus::raft::kEntryDataOffset;
  r.block_size = e.data.size();
  return r;
}

std::set<crypto::Hash256> Bodies(const ledger::KvStore& kv) {
  std::set<crypto::Hash256> out;
  REQUIRE(kv.Scan(Bytes{'K'}, Bytes{'L'}, [&](ByteView k, ByteView) {
              out.insert(*crypto::Hash256::FromBytes(k.subspan(1)));
              return true;
            }).ok());
  return out;
}

bool Has(const ledger::KvStore& kv, const Bytes& key) {
  auto got = kv.Get(key);
  REQUIRE(got.ok());
  return got.value().has_value();
}

// A chain of blocks on a fixture, each built on the state after the one before.
struct Chain {
  ChainFixture fx{8, "engine-store"};
  ledger::MemoryKv disk;
  std::unique_ptr<ledger::ChainStore> store;
  ledger::MemoryState state = fx.GenesisMemoryState();
  std::vector<ledger::BuiltBlock> blocks;  // blocks[h - 1] is at height h

  Chain() {
    auto s = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(disk), fx.genesis,
                                      fx.genesis_state);
    REQUIRE(s.ok());
    store = std::move(s.value());
  }
  // The block after `parent` on `at`, holding `txs` transfers starting at account `first`.
  ledger::BuiltBlock Next(const ledger::MemoryState& at, const ledger::BlockHeader& parent,
                          size_t txs, size_t first = 0) {
    return fx.NextBlock(at, parent, txs, first);
  }
  void Extend(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const ledger::BlockHeader parent =
          blocks.empty() ? fx.genesis.header : blocks.back().block.header;
      blocks.push_back(Next(state, parent, 3));
      state.Apply(blocks.back().exec.diff);
    }
  }
};

TEST_CASE("engine store: a Raft block's bytes are stored once and the commit refers to them",
          "[node][engine_store]") {
  Chain c;
  c.Extend(1);
  const ledger::Block& block = c.blocks[0].block;
  const crypto::Hash256 hash = block.Hash();
  EngineStore es(c.disk);
  consensus::Ready rd;
  rd.hard_state = Bytes{1, 2, 3};
  const consensus::LogRecord rec = BlockRecord(1, 1, block);
  rd.append.push_back(rec);
  REQUIRE(es.Persist(rd).ok());

  const Bytes encoded = block.Encode();
  auto body = c.disk.Get(ledger::ChainStore::BodyKey(hash));
  REQUIRE(body.ok());
  REQUIRE(body.value() == encoded);
  auto stored = c.disk.Get(RecordKey('l', 1));
  REQUIRE(stored.ok());
  CHECK((*stored)->size() == rec.data.size() - encoded.size());

  REQUIRE(c.store->Commit(block, c.blocks[0].exec, /*sync=*/true).ok());
  auto raw = c.disk.Get(testkit::HeightKey('B', 1));
  REQUIRE(raw.ok());
  CHECK(ledger::ChainStore::BodyRefOf(**raw) == hash);  // a 36-byte reference, not the block
  auto back = c.store->BlockAt(1);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK(**back == block);
  auto by_hash = c.store->BlockByHash(hash);
  REQUIRE(by_hash.ok());
  CHECK(by_hash->has_value());

  // A restart gets the record whole, and the store reopens on its head.
  auto loaded = es.Load();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->records.size() == 1);
  CHECK(loaded->records[0].data == rec.data);
  CHECK(loaded->records[0].block_hash == hash);
  auto reopened = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(c.disk), c.fx.genesis,
                                           c.fx.genesis_state);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->head().hash == hash);

  // Compaction drops the record but not the body: it is the chain's block now.
  es.Discard(1);
  CHECK_FALSE(Has(c.disk, RecordKey('l', 1)));
  CHECK_FALSE(Has(c.disk, RecordKey('m', 1)));
  CHECK(Bodies(c.disk) == std::set<crypto::Hash256>{hash});
  auto again = c.store->BlockAt(1);
  REQUIRE(again.ok());
  CHECK(again->has_value());
}

TEST_CASE("engine store: a truncated suffix takes its uncommitted bodies with it",
          "[node][engine_store]") {
  Chain c;
  c.Extend(3);
  EngineStore es(c.disk);
  consensus::Ready first;
  first.hard_state = Bytes{1};
  for (uint64_t i = 1; i <= 3; ++i)
    first.append.push_back(BlockRecord(i, 1, c.blocks[i - 1].block));
  REQUIRE(es.Persist(first).ok());
  REQUIRE(c.store->Commit(c.blocks[0].block, c.blocks[0].exec, true).ok());

  // A new leader's log differs from index 2 on: another block 2 (other transactions).
  ledger::MemoryState after1 = c.fx.GenesisMemoryState();
  after1.Apply(c.blocks[0].exec.diff);
  ledger::BuiltBlock other = c.Next(after1, c.blocks[0].block.header, 2, /*first=*/4);
  REQUIRE(other.block.Hash() != c.blocks[1].block.Hash());
  consensus::Ready conflict;
  conflict.truncate_from = 2;
  conflict.append.push_back(BlockRecord(2, 2, other.block));
  REQUIRE(es.Persist(conflict).ok());

  const crypto::Hash256 h1 = c.blocks[0].block.Hash(), h2 = other.block.Hash();
  CHECK(Bodies(c.disk) == std::set<crypto::Hash256>{h1, h2});
  CHECK_FALSE(Has(c.disk, RecordKey('l', 3)));
  CHECK_FALSE(Has(c.disk, RecordKey('m', 3)));
  auto loaded = es.Load();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->records.size() == 2);
  CHECK(loaded->records[1].data == BlockRecord(2, 2, other.block).data);

  // The whole log cleared (a clean start) keeps only committed bodies.
  REQUIRE(es.ClearEngineState().ok());
  CHECK(Bodies(c.disk) == std::set<crypto::Hash256>{h1});
  auto block1 = c.store->BlockAt(1);
  REQUIRE(block1.ok());
  CHECK(block1->has_value());
}

TEST_CASE("engine store: a block already committed by block sync is not stored again",
          "[node][engine_store]") {
  Chain c;
  c.Extend(1);
  REQUIRE(c.store->Commit(c.blocks[0].block, c.blocks[0].exec, true).ok());
  EngineStore es(c.disk);
  consensus::Ready rd;
  rd.hard_state = Bytes{1};
  const consensus::LogRecord rec = BlockRecord(1, 1, c.blocks[0].block);
  rd.append.push_back(rec);
  REQUIRE(es.Persist(rd).ok());
  CHECK(Bodies(c.disk).empty());
  auto loaded = es.Load();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->records.size() == 1);
  CHECK(loaded->records[0].data == rec.data);  // its block read back from the chain
}

size_t BodyRefs(const ledger::KvStore& kv) {
  size_t refs = 0;
  REQUIRE(kv.Scan(Bytes{'B'}, Bytes{'C'}, [&](ByteView, ByteView v) {
              if (ledger::ChainStore::BodyRefOf(v)) ++refs;
              return true;
            }).ok());
  return refs;
}

TEST_CASE("in-process raft: a crashed node replays its log and every store audits clean",
          "[node][inproc][engine_store]") {
  const uint64_t seed = 7;
  INFO("seed " << seed);
  TestNetwork net(genesis::ConsensusKind::kRaft, 3, 0, seed);
  net.Start();
  auto leader = [&]() -> std::optional<size_t> {
    for (size_t i = 0; i < net.size(); ++i) {
      if (net.node(i).core->api().GetStatus().role == "leader") return i;
    }
    return std::nullopt;
  };
  REQUIRE(net.RunUntil([&] { return leader().has_value(); }));
  auto send = [&](size_t via, uint64_t first, size_t count) {
    std::vector<ledger::Transaction> txs;
    for (size_t i = 0; i < count; ++i) {
      txs.push_back(net.Transfer(net.admin(), first + i, net.bob().public_key(), 1));
    }
    for (const ledger::Admission& a :
         net.node(via).core->api().SubmitTransactions(std::move(txs))) {
      INFO(a.detail);
      REQUIRE(a.ok());
    }
  };
  auto bob_has = [&](uint64_t amount) {
    for (size_t i = 0; i < net.size(); ++i) {
      auto acct = net.node(i).store->GetAccount(net.bob().public_key());
      if (!acct || acct->balance != amount) return false;
    }
    return true;
  };
  const size_t lead = *leader();
  send(lead, 0, 40);
  REQUIRE(net.RunUntil([&] { return bob_has(40); }));

  // A follower crashes: commits it had not synced are lost; its Raft log (synced) is not.
  const size_t follower = (lead + 1) % net.size();
  net.Restart(follower);
  send(lead, 40, 40);
  REQUIRE(net.RunUntil(
      [&] { return bob_has(80) && net.MinHeight() == net.node(lead).store->head().height; }));

  const ledger::Head head = net.node(0).store->head();
  for (size_t i = 0; i < net.size(); ++i) {
    INFO("node " << i);
    CHECK(net.node(i).halted.ok());
    CHECK(net.node(i).store->head().hash == head.hash);
    // Blocks committed from the Raft log are stored once, as references to their bodies.
    CHECK(BodyRefs(net.node(i).store->kv()) > 0);
    audit::AuditReport r = audit::AuditStore(net.node(i).store->kv(), net.genesis());
    INFO((r.failure ? r.failure->detail : std::string()));
    CHECK(r.ok());
    CHECK(r.head_height == head.height);
  }

  // The audit catches damage to a shared body, and a body nothing refers to.
  ledger::KvStore& kv = net.node(follower).store->kv();
  std::optional<uint64_t> damaged;
  for (uint64_t h = 1; h <= head.height && !damaged; ++h) {
    auto raw = kv.Get(testkit::HeightKey('B', h));
    REQUIRE(raw.ok());
    if (auto ref = ledger::ChainStore::BodyRefOf(**raw)) {
      REQUIRE(testkit::EditValue(kv, ledger::ChainStore::BodyKey(*ref),
                                 [](Bytes& v) { v[v.size() / 2] ^= 0x01; }));
      damaged = h;
    }
  }
  REQUIRE(damaged);
  audit::AuditReport bad = audit::AuditStore(kv, net.genesis());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.failure->height == damaged);

  ledger::KvStore& other = net.node((follower + 1) % net.size()).store->kv();
  ledger::WriteBatch orphan;
  orphan.Put(ledger::ChainStore::BodyKey(crypto::Sha256Of(AsBytes("orphan"))),
             net.node(0).store->BlockAt(1)->value().Encode());
  REQUIRE(other.Write(orphan, /*sync=*/true).ok());
  audit::AuditReport stray = audit::AuditStore(other, net.genesis());
  REQUIRE_FALSE(stray.ok());
  CHECK(stray.failure->detail.find("belongs to no committed block") != std::string::npos);
}

}  // namespace
}  // namespace cairn::node
