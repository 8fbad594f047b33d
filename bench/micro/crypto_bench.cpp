// Hashing, Merkle roots and Ed25519: the per-transaction costs under every block.
#include <benchmark/benchmark.h>

#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "tests/kit/chain_fixture.h"

namespace cairn::micro {
namespace {

using testkit::ChainFixture;

void BM_Sha256(benchmark::State& state) {
  Bytes data(static_cast<size_t>(state.range(0)), 0x5a);
  crypto::Sha256 h;
  for (auto _ : state) {
    h.Update(data);
    benchmark::DoNotOptimize(h.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(200)->Arg(1 << 20);

void BM_Sha256OneShot(benchmark::State& state) {
  Bytes data(200, 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256Of(data));
}
BENCHMARK(BM_Sha256OneShot);

void BM_MerkleRoot1000(benchmark::State& state) {
  std::vector<crypto::Hash256> leaves;
  for (uint32_t i = 0; i < 1000; ++i) {
    leaves.push_back(crypto::Sha256Of(ByteView(reinterpret_cast<const uint8_t*>(&i), sizeof i)));
  }
  for (auto _ : state) benchmark::DoNotOptimize(crypto::MerkleRoot(leaves));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_MerkleRoot1000);

void BM_Ed25519Verify(benchmark::State& state) {
  crypto::Init();
  ChainFixture chain(2, "micro-bench");
  ledger::Transaction tx = chain.Transfers(chain.GenesisMemoryState(), 1).front();
  Bytes msg = tx.SigningBytes();
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::Verify(tx.sender, msg, tx.signature));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Ed25519Verify);

void BM_Ed25519Sign(benchmark::State& state) {
  crypto::Init();
  crypto::KeyPair k = testkit::TestKey(1, testkit::kAccountKeys);
  Bytes msg(150, 0x11);
  for (auto _ : state) benchmark::DoNotOptimize(k.Sign(msg));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Ed25519Sign);

}  // namespace
}  // namespace cairn::micro
