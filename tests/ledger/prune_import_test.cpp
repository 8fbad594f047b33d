// ledger/chain_store.h, issue 17: pruning with storage.retain_blocks (bodies, receipts and tx
// index go; headers, hash index and certificates stay; reads say kPruned naming the window;
// restarts keep it; the Raft log's blocks are kept), SnapshotImport (resumable after a crash,
// refusing another manifest, Open refusing mid-import, Finish giving a store that commits
// on), and the header backfill (hash links down to genesis).
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "base/codec.h"
#include "ledger/chain_store.h"
#include "ledger/snapshot.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::ChainFixture;

namespace {

std::unique_ptr<ChainStore> OpenMemory(const MemoryKv& kv, const ChainFixture& fx) {
  auto store = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
  INFO((store.ok() ? std::string("ok") : store.error()));
  REQUIRE(store.ok());
  return std::move(store.value());
}

Bytes CertFor(uint64_t height) { return Bytes{'c', 'e', 'r', 't', static_cast<uint8_t>(height)}; }

// Commits `n` blocks of `txs` transfers, each with a certificate; returns them.
std::vector<BuiltBlock> CommitBlocks(ChainStore& store, const ChainFixture& fx, int n,
                                     size_t txs = 3) {
  std::vector<BuiltBlock> out;
  for (int i = 0; i < n; ++i) {
    auto parent = store.HeaderAt(store.head().height);
    REQUIRE(parent.ok());
    REQUIRE(parent.value());
    BuiltBlock b = fx.NextBlock(store, **parent, txs, /*first=*/static_cast<size_t>(i));
    REQUIRE(b.skipped.empty());
    Status s =
        store.Commit(b.block, b.exec, /*sync=*/true, nullptr, CertFor(b.block.header.height));
    INFO(s.message());
    REQUIRE(s.ok());
    out.push_back(std::move(b));
  }
  return out;
}

std::map<char, size_t> CountKeys(const KvStore& kv) {
  std::map<char, size_t> n;
  REQUIRE(kv.Scan({}, {}, [&](ByteView k, ByteView) {
              ++n[static_cast<char>(k[0])];
              return true;
            }).ok());
  return n;
}

// Checks the store against the blocks committed (heights 1..blocks.size()), with bodies kept
// from `from`.
void CheckPruned(const ChainStore& store, const std::vector<BuiltBlock>& blocks, uint64_t from) {
  REQUIRE(store.BlocksFrom() == from);
  for (const BuiltBlock& b : blocks) {
    const uint64_t h = b.block.header.height;
    CAPTURE(h);
    auto header = store.HeaderAt(h);
    REQUIRE(header.ok());
    REQUIRE(header.value());
    CHECK(**header == b.block.header);
    auto cert = store.CertificateAt(h);
    REQUIRE(cert.ok());
    CHECK(cert.value() == CertFor(h));
    auto by_hash = ChainStore::HasBlock(store.kv(), b.block.Hash());
    REQUIRE(by_hash.ok());
    CHECK(*by_hash);
    auto block = store.BlockAt(h);
    auto receipts = store.ReceiptsAt(h);
    auto tx = store.FindTx(b.exec.tx_hashes.at(0));
    if (h < from) {
      REQUIRE(block.code() == StatusCode::kPruned);
      CHECK(block.error() == "block " + std::to_string(h) +
                                 " is pruned: this node keeps bodies from " + std::to_string(from) +
                                 " (storage.retain_blocks)");
      CHECK(receipts.code() == StatusCode::kPruned);
      CHECK(store.kv().Get(ChainStore::PrunedHeaderKey(h))->has_value());
      CHECK(store.BlockByHash(b.block.Hash()).code() == StatusCode::kPruned);
      REQUIRE(tx.ok());
      CHECK_FALSE(tx.value().has_value());
    } else {
      REQUIRE(block.ok());
      REQUIRE(block.value());
      CHECK(**block == b.block);
      REQUIRE(receipts.ok());
      CHECK(receipts.value()->size() == b.block.txs.size());
      REQUIRE(tx.ok());
      REQUIRE(tx.value());
      CHECK(tx.value()->height == h);
    }
  }
  auto genesis = store.BlockAt(0);
  REQUIRE(genesis.ok());
  CHECK(genesis.value().has_value());
}

}  // namespace

