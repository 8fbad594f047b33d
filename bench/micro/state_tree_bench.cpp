// The authenticated state tree (issue 14, core only): applying a 1,000-transfer block to the
// in-memory tree, generating proofs at the head, verifying them. The trees of 10k and 1M
// accounts are built once per process and shared (the 1M one takes ~1-2 s and ~200 MB), so
// the CI smoke run (--benchmark_min_time=0.01) stays short.
#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>

#include "base/codec.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

namespace cairn::micro {
namespace {

using crypto::Hash256;
using ledger::StateTree;

// Account i's address: any 32 bytes serve, the tree sees only SHA-256 of the state key.
ledger::Address AddressOf(uint64_t i) {
  codec::Writer w;
  w.U64(i);
  return *ledger::Address::FromBytes(crypto::Sha256Of(w.bytes()).view());
}

// A stand-in for an Account encoding of the same size class (balance, nonce, a role, a key).
Bytes AccountValue(uint64_t i, uint64_t nonce) {
  codec::Writer w;
  w.U64(1'000'000 + i).U64(nonce).U8(0).Raw(Bytes(32, static_cast<uint8_t>(i)));
  return w.Take();
}

// A tree of n accounts and its head, advanced by BM_StateTreeUpdate; `nonce` remembers the
// accounts it changed, so the proofs of later benchmarks claim the right values.
struct SharedTree {
  explicit SharedTree(uint64_t n) : accounts(n) {
    std::vector<ledger::TreeWrite> writes;
    writes.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      writes.push_back(
          {ledger::AccountKeyHash(AddressOf(i)), ledger::ValueHash(AccountValue(i, 0))});
    }
    head = tree.UpdateHashed({}, std::move(writes), 0);
  }

  Bytes Value(uint64_t i) const {
    auto it = nonce.find(i);
    return AccountValue(i, it == nonce.end() ? 0 : it->second);
  }

  // The state writes of 1,000 transfers between random accounts: 2,000 account keys (fewer
  // when two transfers share an account), each a new value (nonce = version, so never a
  // no-op write).
  ledger::StateDiff TransferBlock(std::mt19937_64& rng, uint64_t version) {
    ledger::StateDiff diff;
    for (int t = 0; t < 2000; ++t) {
      const uint64_t i = rng() % accounts;
      nonce[i] = version;
      diff[ledger::AccountKey(AddressOf(i))] = AccountValue(i, version);
    }
    return diff;
  }

