// A Raft follower's work per block outside execution (issue 13): what it writes to its store
// for each committed block (the engine's log record, then the chain store's commit) and the
// copies of the block's bytes between the AppendEntries message and the store.
#include <benchmark/benchmark.h>

#include "consensus/raft/messages.h"
#include "ledger/chain_store.h"
#include "node/engine_store.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

namespace cairn::micro {
namespace {

using testkit::ChainFixture;
using testkit::TempDir;

constexpr size_t kTxs = 1000;

// Counts what goes into the key-value store: key and value bytes of every put.
class CountingKv : public ledger::KvStore {
 public:
  explicit CountingKv(std::unique_ptr<ledger::KvStore> inner) : inner_(std::move(inner)) {}
  Result<std::optional<Bytes>> Get(ByteView key) const override { return inner_->Get(key); }
  Status Write(const ledger::WriteBatch& batch, bool sync) override {
    for (const auto& op : batch.ops()) bytes_ += op.key.size() + (op.value ? op.value->size() : 0);
    return inner_->Write(batch, sync);
  }
  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    return inner_->Scan(start, end, fn);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<ledger::KvStore> inner_;
  uint64_t bytes_ = 0;
};

// The follower's writes for one block of 1,000 transfers, unsynced (CPU, not fsync): the
// EngineStore persisting the Raft log record of the block entry, then ChainStore::Commit.
// arg 0: the record as stored before issue 13 (it holds the block's bytes, and the commit
// writes them again); arg 1: the record lends its block to 'K' and the commit refers to it.
// Counter bytes_per_block: key and value bytes handed to LevelDB per block (LevelDB's own
// log then writes each byte once more, and its compactions again).
void BM_FollowerBlockWrites(benchmark::State& state) {
  crypto::Init();
  const bool once = state.range(0) != 0;
  ChainFixture chain(1000, "micro-bench");
  TempDir dir("micro");
  auto kv = ledger::OpenLevelDb(dir.path() + "/chain", /*create=*/true);
  if (!kv.ok()) {
    state.SkipWithError(kv.status().message().c_str());
    return;
  }
  auto counting = std::make_unique<CountingKv>(std::move(kv.value()));
  CountingKv* counter = counting.get();
  auto store = ledger::ChainStore::Open(std::move(counting), chain.genesis, chain.genesis_state);
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return;
  }
  node::EngineStore engine_store((*store)->kv());
  uint64_t index = 0, bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto parent = (*store)->HeaderAt((*store)->head().height);
    ledger::BuiltBlock b = chain.NextBlock(**store, **parent, kTxs);
    consensus::raft::Entry e;
    e.index = ++index;
    e.term = 1;
    e.type = consensus::raft::EntryType::kBlock;
    e.height = b.block.header.height;
    e.hash = b.block.Hash();
    e.data = b.block.Encode();
    consensus::Ready rd;
    rd.hard_state = Bytes(77, 1);
    rd.append.push_back(consensus::LogRecord{e.index, consensus::raft::EncodeEntry(e)});
    if (once) {
      rd.append.back().block_hash = e.hash;
      rd.append.back().block_offset = consensus::raft::kEntryDataOffset;
      rd.append.back().block_size = e.data.size();
    }
    const uint64_t before = counter->bytes();
    state.ResumeTiming();
    Status s = engine_store.Persist(rd);
    if (s.ok()) s = (*store)->Commit(b.block, b.exec, /*sync=*/false);
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    bytes += counter->bytes() - before;
  }
  state.counters["bytes_per_block"] =
      benchmark::Counter(static_cast<double>(bytes) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kTxs);
}
BENCHMARK(BM_FollowerBlockWrites)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(60);

}  // namespace
}  // namespace cairn::micro

namespace cairn::micro {
namespace {

// Whether a block body is stored, as ChainStore::Commit asks once per block: a Get copies the
// ~165 KB body out (arg 0); a one-key Scan only looks (arg 1). The body sits in the memtable,
// beside 200 others, as on a follower a moment after its log record was persisted.
void BM_BodyLookup(benchmark::State& state) {
  TempDir dir("micro");
  auto kv = ledger::OpenLevelDb(dir.path() + "/kv", /*create=*/true);
  if (!kv.ok()) {
    state.SkipWithError(kv.status().message().c_str());
    return;
  }
  std::vector<Bytes> keys;
  for (int i = 0; i < 200; ++i) {
    Bytes k = {'K'};
    crypto::Hash256 h = crypto::Sha256Of(AsBytes(std::to_string(i)));
    k.insert(k.end(), h.view().begin(), h.view().end());
    ledger::WriteBatch b;
    b.Put(k, Bytes(165'000, static_cast<uint8_t>(i)));
    if (Status s = (*kv)->Write(b, /*sync=*/false); !s.ok())
      state.SkipWithError(s.message().c_str());
    keys.push_back(std::move(k));
  }
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const Bytes& key = keys[i++ % keys.size()];
    if (state.range(0) == 0) {
      auto got = (*kv)->Get(key);
      found += got.ok() && got.value() ? 1 : 0;
    } else {
      Bytes past = key;
      past.push_back(0);
      (void)(*kv)->Scan(key, past, [&](ByteView, ByteView) {
        ++found;
        return false;
      });
    }
  }
  if (found != static_cast<size_t>(state.iterations())) state.SkipWithError("a body was not found");
}
BENCHMARK(BM_BodyLookup)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cairn::micro

namespace cairn::micro {
namespace {

// HeaderAt, which every commit asks for the head (the parent of the block being committed):
// arg 0 reads the block below the head, as every height was read before the head's header
// was kept in memory (the whole 1,000-tx block read and its header decoded); arg 1 the head.
void BM_HeaderAt(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(1000, "micro-bench");
  TempDir dir("micro");
  auto store = ledger::OpenChainStore(dir.path() + "/chain", chain.genesis, chain.genesis_state,
                                      /*create=*/true);
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return;
  }
  for (int i = 0; i < 2; ++i) {
    auto parent = (*store)->HeaderAt((*store)->head().height);
    ledger::BuiltBlock b = chain.NextBlock(**store, **parent, kTxs);
    if (Status s = (*store)->Commit(b.block, b.exec, /*sync=*/false); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  const uint64_t height = (*store)->head().height - (state.range(0) == 0 ? 1 : 0);
  for (auto _ : state) {
    auto h = (*store)->HeaderAt(height);
    if (!h.ok() || !h->has_value()) state.SkipWithError("no header");
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_HeaderAt)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cairn::micro
