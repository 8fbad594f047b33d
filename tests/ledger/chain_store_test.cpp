#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "base/codec.h"
#include "ledger/chain_store.h"
#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::AuditStore;
using cairn::testkit::ChainFixture;
using cairn::testkit::TempDir;
using codec::Writer;

namespace {

using testkit::HeightKey;
using testkit::PrefixedKey;

Bytes MetaKey(std::string_view name) { return PrefixedKey('M', AsBytes(name)); }
Bytes HeadRecord(const Head& h) {
  Writer w;
  w.U64(h.height).Fixed(h.hash).Fixed(h.state_root);
  return w.Take();
}

void RawPut(KvStore& kv, const Bytes& key, const Bytes& value) {
  WriteBatch b;
  b.Put(key, value);
  REQUIRE(kv.Write(b, /*sync=*/true).ok());
}
void RawDelete(KvStore& kv, const Bytes& key) {
  WriteBatch b;
  b.Delete(key);
  REQUIRE(kv.Write(b, /*sync=*/true).ok());
}

std::unique_ptr<ChainStore> OpenMemory(const MemoryKv& kv, const ChainFixture& fx) {
  auto store = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
  INFO((store.ok() ? std::string("ok") : store.error()));
  REQUIRE(store.ok());
  return std::move(store.value());
}

// Builds and commits `n` blocks of `txs` transfers on top of the store's head.
std::vector<BuiltBlock> CommitBlocks(ChainStore& store, const ChainFixture& fx, int n,
                                     size_t txs = 5, bool sync = true) {
  std::vector<BuiltBlock> out;
  for (int i = 0; i < n; ++i) {
    auto parent = store.HeaderAt(store.head().height);
    REQUIRE(parent.ok());
    REQUIRE(parent.value());
    BuiltBlock b = fx.NextBlock(store, **parent, txs, /*first=*/static_cast<size_t>(i));
    REQUIRE(b.skipped.empty());
    Status s = store.Commit(b.block, b.exec, sync);
    INFO(s.message());
    REQUIRE(s.ok());
    out.push_back(std::move(b));
  }
  return out;
}

std::string KvDump(const KvStore& kv) {
  std::string out;
  REQUIRE(kv.Scan({}, {}, [&](ByteView k, ByteView v) {
              out += crypto::ToHex(k) + "=" + crypto::ToHex(v) + ";";
              return true;
            }).ok());
  return out;
}

}  // namespace

TEST_CASE("an empty store is initialised with the genesis block and state", "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  const Head head = store->head();
  CHECK(head.height == 0);
  CHECK(head.hash == fx.genesis.Hash());
  CHECK(head.state_root == fx.genesis.header.state_root);
  CHECK(store->genesis_hash() == fx.genesis.Hash());
  auto b0 = store->BlockAt(0);
  REQUIRE(b0.ok());
  REQUIRE(b0.value());
  CHECK(**b0 == fx.genesis);
  auto r0 = store->ReceiptsAt(0);
  REQUIRE(r0.ok());
  REQUIRE(r0.value());
  CHECK(r0.value()->empty());
  for (const auto& key : fx.accounts) {
    auto acct = store->GetAccount(key.public_key());
    REQUIRE(acct);
    CHECK(acct->balance == 1'000'000'000);
  }
  CHECK(AuditStore(*store, fx).ok());
  // The initialisation was one synced batch.
  kv.DropUnsynced();
  CHECK(OpenMemory(kv, fx)->head().hash == fx.genesis.Hash());
}

TEST_CASE("Open refuses a genesis state that does not match the genesis block", "[store][chain]") {
  ChainFixture fx;
  StateDiff wrong = fx.genesis_state;
  wrong.begin()->second = Account{1, 0, Role::kMember}.Encode();
  MemoryKv kv;
  auto store = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, wrong);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error(), Catch::Contains("genesis state"));
  CHECK(KvDump(kv).empty());
}