TEST_CASE(
    "retain_blocks prunes bodies, receipts and the tx index, keeping headers and certificates",
    "[ledger][prune]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  REQUIRE(store->SetRetainBlocks(10).ok());
  auto blocks = CommitBlocks(*store, fx, 100);
  CheckPruned(*store, blocks, 91);
  // Disk keys: bodies and receipts of genesis and 91..100, the index of their transactions,
  // a header record for each of 1..90, the hash index and certificates of every height.
  auto keys = CountKeys(kv);
  CHECK(keys['B'] == 11);
  CHECK(keys['R'] == 11);
  CHECK(keys['T'] == 10 * 3);
  CHECK(keys['P'] == 90);
  CHECK(keys['H'] == 101);
  CHECK(keys['Q'] == 100);

  SECTION("a restart keeps the window, and pruning goes on from it") {
    kv.DropUnsynced();  // pruning's batches are unsynced; each commit's sync carried them
    store.reset();
    auto reopened = OpenMemory(kv, fx);
    // The last commit's pruning batch was not synced: the power cut took it, and the floor
    // with it, so height 90 is whole again until pruning runs.
    CheckPruned(*reopened, blocks, 90);
    REQUIRE(reopened->SetRetainBlocks(10).ok());
    CheckPruned(*reopened, blocks, 91);
    auto more = CommitBlocks(*reopened, fx, 5);
    blocks.insert(blocks.end(), more.begin(), more.end());
    CheckPruned(*reopened, blocks, 96);
  }
  SECTION("a wider window keeps what is left; a narrower one prunes at once") {
    REQUIRE(store->SetRetainBlocks(50).ok());
    CheckPruned(*store, blocks, 91);
    REQUIRE(store->SetRetainBlocks(3).ok());
    CheckPruned(*store, blocks, 98);
  }
}

TEST_CASE("pruning a long chain at once, and never below the Raft log's first block",
          "[ledger][prune]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  auto blocks = CommitBlocks(*store, fx, 60, /*txs=*/2);
  CHECK(store->BlocksFrom() == 1);
  CheckPruned(*store, blocks, 1);

  SECTION("the lowest engine log record that carries a block holds the floor") {
    // As node/engine_store.cpp writes it: 'C' 'm' index := hash offset.
    codec::Writer span;
    span.Fixed(blocks[29].block.Hash()).U32(0);
    WriteBatch raft;
    raft.Put(Bytes{'C', 'm', 0, 0, 0, 0, 0, 0, 0, 7}, span.bytes());
    REQUIRE(kv.Write(raft, /*sync=*/true).ok());
    REQUIRE(store->SetRetainBlocks(5).ok());
    CheckPruned(*store, blocks, 30);
    auto body = ChainStore::BlockBytesByHash(kv, blocks[29].block.Hash());
    REQUIRE(body.ok());
    CHECK(body.value().has_value());
    WriteBatch compacted;
    compacted.Delete(Bytes{'C', 'm', 0, 0, 0, 0, 0, 0, 0, 7});
    REQUIRE(kv.Write(compacted, /*sync=*/true).ok());
    CommitBlocks(*store, fx, 1, 2);
    CHECK(store->BlocksFrom() == 57);
  }
  SECTION("SetPruneFloorLimit holds it too") {
    store->SetPruneFloorLimit(20);
    REQUIRE(store->SetRetainBlocks(5).ok());
    CheckPruned(*store, blocks, 20);
    store->SetPruneFloorLimit(0);
    REQUIRE(store->SetRetainBlocks(5).ok());
    CheckPruned(*store, blocks, 56);
  }
}

TEST_CASE("a block stored by hash ('K', from the Raft log) is pruned with its reference",
          "[ledger][prune]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  auto parent = store->HeaderAt(0);
  REQUIRE(parent.ok());
  BuiltBlock b = fx.NextBlock(*store, **parent, 2);
  WriteBatch body;
  body.Put(ChainStore::BodyKey(b.block.Hash()), b.block.Encode());
  REQUIRE(kv.Write(body, /*sync=*/true).ok());
  REQUIRE(store->Commit(b.block, b.exec, true, nullptr, CertFor(1)).ok());
  auto blocks = CommitBlocks(*store, fx, 4);
  blocks.insert(blocks.begin(), b);
  REQUIRE(store->SetRetainBlocks(2).ok());
  CheckPruned(*store, blocks, 4);
  CHECK(CountKeys(kv)['K'] == 0);
}

