// Measurements, not assertions: run with `store_test "[.benchmark]"`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include "tests/kit/chain_fixture.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::ledger;
using cairn::testkit::ChainFixture;
using cairn::testkit::TempDir;

TEST_CASE("synced LevelDB commit of 1,000-transfer blocks", "[.benchmark][store]") {
  constexpr size_t kTxs = 1000;
  constexpr int kBlocks = 30;
  // One distinct sender per transfer: each block writes 1,000 accounts, 1,000 tx index
  // entries, the block, its hash index, its receipts and the head.
  ChainFixture fx(kTxs);
  TempDir dir;
  auto store = OpenChainStore(dir.Sub("chain"), fx.genesis, fx.genesis_state, true);
  REQUIRE(store.ok());
  // Synced commits first, then the same without fsync, to split the cost.
  std::vector<double> synced_ms, unsynced_ms, encode_ms;
  size_t block_bytes = 0;
  size_t diff_entries = 0;
  for (int i = 0; i < 2 * kBlocks; ++i) {
    const bool sync = i < kBlocks;
    auto parent = (*store)->HeaderAt((*store)->head().height);
    BuiltBlock b = fx.NextBlock(**store, **parent, kTxs);
    REQUIRE(b.block.txs.size() == kTxs);
    auto e0 = std::chrono::steady_clock::now();
    block_bytes = b.block.Encode().size();
    encode_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count());
    diff_entries = b.exec.diff.size();
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE((*store)->Commit(b.block, b.exec, sync).ok());
    auto t1 = std::chrono::steady_clock::now();
    (sync ? synced_ms : unsynced_ms)
        .push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  auto summary = [](std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    std::ostringstream out;
    out << "min " << ms.front() << " ms, p50 " << ms[ms.size() / 2] << " ms, p90 "
        << ms[ms.size() * 9 / 10] << " ms, max " << ms.back() << " ms";
    return out.str();
  };
  std::cout << "commit of " << kTxs << " transfers (block " << block_bytes << " bytes, "
            << diff_entries << " state writes, " << diff_entries + kTxs + 4 << " puts), " << kBlocks
            << " blocks each:\n  synced:   " << summary(synced_ms)
            << "\n  unsynced: " << summary(unsynced_ms)
            << "\n  Block::Encode alone: " << summary(encode_ms) << std::endl;
}