TEST_CASE("a committed chain survives reopen: blocks, hash index, tx index, receipts, state",
          "[store][chain][leveldb]") {
  ChainFixture fx;
  TempDir dir;
  std::vector<BuiltBlock> built;
  Head head_before;
  {
    auto store = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, /*create=*/true);
    REQUIRE(store.ok());
    built = CommitBlocks(**store, fx, 3);
    // A block with a record and a failed transfer, so receipts are not all ok.
    auto parent = (*store)->HeaderAt(3);
    REQUIRE(parent.ok());
    auto nonce = [&](size_t i) { return (*store)->GetAccount(fx.accounts[i].public_key())->nonce; };
    std::vector<Transaction> txs;
    txs.push_back(fx.Sign(fx.accounts[0], nonce(0), Put{{'k', 'e', 'y'}, {'v', 'a', 'l'}}));
    txs.push_back(
        fx.Sign(fx.accounts[1], nonce(1), Transfer{fx.accounts[2].public_key(), 1ull << 40}));
    built.push_back(fx.NextBlock(**store, **parent, std::move(txs)));
    REQUIRE(built.back().skipped.empty());
    REQUIRE((*store)->Commit(built.back().block, built.back().exec).ok());
    head_before = (*store)->head();
  }
  auto store = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, /*create=*/false);
  INFO((store.ok() ? std::string("ok") : store.error()));
  REQUIRE(store.ok());
  ChainStore& s = **store;
  CHECK(s.head().height == 4);
  CHECK(s.head().hash == head_before.hash);
  CHECK(s.head().hash == built.back().block.Hash());
  CHECK(s.head().state_root == built.back().block.header.state_root);

  for (const BuiltBlock& b : built) {
    const uint64_t h = b.block.header.height;
    auto by_height = s.BlockAt(h);
    REQUIRE(by_height.ok());
    REQUIRE(by_height.value());
    CHECK(**by_height == b.block);
    auto by_hash = s.BlockByHash(b.block.Hash());
    REQUIRE(by_hash.ok());
    REQUIRE(by_hash.value());
    CHECK(**by_hash == b.block);
    auto header = s.HeaderAt(h);
    REQUIRE(header.ok());
    REQUIRE(header.value());
    CHECK(**header == b.block.header);
    auto receipts = s.ReceiptsAt(h);
    REQUIRE(receipts.ok());
    REQUIRE(receipts.value());
    CHECK(**receipts == b.exec.receipts);
    for (size_t i = 0; i < b.block.txs.size(); ++i) {
      auto loc = s.FindTx(b.block.txs[i].Hash());
      REQUIRE(loc.ok());
      REQUIRE(loc.value());
      CHECK(loc.value()->height == h);
      CHECK(loc.value()->index == i);
    }
  }
  CHECK(built.back().exec.receipts[1].code == TxCode::kInsufficientBalance);
  CHECK(s.GetRecord(fx.accounts[0].public_key(), Bytes{'k', 'e', 'y'}) == Bytes{'v', 'a', 'l'});
  CHECK_FALSE(s.GetRecord(fx.accounts[1].public_key(), Bytes{'k', 'e', 'y'}));
  auto acct1 = s.GetAccount(fx.accounts[1].public_key());
  REQUIRE(acct1);
  CHECK(acct1->nonce == 3);  // two of the three transfer blocks, then the failed transfer
  CHECK_FALSE(s.GetAccount(testkit::TestKey(999, testkit::kAccountKeys).public_key()));

  auto none = s.BlockAt(5);
  REQUIRE(none.ok());
  CHECK_FALSE(none.value());
  auto unknown = s.BlockByHash(crypto::Sha256Of(Bytes{1}));
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown.value());
  auto no_tx = s.FindTx(crypto::Sha256Of(Bytes{2}));
  REQUIRE(no_tx.ok());
  CHECK_FALSE(no_tx.value());
  CHECK(s.StateReadError().ok());
  Status audit = AuditStore(s, fx);
  INFO(audit.message());
  CHECK(audit.ok());
}