namespace {

struct Source {
  ChainFixture fx{200};
  MemoryKv kv;
  std::unique_ptr<ChainStore> store;
  std::vector<BuiltBlock> blocks;
};

struct Snap {
  uint64_t height = 0;
  BlockHeader header;
  Bytes manifest;
  std::map<uint32_t, Bytes> chunks;
};

Snap TakeSnapshot(const ChainStore& store, size_t target = 4000) {
  Snap s;
  s.height = store.head().height;
  s.header = **store.HeaderAt(s.height);
  std::unique_ptr<KvSnapshot> pin = store.kv().Pin();
  SnapshotBuildOptions opts;
  opts.target_chunk_bytes = target;
  Status built = BuildSnapshot(
      *pin, s.height, s.header.state_root,
      [&](uint32_t i, Bytes c) {
        s.chunks.emplace(i, std::move(c));
        return Status::Ok();
      },
      &s.manifest, opts);
  INFO(built.message());
  REQUIRE(built.ok());
  return s;
}

}  // namespace

TEST_CASE("a snapshot import resumes after a crash and opens as a chain at its height",
          "[ledger][import]") {
  Source src;
  src.store = OpenMemory(src.kv, src.fx);
  src.blocks = CommitBlocks(*src.store, src.fx, 12, 20);
  const Snap older = TakeSnapshot(*src.store);
  src.blocks = CommitBlocks(*src.store, src.fx, 8, 20);
  const Snap snap = TakeSnapshot(*src.store);
  REQUIRE(snap.height == 20);
  REQUIRE(snap.chunks.size() >= 4);

  MemoryKv dest;
  auto begun = SnapshotImport::Begin(std::make_unique<MemoryKv>(dest), src.fx.genesis,
                                     snap.manifest, snap.header, CertFor(20));
  INFO(begun.status().message());
  REQUIRE(begun.ok());
  std::vector<uint32_t> all = (*begun)->Missing();
  REQUIRE(all.size() == snap.chunks.size());
  // A bad chunk is refused and not written.
  Bytes bad = snap.chunks.begin()->second;
  bad.back() ^= 1;
  Status refused = (*begun)->AddChunk(all[0], bad);
  CHECK(refused.code() == StatusCode::kRejected);
  CHECK((*begun)->Missing().size() == all.size());
  const size_t half = all.size() / 2;
  for (size_t i = 0; i < half; ++i)
    REQUIRE((*begun)->AddChunk(all[i], snap.chunks.at(all[i])).ok());
  CHECK((*begun)->AddChunk(all[0], snap.chunks.at(all[0])).ok());  // again: accepted, no-op
  auto early = (*begun)->Finish();
  CHECK(early.code() == StatusCode::kRejected);

  // The crash: unsynced writes are lost (each chunk was synced), the process is gone.
  begun.value().reset();
  dest.DropUnsynced();
  auto opened =
      ChainStore::Open(std::make_unique<MemoryKv>(dest), src.fx.genesis, src.fx.genesis_state);
  REQUIRE(opened.code() == StatusCode::kRejected);
  CHECK(opened.error() ==
        "chain store: a state sync is in progress in this data dir; restart cairnd with state "
        "sync to finish it");
  auto other = SnapshotImport::Begin(std::make_unique<MemoryKv>(dest), src.fx.genesis,
                                     older.manifest, older.header, {});
  REQUIRE(other.code() == StatusCode::kRejected);
  CHECK(other.error().find("at height 20 is in progress") != std::string::npos);

  auto resumed = SnapshotImport::Begin(std::make_unique<MemoryKv>(dest), src.fx.genesis,
                                       snap.manifest, snap.header, CertFor(20));
  REQUIRE(resumed.ok());
  CHECK((*resumed)->Missing() == std::vector<uint32_t>(all.begin() + half, all.end()));
  for (uint32_t i : (*resumed)->Missing()) REQUIRE((*resumed)->AddChunk(i, snap.chunks.at(i)).ok());
  auto finished = (*resumed)->Finish();
  INFO(finished.status().message());
  REQUIRE(finished.ok());
  ChainStore& imported = **finished;
  CHECK(imported.head().height == 20);
  CHECK(imported.head().hash == snap.header.Hash());
  CHECK(StateTree::Root(imported.HeadView()) == snap.header.state_root);
  for (const auto& key : src.fx.accounts) {
    CHECK(imported.GetAccount(key.public_key()) == src.store->GetAccount(key.public_key()));
  }
  CHECK(imported.BlocksFrom() == 21);
  CHECK(imported.HeadersFrom() == 20);
  CHECK(imported.StateSyncedAt() == std::optional<uint64_t>(20));
  CHECK(imported.RetainedFrom() == 20);
  CHECK(**imported.HeaderAt(20) == snap.header);
  CHECK(*imported.CertificateAt(20) == std::optional<Bytes>(CertFor(20)));
  auto base = imported.BlockAt(20);
  REQUIRE(base.code() == StatusCode::kPruned);
  CHECK(base.error() ==
        "block 20 is not kept: this node was state-synced at height 20 and keeps bodies from 21");
  CHECK_FALSE(imported.HeaderAt(19)->has_value());
  auto keys = CountKeys(dest);
  CHECK(keys['I'] == 0);
  CHECK(keys['S'] == CountKeys(src.kv)['S']);

  SECTION("it commits on, and reopens") {
    auto more = CommitBlocks(imported, src.fx, 3);
    CHECK(imported.head().height == 23);
    finished.value().reset();
    auto again = OpenMemory(dest, src.fx);
    CHECK(again->head().height == 23);
    CHECK(again->BlocksFrom() == 21);
    auto b21 = again->BlockAt(21);
    REQUIRE(b21.ok());
    CHECK(**b21 == more[0].block);
  }
  SECTION("headers backfill down to genesis by hash links") {
    std::vector<std::pair<BlockHeader, Bytes>> headers;
    for (uint64_t h = 19; h >= 1; --h) headers.emplace_back(**src.store->HeaderAt(h), CertFor(h));
    // Not linking: skipping a height, or a header changed.
    auto skipped = std::vector<std::pair<BlockHeader, Bytes>>(headers.begin() + 1, headers.end());
    Status s = imported.PutHeadersBelow(skipped);
    CHECK(s.code() == StatusCode::kRejected);
    CHECK(s.message().find("expected height 19") != std::string::npos);
    auto changed = headers;
    changed[0].first.timestamp_ms += 1;
    s = imported.PutHeadersBelow(changed);
    REQUIRE(s.code() == StatusCode::kRejected);
    CHECK(s.message().find("not the prev_hash") != std::string::npos);
    CHECK(imported.HeadersFrom() == 20);
    // In two calls; the last reaches height 1, whose prev_hash is the genesis hash.
    REQUIRE(imported.PutHeadersBelow(std::span(headers).first(9)).ok());
    CHECK(imported.HeadersFrom() == 11);
    REQUIRE(imported.PutHeadersBelow(std::span(headers).subspan(9)).ok());
    CHECK(imported.HeadersFrom() == 1);
    for (uint64_t h = 1; h < 20; ++h) {
      CHECK(**imported.HeaderAt(h) == **src.store->HeaderAt(h));
      CHECK(*imported.CertificateAt(h) == std::optional<Bytes>(CertFor(h)));
      CHECK(imported.BlockAt(h).code() == StatusCode::kPruned);
    }
    CHECK(imported.PutHeadersBelow(headers).code() == StatusCode::kRejected);
    finished.value().reset();
    auto again = OpenMemory(dest, src.fx);
    CHECK(again->HeadersFrom() == 1);
  }
}

