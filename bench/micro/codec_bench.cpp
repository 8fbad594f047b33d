// Canonical encoding: a transfer and a block of 1,000 transfers, both directions.
#include <benchmark/benchmark.h>

#include "tests/kit/chain_fixture.h"

namespace cairn::micro {
namespace {

using testkit::ChainFixture;

void BM_TxEncode(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(2, "micro-bench");
  ledger::Transaction tx = chain.Transfers(chain.GenesisMemoryState(), 1).front();
  for (auto _ : state) benchmark::DoNotOptimize(tx.Encode());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TxEncode);

void BM_TxDecode(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(2, "micro-bench");
  Bytes enc = chain.Transfers(chain.GenesisMemoryState(), 1).front().Encode();
  for (auto _ : state) {
    auto tx = ledger::Transaction::Decode(enc);
    if (!tx.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(tx);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["bytes"] = static_cast<double>(enc.size());
}
BENCHMARK(BM_TxDecode);

void BM_TxHash(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(2, "micro-bench");
  ledger::Transaction tx = chain.Transfers(chain.GenesisMemoryState(), 1).front();
  for (auto _ : state) benchmark::DoNotOptimize(tx.Hash());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TxHash);

void BM_BlockEncode1000(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(1000, "micro-bench");
  ledger::MemoryState s = chain.GenesisMemoryState();
  ledger::Block b = chain.NextBlock(s, chain.genesis.header, 1000).block;
  for (auto _ : state) benchmark::DoNotOptimize(b.Encode());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_BlockEncode1000)->Unit(benchmark::kMicrosecond);

void BM_BlockDecode1000(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(1000, "micro-bench");
  ledger::MemoryState s = chain.GenesisMemoryState();
  Bytes enc = chain.NextBlock(s, chain.genesis.header, 1000).block.Encode();
  for (auto _ : state) {
    auto b = ledger::Block::Decode(enc);
    if (!b.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
  state.counters["bytes"] = static_cast<double>(enc.size());
}
BENCHMARK(BM_BlockDecode1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cairn::micro