TEST_CASE("Open refuses the data dir of another chain and writes nothing", "[store][chain]") {
  ChainFixture ours;
  ChainFixture theirs(8, "other-chain");
  TempDir dir;
  {
    auto store = OpenChainStore(dir.Sub("chain"), ours.genesis, ours.genesis_state, true);
    REQUIRE(store.ok());
    CommitBlocks(**store, ours, 2);
  }
  auto wrong = OpenChainStore(dir.Sub("chain"), theirs.genesis, theirs.genesis_state, true);
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(
      wrong.error(),
      Catch::Contains("belongs to chain \"test-chain\" / genesis " + ours.genesis.Hash().ToHex()) &&
          Catch::Contains("not chain \"other-chain\" / genesis " + theirs.genesis.Hash().ToHex()) &&
          Catch::Contains(dir.Sub("chain")));
  auto right = OpenChainStore(dir.Sub("chain"), ours.genesis, ours.genesis_state, false);
  REQUIRE(right.ok());
  CHECK((*right)->head().height == 2);

  // Same chain id, different genesis (another time): still another chain. Byte-exact check
  // that the refusal wrote nothing.
  ChainFixture later(8, "test-chain", 1'000'000'000, 1'800'000'000'000);
  MemoryKv kv;
  auto store = OpenMemory(kv, ours);
  CommitBlocks(*store, ours, 1);
  const std::string before = KvDump(kv);
  auto refused =
      ChainStore::Open(std::make_unique<MemoryKv>(kv), later.genesis, later.genesis_state);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("belongs to chain"));
  CHECK(KvDump(kv) == before);
}

TEST_CASE("Open refuses an unknown format version and data that is not a chain store",
          "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  OpenMemory(kv, fx);
  Writer v4;
  v4.U32(4);
  RawPut(kv, MetaKey("format"), v4.bytes());
  auto newer = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error(), Catch::Contains("format version 4 is not supported (this build reads "
                                            "version 3)"));
  // Formats 1 and 2 held PROTOCOL v1 chains: the refusal says what to do.
  for (uint32_t old : {1u, 2u}) {
    Writer v;
    v.U32(old);
    RawPut(kv, MetaKey("format"), v.bytes());
    auto older = ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
    REQUIRE_FALSE(older.ok());
    CHECK_THAT(older.error(),
               Catch::Contains("format version " + std::to_string(old) + " is not supported") &&
                   Catch::Contains("PROTOCOL v1 chain") &&
                   Catch::Contains("re-create the chain from its genesis file"));
  }

  MemoryKv foreign;
  RawPut(foreign, Bytes{'x'}, Bytes{'y'});
  auto other = ChainStore::Open(std::make_unique<MemoryKv>(foreign), fx.genesis, fx.genesis_state);
  REQUIRE_FALSE(other.ok());
  CHECK_THAT(other.error(), Catch::Contains("not a Cairn store"));
  CHECK(KvDump(foreign) == "78=79;");
}

TEST_CASE("Open refuses a store whose head is not a whole committed block", "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  std::vector<BuiltBlock> built = CommitBlocks(*OpenMemory(kv, fx), fx, 3);
  const Head head{3, built[2].block.Hash(), built[2].block.header.state_root};
  auto reopen = [&] {
    return ChainStore::Open(std::make_unique<MemoryKv>(kv), fx.genesis, fx.genesis_state);
  };
  REQUIRE(reopen().ok());

  SECTION("a damaged state entry: the rebuilt tree's root is not the head's") {
    const Bytes key = PrefixedKey('S', AccountKey(fx.accounts[0].public_key()));
    REQUIRE(testkit::EditValue(kv, key, [](Bytes& v) { v[0] ^= 1; }));
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK(store.code() == StatusCode::kCorruption);
    CHECK_THAT(store.error(), Catch::Contains("head block 3") &&
                                  Catch::Contains("the stored state ('S' entries) has root") &&
                                  Catch::Contains("but the head header's state_root is"));
  }
  SECTION("a state entry too many") {
    RawPut(kv, PrefixedKey('S', RecordKey(fx.accounts[0].public_key(), Bytes{'x'})), Bytes{1});
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK(store.code() == StatusCode::kCorruption);
  }
  SECTION("a block above the head is ignored") {
    RawPut(kv, HeightKey('B', 4), Bytes{1, 2, 3});
    auto store = reopen();
    REQUIRE(store.ok());
    CHECK((*store)->head().height == 3);
  }
  SECTION("head block missing") {
    RawDelete(kv, HeightKey('B', 3));
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error(), Catch::Contains("head block 3 is missing"));
  }
  SECTION("head hash is not the head block's") {
    RawPut(kv, MetaKey("head"), HeadRecord(Head{3, built[1].block.Hash(), head.state_root}));
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error(),
               Catch::Contains("head block 3 hashes to") && Catch::Contains("inconsistent"));
  }
  SECTION("stored state root is not the head block's") {
    RawPut(kv, MetaKey("head"), HeadRecord(Head{3, head.hash, built[1].exec.state_root}));
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error(), Catch::Contains("stored state root"));
  }
  SECTION("head block's receipts missing") {
    RawDelete(kv, HeightKey('R', 3));
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error(), Catch::Contains("no receipts"));
  }
  SECTION("head record undecodable") {
    RawPut(kv, MetaKey("head"), Bytes{1, 2, 3});
    auto store = reopen();
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error(), Catch::Contains("head record"));
  }
}

