// Snapshots (issue 17, ledger/snapshot.h): building one from a pinned store of 100k accounts
// (both passes, every chunk hashed) and verifying its chunks as a joiner does. The store is
// built once per process and shared, so the CI smoke run stays short.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "base/codec.h"
#include "ledger/kv.h"
#include "ledger/snapshot.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

namespace cairn::micro {
namespace {

constexpr uint64_t kAccounts = 100'000;

struct SharedState {
  ledger::MemoryKv kv;
  crypto::Hash256 root;
  uint64_t bytes = 0;
  ledger::Manifest manifest;
  std::map<uint32_t, Bytes> chunks;
};

const SharedState& State() {
  static const SharedState* state = [] {
    auto* s = new SharedState();
    std::vector<ledger::TreeEntry> entries;
    ledger::WriteBatch batch;
    for (uint64_t i = 0; i < kAccounts; ++i) {
      codec::Writer a;
      a.U64(i);
      const auto addr = *ledger::Address::FromBytes(crypto::Sha256Of(a.bytes()).view());
      const Bytes key = ledger::AccountKey(addr);
      const Bytes value = ledger::Account{1'000'000 + i, i % 100, ledger::Role::kMember}.Encode();
      Bytes k(1 + key.size());
      k[0] = 'S';
      std::copy(key.begin(), key.end(), k.begin() + 1);
      batch.Put(k, value);
      entries.push_back({ledger::KeyHash(key), ledger::ValueHash(value)});
    }
    (void)s->kv.Write(batch, /*sync=*/true);
    s->root = ledger::RootOf(std::move(entries));
    Bytes manifest;
    (void)ledger::BuildSnapshot(
        s->kv, 1, s->root,
        [&](uint32_t i, Bytes c) {
          s->bytes += c.size();
          s->chunks.emplace(i, std::move(c));
          return Status::Ok();
        },
        &manifest);
    s->manifest = *ledger::Manifest::Decode(manifest);
    return s;
  }();
  return *state;
}

void BM_BuildSnapshot100k(benchmark::State& st) {
  const SharedState& s = State();
  std::unique_ptr<ledger::KvSnapshot> pin = s.kv.Pin();
  for (auto _ : st) {
    Bytes manifest;
    Status built = ledger::BuildSnapshot(
        *pin, 1, s.root, [](uint32_t, Bytes) { return Status::Ok(); }, &manifest);
    if (!built.ok()) st.SkipWithError(built.message().c_str());
    benchmark::DoNotOptimize(manifest);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * s.bytes));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kAccounts));
}
BENCHMARK(BM_BuildSnapshot100k)->Unit(benchmark::kMillisecond);

void BM_VerifyChunks100k(benchmark::State& st) {
  const SharedState& s = State();
  for (auto _ : st) {
    for (const auto& [index, chunk] : s.chunks) {
      auto entries = ledger::VerifyChunk(s.manifest, index, chunk);
      if (!entries.ok()) st.SkipWithError(entries.error().c_str());
      benchmark::DoNotOptimize(entries);
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * s.bytes));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kAccounts));
  st.counters["chunks"] = static_cast<double>(s.chunks.size());
}
BENCHMARK(BM_VerifyChunks100k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cairn::micro