TEST_CASE("a snapshot import refuses a store with a chain and a manifest that fails",
          "[ledger][import]") {
  Source src;
  src.store = OpenMemory(src.kv, src.fx);
  CommitBlocks(*src.store, src.fx, 3);
  const Snap snap = TakeSnapshot(*src.store);
  auto into_chain = SnapshotImport::Begin(std::make_unique<MemoryKv>(src.kv), src.fx.genesis,
                                          snap.manifest, snap.header, {});
  CHECK(into_chain.code() == StatusCode::kRejected);
  BlockHeader wrong = snap.header;
  wrong.state_root.data()[0] ^= 1;
  auto bad_root =
      SnapshotImport::Begin(std::make_unique<MemoryKv>(), src.fx.genesis, snap.manifest, wrong, {});
  CHECK(bad_root.code() == StatusCode::kRejected);
  CHECK(bad_root.error().find("state_root") != std::string::npos);
  ChainFixture other(8, "another-chain");
  auto wrong_chain = SnapshotImport::Begin(std::make_unique<MemoryKv>(), other.genesis,
                                           snap.manifest, snap.header, {});
  CHECK(wrong_chain.code() == StatusCode::kRejected);
}

TEST_CASE("a snapshot of a pinned LevelDB store is of the pinned height while blocks commit on",
          "[ledger][snapshot][import]") {
  ChainFixture fx(300);
  testkit::TempDir dir;
  auto opened = OpenChainStore(dir.path() + "/chain", fx.genesis, fx.genesis_state,
                               /*create=*/true);
  REQUIRE(opened.ok());
  ChainStore& store = **opened;
  CommitBlocks(store, fx, 5, 40);
  const BlockHeader at5 = **store.HeaderAt(5);
  std::unique_ptr<KvSnapshot> pin = store.kv().Pin();
  CommitBlocks(store, fx, 3, 40);  // the state moves on under the pin
  REQUIRE(store.head().state_root != at5.state_root);
  Bytes manifest;
  std::map<uint32_t, Bytes> chunks;
  SnapshotBuildOptions opts;
  opts.target_chunk_bytes = 4000;
  Status built = BuildSnapshot(
      *pin, 5, at5.state_root,
      [&](uint32_t i, Bytes c) {
        chunks.emplace(i, std::move(c));
        return Status::Ok();
      },
      &manifest, opts);
  INFO(built.message());
  REQUIRE(built.ok());
  pin.reset();  // before the store it came from
  auto m = Manifest::Decode(manifest);
  REQUIRE(m.ok());
  REQUIRE(VerifyManifest(*m, at5).ok());
  // Imported into a fresh LevelDB store, it opens at height 5 with that state.
  auto kv = OpenLevelDb(dir.path() + "/joined", /*create=*/true);
  REQUIRE(kv.ok());
  auto import = SnapshotImport::Begin(std::move(kv.value()), fx.genesis, manifest, at5, {});
  REQUIRE(import.ok());
  for (const auto& [i, c] : chunks) REQUIRE((*import)->AddChunk(i, c).ok());
  auto joined = (*import)->Finish();
  INFO(joined.status().message());
  REQUIRE(joined.ok());
  CHECK((*joined)->head().height == 5);
  CHECK(StateTree::Root((*joined)->HeadView()) == at5.state_root);
}