TEST_CASE("Open of a LevelDB store whose head block was deleted says it is inconsistent",
          "[store][chain][leveldb]") {
  ChainFixture fx;
  TempDir dir;
  {
    auto store = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, true);
    REQUIRE(store.ok());
    CommitBlocks(**store, fx, 2);
  }
  {
    auto raw = OpenLevelDb(dir.Sub("chain"), /*create=*/false);
    REQUIRE(raw.ok());
    RawDelete(**raw, HeightKey('B', 2));
  }
  auto store = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, false);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error(),
             Catch::Contains("head block 2 is missing") && Catch::Contains(dir.Sub("chain")));
}

TEST_CASE("Open of a LevelDB store with damaged files reports corruption",
          "[store][chain][leveldb]") {
  ChainFixture fx;
  TempDir dir;
  const std::string path = dir.Sub("chain");
  {
    auto store = OpenChainStore(path, fx.genesis, fx.genesis_state, true);
    REQUIRE(store.ok());
    CommitBlocks(**store, fx, 3, /*txs=*/20);
  }
  // Data still sits in the write-ahead log; one more open and close moves it into a table.
  std::string damaged_ext = ".log";
  SECTION("write-ahead log damaged") {}
  SECTION("table file damaged") {
    damaged_ext = ".ldb";
    REQUIRE(OpenChainStore(path, fx.genesis, fx.genesis_state, false).ok());
  }
  int damaged = 0;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    if (e.path().extension() != damaged_ext || e.file_size() < 256) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    for (std::streamoff at = 7; at < static_cast<std::streamoff>(e.file_size()); at += 61) {
      f.seekg(at);
      char c = 0;
      f.get(c);
      f.seekp(at);
      f.put(static_cast<char>(c ^ 0x5a));
    }
    ++damaged;
  }
  INFO("damaged " << damaged_ext);
  REQUIRE(damaged > 0);
  auto store = OpenChainStore(path, fx.genesis, fx.genesis_state, false);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error(), Catch::Contains("corrupt") && Catch::Contains(path));
}

TEST_CASE("Commit refuses a block that does not extend the head, and the head stays",
          "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  BuiltBlock b1 = fx.NextBlock(*store, fx.genesis.header, 3);
  REQUIRE(store->Commit(b1.block, b1.exec).ok());
  const Head head = store->head();

  Status again = store->Commit(b1.block, b1.exec);
  CHECK_THAT(again.message(), Catch::Contains("height does not follow head 1"));

  BuiltBlock b2 = fx.NextBlock(*store, b1.block.header, 3);
  BuiltBlock skip = b2;
  skip.block.header.height = 3;
  CHECK_THAT(store->Commit(skip.block, skip.exec).message(),
             Catch::Contains("height does not follow head 1"));

  BuiltBlock fork = b2;
  fork.block.header.prev_hash = fx.genesis.Hash();
  CHECK_THAT(store->Commit(fork.block, fork.exec).message(),
             Catch::Contains("prev_hash") && Catch::Contains("is not the head hash"));

  ExecResult other_exec = b1.exec;  // b1's execution does not belong to b2
  CHECK_THAT(store->Commit(b2.block, other_exec).message(), Catch::Contains("state_root"));

  ExecResult short_exec = b2.exec;
  short_exec.receipts.pop_back();
  CHECK_THAT(store->Commit(b2.block, short_exec).message(),
             Catch::Contains("does not match the block's 3 transactions"));

  WriteBatch bad_extra;
  bad_extra.Put(HeightKey('B', 9), Bytes{1});
  CHECK_THAT(store->Commit(b2.block, b2.exec, true, &bad_extra).message(),
             Catch::Contains("extra write"));

  CHECK(store->head().hash == head.hash);
  CHECK(store->head().height == 1);
  auto none = store->BlockAt(2);
  REQUIRE(none.ok());
  CHECK_FALSE(none.value());

  // The right block still commits, with the caller's extra writes in the same batch.
  WriteBatch extra;
  extra.Put(Bytes{'C', 'v'}, Bytes{7});
  REQUIRE(store->Commit(b2.block, b2.exec, true, &extra).ok());
  auto got = store->kv().Get(Bytes{'C', 'v'});
  REQUIRE(got.ok());
  CHECK(got.value() == Bytes{7});
  CHECK(AuditStore(*store, fx).ok());
}