  uint64_t accounts;
  uint64_t version = 0;
  std::unordered_map<uint64_t, uint64_t> nonce;
  StateTree tree;
  StateTree::View head;
};

// Built on first use, kept for the process: every benchmark of one size shares it.
SharedTree& Shared(uint64_t n) {
  static std::map<uint64_t, std::unique_ptr<SharedTree>>* trees =
      new std::map<uint64_t, std::unique_ptr<SharedTree>>();
  auto& t = (*trees)[n];
  if (!t) t = std::make_unique<SharedTree>(n);
  return *t;
}

// One block applied to the head per iteration, keeping the 16 newest views (the design's
// state_tree.memory_versions), so dropping the 17th (freeing its private nodes) is timed
// too; building the block's StateDiff is not. The benchmark takes over the shared head (so
// the nodes it replaces are freed, as at a node) and leaves its last head there.
// args: accounts, parallel (1: the root's subtrees on two threads when a block writes >= 512
// keys).
void BM_StateTreeUpdate(benchmark::State& state) {
  SharedTree& s = Shared(static_cast<uint64_t>(state.range(0)));
  s.tree.SetParallelMinWrites(state.range(1) != 0 ? 512 : SIZE_MAX);
  std::mt19937_64 rng(42);
  StateTree::View head = std::move(s.head);
  std::deque<StateTree::View> kept;
  size_t node_hashes = 0, leaf_hashes = 0, leaf_copies = 0, keys = 0;
  ledger::StateDiff diff;
  for (auto _ : state) {
    // Every block writes new values (nonce = version): a replayed value would be a no-op.
    state.PauseTiming();
    diff = s.TransferBlock(rng, ++s.version);
    state.ResumeTiming();
    ledger::TreeUpdateStats stats;
    head = s.tree.Update(head, diff, s.version, &stats);
    kept.push_back(head);
    if (kept.size() > 16) kept.pop_front();
    node_hashes += stats.node_hashes;
    leaf_hashes += stats.leaf_hashes;
    leaf_copies += stats.leaf_copies;
    keys += diff.size();
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["node_hashes"] = static_cast<double>(node_hashes) / n;
  state.counters["leaf_hashes"] = static_cast<double>(leaf_hashes) / n;
  state.counters["leaf_copies"] = static_cast<double>(leaf_copies) / n;
  state.counters["keys"] = static_cast<double>(keys) / n;
  state.counters["live_nodes"] = static_cast<double>(s.tree.LiveNodes());
  kept.clear();
  s.head = std::move(head);
  state.counters["live_head"] = static_cast<double>(s.tree.LiveNodes());
  s.tree.SetParallelMinWrites(512);
}
BENCHMARK(BM_StateTreeUpdate)
    ->Args({10'000, 0})
    ->Args({10'000, 1})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->Unit(benchmark::kMillisecond);

// Page emission for one 1,000-transfer block (section 3): the records a commit would write
// (root record, pages and leaves of the new version) and its StaleList. The update itself is
// not timed; the batch is reused across blocks. arg: accounts.
void BM_StateTreeEmit(benchmark::State& state) {
  SharedTree& s = Shared(static_cast<uint64_t>(state.range(0)));
  std::mt19937_64 rng(43);
  StateTree::View head = std::move(s.head);
  size_t pages = 0, leaves = 0, stale = 0;
  ledger::TreeBatch batch;  // reused across blocks, as a store would
  for (auto _ : state) {
    state.PauseTiming();
    const ledger::StateDiff diff = s.TransferBlock(rng, ++s.version);
    StateTree::View next = s.tree.Update(head, diff, s.version);
    state.ResumeTiming();
    s.tree.Emit(head, s.version - 1, next, s.version, &batch);
    for (const auto& [key, record] : batch.records) {
      (record.kind == ledger::TreeRecord::Kind::kLeaf ? leaves : pages) += 1;
    }
    stale += batch.stale.size();
    state.PauseTiming();
    head = std::move(next);
    state.ResumeTiming();
  }
  s.head = std::move(head);
  const auto n = static_cast<double>(state.iterations());
  state.counters["pages"] = static_cast<double>(pages) / n;  // the root record included
  state.counters["leaves"] = static_cast<double>(leaves) / n;
  state.counters["stale"] = static_cast<double>(stale) / n;
}
BENCHMARK(BM_StateTreeEmit)->Arg(10'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// A proof of a present (arg 0) or absent (arg 1) account at the head of 1M accounts.
void BM_StateProve(benchmark::State& state) {
  SharedTree& s = Shared(1'000'000);
  std::mt19937_64 rng(7);
  std::vector<Bytes> keys;
  for (int i = 0; i < 1024; ++i) {
    const uint64_t a = state.range(0) == 0 ? rng() % s.accounts : s.accounts + rng() % 1000000;
    keys.push_back(ledger::AccountKey(AddressOf(a)));
  }
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    Bytes proof = s.tree.Prove(s.head, keys[i++ % keys.size()]);
    bytes += proof.size();
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["proof_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_StateProve)->Arg(0)->Arg(1);

// Verifying a proof of a present account (arg 0: the claim's value hashed too) or an absent
// one (arg 1) against the root of 1M accounts.
void BM_VerifyStateProof(benchmark::State& state) {
  SharedTree& s = Shared(1'000'000);
  const Hash256 root = StateTree::Root(s.head);
  const bool absent = state.range(0) != 0;
  std::mt19937_64 rng(9);
  struct Case {
    Bytes key, value, proof;
  };
  std::vector<Case> cases;
  size_t total_bytes = 0;
  for (int i = 0; i < 1024; ++i) {
    const uint64_t a = absent ? s.accounts + rng() % 1000000 : rng() % s.accounts;
    Case c{ledger::AccountKey(AddressOf(a)), s.Value(a), {}};
    c.proof = s.tree.Prove(s.head, c.key);
    total_bytes += c.proof.size();
    cases.push_back(std::move(c));
  }
  size_t i = 0;
  for (auto _ : state) {
    const Case& c = cases[i++ % cases.size()];
    const ledger::StateClaim claim =
        absent ? ledger::StateClaim::Absent() : ledger::StateClaim::Present(c.value);
    Status st = ledger::VerifyStateProof(root, c.key, claim, c.proof);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["proof_bytes"] = static_cast<double>(total_bytes) / 1024.0;
}
BENCHMARK(BM_VerifyStateProof)->Arg(0)->Arg(1);

// Building the tree of n accounts from nothing (the naive Build the audit uses, through the
// arena), key and value hashes included: what a node pays to load a state without pages.
void BM_StateTreeBuild(benchmark::State& state) {
  const auto n = static_cast<uint64_t>(state.range(0));
  std::vector<ledger::TreeWrite> writes;
  for (uint64_t i = 0; i < n; ++i) {
    writes.push_back({ledger::AccountKeyHash(AddressOf(i)), ledger::ValueHash(AccountValue(i, 0))});
  }
  StateTree tree;
  for (auto _ : state) {
    StateTree::View v = tree.UpdateHashed({}, writes, 0);
    benchmark::DoNotOptimize(StateTree::Root(v));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_StateTreeBuild)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cairn::micro