TEST_CASE("compacting what pruning deleted gives the disk space back", "[ledger][prune]") {
  ChainFixture fx(300);
  testkit::TempDir dir;
  const std::string path = dir.path() + "/chain";
  // A small write buffer spreads the chain over several levels, as a long chain is: LevelDB
  // compacts a range by merging each level into the next, so a store of one file has none.
  LevelDbOptions small;
  small.write_buffer_bytes = 64 << 10;
  auto kv = OpenLevelDb(path, /*create=*/true, small);
  REQUIRE(kv.ok());
  auto opened = ChainStore::Open(std::move(kv.value()), fx.genesis, fx.genesis_state);
  REQUIRE(opened.ok());
  ChainStore& store = **opened;
  CommitBlocks(store, fx, 120, 40);
  auto du = [&] {
    uint64_t bytes = 0;
    for (const auto& f : std::filesystem::directory_iterator(path)) {
      if (f.is_regular_file()) bytes += f.file_size();
    }
    return bytes;
  };
  store.SetCompactEvery(50);
  CHECK_FALSE(store.CompactionDue());
  REQUIRE(store.SetRetainHeights(10).ok());  // the state history goes too
  REQUIRE(store.SetRetainBlocks(10).ok());
  REQUIRE(store.BlocksFrom() == 111);
  REQUIRE(store.CompactionDue());
  const uint64_t before = du();
  store.CompactPruned();
  const uint64_t after = du();
  INFO("before " << before << " bytes, after " << after);
  CHECK(after * 2 < before);
  CHECK_FALSE(store.CompactionDue());
  // What is kept still reads; what was pruned still says so.
  CHECK(store.BlockAt(115).ok());
  CHECK(store.BlockAt(50).status().code() == StatusCode::kPruned);
}