TEST_CASE("an unsynced commit is lost on a power cut and the store reopens at the synced head",
          "[store][chain][memory]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  auto synced = CommitBlocks(*store, fx, 2, 4, /*sync=*/true);
  auto unsynced = CommitBlocks(*store, fx, 1, 4, /*sync=*/false);
  CHECK(store->head().height == 3);
  store.reset();
  kv.DropUnsynced();

  store = OpenMemory(kv, fx);
  CHECK(store->head().height == 2);
  CHECK(store->head().hash == synced[1].block.Hash());
  auto lost = store->FindTx(unsynced[0].exec.tx_hashes[0]);
  REQUIRE(lost.ok());
  CHECK_FALSE(lost.value());
  Status audit = AuditStore(*store, fx);
  INFO(audit.message());
  CHECK(audit.ok());
  // The chain goes on from the synced head.
  CommitBlocks(*store, fx, 1);
  CHECK(store->head().height == 3);
}

TEST_CASE("a stored account that does not decode reads as absent and is reported",
          "[store][chain]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  CHECK(store->StateReadError().ok());
  RawPut(kv, PrefixedKey('S', AccountKey(fx.accounts[0].public_key())), Bytes{0xde, 0xad});

  CHECK_FALSE(store->GetAccount(fx.accounts[0].public_key()));
  CHECK_THAT(store->StateReadError().message(),
             Catch::Contains("account " + fx.accounts[0].public_key().ToHex()));
  // The audit sees the damaged entry.
  CHECK_THAT(AuditStore(*store, fx).message(), Catch::Contains("differs from the replayed"));
}

TEST_CASE("readers alongside a committer always find the block head() reports",
          "[store][chain][leveldb][threads]") {
  ChainFixture fx;
  TempDir dir;
  auto opened = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, true);
  REQUIRE(opened.ok());
  ChainStore& store = **opened;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  auto reader = [&] {
    while (!done.load()) {
      const Head h = store.head();
      auto block = store.BlockAt(h.height);
      auto receipts = store.ReceiptsAt(h.height);
      if (!block.ok() || !block.value() || block.value()->Hash() != h.hash || !receipts.ok() ||
          !receipts.value() || !store.GetAccount(fx.accounts[0].public_key())) {
        failures.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  };
  // Lets the readers run between commits, so every head they can see gets read.
  auto await_reads = [&](int more) {
    const int target = reads.load() + more;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reads.load() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  };
  std::thread r1(reader), r2(reader);
  for (int i = 0; i < 25; ++i) {
    await_reads(2);
    auto parent = store.HeaderAt(store.head().height);
    BuiltBlock b = fx.NextBlock(store, **parent, 4, static_cast<size_t>(i));
    if (!store.Commit(b.block, b.exec, /*sync=*/false).ok()) failures.fetch_add(1);
  }
  done = true;
  r1.join();
  r2.join();
  CHECK(failures.load() == 0);
  CHECK(reads.load() >= 50);
  CHECK(store.head().height == 25);
  CHECK(store.StateReadError().ok());
}

// The proofs getProof serves (ledger::ChainStore::ProveState), checked as a client would:
// with ledger::VerifyStateProof against the state_root of the header at the proof's height.
TEST_CASE("ProveState proves accounts and records present and absent, at the head and before",
          "[store][chain][state_tree]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  store->SetMemoryVersions(4);
  const Address alice = fx.accounts[0].public_key();
  const Address stranger = testkit::TestKey(77, 0x42).public_key();
  // Block 1: transfers; block 2: alice writes a record; blocks 3-4: more transfers.
  CommitBlocks(*store, fx, 1);
  {
    auto parent = store->HeaderAt(1);
    REQUIRE(parent.ok());
    const uint64_t nonce = store->GetAccount(alice)->nonce;
    BuiltBlock b = fx.NextBlock(*store, **parent,
                                {fx.Sign(fx.accounts[0], nonce, Put{Bytes{'k'}, Bytes{'v', '1'}})});
    REQUIRE(store->Commit(b.block, b.exec).ok());
  }
  CommitBlocks(*store, fx, 2);
  {
    auto parent = store->HeaderAt(4);
    REQUIRE(parent.ok());
    const uint64_t nonce = store->GetAccount(alice)->nonce;
    BuiltBlock b = fx.NextBlock(*store, **parent,
                                {fx.Sign(fx.accounts[0], nonce, Put{Bytes{'k'}, Bytes{'v', '2'}})});
    REQUIRE(store->Commit(b.block, b.exec).ok());
  }
  REQUIRE(store->head().height == 5);

  auto check = [&](const Bytes& state_key, std::optional<uint64_t> height,
                   std::optional<Bytes> expect) {
    auto p = store->ProveState(state_key, height);
    INFO(p.status().message());
    REQUIRE(p.ok());
    CHECK(p->height == height.value_or(5));
    CHECK(p->value == expect);
    auto header = store->HeaderAt(p->height);
    REQUIRE(header.ok());
    const crypto::Hash256 root = (*header)->state_root;
    const StateClaim claim = p->value ? StateClaim::Present(*p->value) : StateClaim::Absent();
    CHECK(VerifyStateProof(root, state_key, claim, p->proof).ok());
    // Any one-bit change to the proof, or to the claimed value, fails.
    for (size_t bit = 0; bit < p->proof.size() * 8; bit += 7) {
      Bytes bad = p->proof;
      bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      CHECK_FALSE(VerifyStateProof(root, state_key, claim, bad).ok());
    }
    if (p->value) {
      Bytes other = *p->value;
      other.back() ^= 1;
      CHECK_FALSE(VerifyStateProof(root, state_key, StateClaim::Present(other), p->proof).ok());
      CHECK_FALSE(VerifyStateProof(root, state_key, StateClaim::Absent(), p->proof).ok());
    }
  };
  const Bytes record = RecordKey(alice, Bytes{'k'});
  SECTION("at the head") {
    check(AccountKey(alice), std::nullopt, store->GetAccount(alice)->Encode());
    check(record, std::nullopt, Bytes{'v', '2'});
    check(AccountKey(stranger), std::nullopt, std::nullopt);
    check(RecordKey(alice, Bytes{'n', 'o'}), std::nullopt, std::nullopt);
  }
  SECTION("at an older height still in memory: the value then") {
    check(record, 4, Bytes{'v', '1'});
    check(record, 2, Bytes{'v', '1'});
    check(AccountKey(stranger), 3, std::nullopt);
  }
  SECTION("below the memory window: rebuilt from the undo records, the value then") {
    check(record, 1, std::nullopt);
    check(record, 2, Bytes{'v', '1'});
    check(AccountKey(alice), 0, fx.genesis_state.at(AccountKey(alice)));
    check(AccountKey(stranger), 1, std::nullopt);
    CHECK(store->ProveState(record, 6).code() == StatusCode::kNotFound);
  }
}

size_t UndoRecords(const KvStore& kv, uint64_t* lowest) {
  size_t n = 0;
  const uint8_t start[] = {'U'};
  const uint8_t end[] = {'V'};
  REQUIRE(kv.Scan(start, end, [&](ByteView k, ByteView) {
              uint64_t h = 0;
              for (size_t i = 1; i < 9; ++i) h = (h << 8) | k[i];
              if (n++ == 0) *lowest = h;
              return true;
            }).ok());
  return n;
}

// Retention (state_tree.retain_heights): every height in [head - retain, head] is provable,
// with the value it had then, before and after a restart; below it a typed error; the undo
// records of older heights are deleted with the commits (garbage collection).
TEST_CASE("state at every retained height stays provable and older undo records are collected",
          "[store][chain][state_tree]") {
  ChainFixture fx;
  MemoryKv kv;
  auto store = OpenMemory(kv, fx);
  store->SetMemoryVersions(2);
  constexpr uint64_t kRetain = 6;
  REQUIRE(store->SetRetainHeights(kRetain).ok());
  std::vector<Bytes> keys;
  for (const auto& a : fx.accounts) keys.push_back(AccountKey(a.public_key()));
  keys.push_back(AccountKey(testkit::TestKey(77, 0x42).public_key()));  // never exists
  // Each key's value after every height, as the store read it then.
  std::map<uint64_t, std::vector<std::optional<Bytes>>> seen;
  auto snapshot = [&](ChainStore& s) {
    std::vector<std::optional<Bytes>> values;
    for (const Bytes& k : keys) {
      Bytes stored{'S'};
      stored.insert(stored.end(), k.begin(), k.end());
      auto got = s.kv().Get(stored);
      REQUIRE(got.ok());
      values.push_back(*got);
    }
    seen[s.head().height] = values;
  };
  snapshot(*store);
  for (int i = 0; i < 12; ++i) {
    CommitBlocks(*store, fx, 1, 3 + static_cast<size_t>(i % 4));
    snapshot(*store);
  }
  auto prove_all = [&](ChainStore& s) {
    const uint64_t head = s.head().height;
    REQUIRE(head == 12);
    CHECK(s.RetainedFrom() == head - kRetain);
    for (uint64_t h = s.RetainedFrom(); h <= head; ++h) {
      auto header = s.HeaderAt(h);
      REQUIRE(header.ok());
      for (size_t i = 0; i < keys.size(); ++i) {
        auto p = s.ProveState(keys[i], h);
        INFO("height " << h << " key " << i << ": " << p.status().message());
        REQUIRE(p.ok());
        CHECK(p->value == seen[h][i]);
        const StateClaim claim = p->value ? StateClaim::Present(*p->value) : StateClaim::Absent();
        CHECK(VerifyStateProof((*header)->state_root, keys[i], claim, p->proof).ok());
      }
    }
    auto below = s.ProveState(keys[0], s.RetainedFrom() - 1);
    CHECK(below.code() == StatusCode::kNotFound);
    CHECK_THAT(below.error(), Catch::Contains("state_tree.retain_heights"));
    uint64_t lowest = 0;
    CHECK(UndoRecords(s.kv(), &lowest) == kRetain);
    CHECK(lowest == head - kRetain + 1);
  };
  prove_all(*store);
  // A restarted store holds only its head in memory: the rest is rebuilt from the records.
  MemoryKv copy;
  {
    WriteBatch all;
    REQUIRE(store->kv()
                .Scan({}, {},
                      [&](ByteView k, ByteView v) {
                        all.Put(k, v);
                        return true;
                      })
                .ok());
    REQUIRE(copy.Write(all, true).ok());
  }
  auto reopened = OpenMemory(copy, fx);
  REQUIRE(reopened->SetRetainHeights(kRetain).ok());
  prove_all(*reopened);
  // A shorter window deletes the excess at once; a longer one cannot bring it back.
  REQUIRE(reopened->SetRetainHeights(2).ok());
  CHECK(reopened->RetainedFrom() == 10);
  uint64_t lowest = 0;
  CHECK(UndoRecords(reopened->kv(), &lowest) == 2);
  CHECK(lowest == 11);
  REQUIRE(reopened->SetRetainHeights(100).ok());
  CHECK(reopened->RetainedFrom() == 10);
  CHECK(reopened->ProveState(keys[0], 9).code() == StatusCode::kNotFound);
  // Retaining nothing: the head only, and no records at all.
  REQUIRE(reopened->SetRetainHeights(0).ok());
  CommitBlocks(*reopened, fx, 2);
  CHECK(reopened->RetainedFrom() == 14);
  CHECK(UndoRecords(reopened->kv(), &lowest) == 0);
  CHECK(reopened->ProveState(keys[0], std::nullopt).ok());
}
