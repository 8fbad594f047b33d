// The audit's pipeline: blocks are verified on several threads ahead of the replay, yet the
// report names the same first failure as a block-by-block check, whatever the threads, the
// page size and the timing; and the progress callbacks see the heights in order.
#include <catch2/catch.hpp>

#include "audit/audit.h"
#include "tests/audit/audit_fixture.h"

using namespace cairn;
using namespace cairn::audit;
using namespace cairn::audit::testing;

namespace {

// Transactions per block: several of the pool's tasks (32 transactions each) per block.
constexpr size_t kTxsPerBlock = 70;
constexpr uint64_t kBlocks = 12;

// A chain of kBlocks blocks above genesis in a MemoryKv: block 1 registers alice, the others
// hold kTxsPerBlock transfers from the admin to her.
struct LongChain {
  AuditChain chain;
  ledger::MemoryKv kv;  // shares its contents with the copy the ChainStore owns
  uint64_t head = 0;
  uint64_t transactions = 0;

  LongChain() {
    auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(kv),
                                          chain.genesis.Block0(), chain.genesis.InitialState());
    REQUIRE(store.ok());
    std::vector<std::vector<ledger::Transaction>> blocks;
    uint64_t nonce = 0;
    blocks.push_back(
        {chain.Tx(chain.admin, nonce++,
                  ledger::RegisterAccount{chain.alice.public_key(), ledger::Role::kMember})});
    for (uint64_t b = 2; b <= kBlocks; ++b) {
      std::vector<ledger::Transaction> txs;
      for (size_t i = 0; i < kTxsPerBlock; ++i) {
        txs.push_back(
            chain.Tx(chain.admin, nonce++, ledger::Transfer{chain.alice.public_key(), 1}));
      }
      blocks.push_back(std::move(txs));
    }
    for (const auto& txs : blocks) transactions += txs.size();
    auto h = testkit::CommitChain(**store, chain.genesis.Block0().header, std::move(blocks),
                                  chain.validator);
    REQUIRE(h.ok());
    head = *h;
  }

  // Flips a bit of the signatures of transactions `which` of block `height`, then fixes the
  // tx root and re-signs the block as its validator: only the transaction signatures are
  // wrong (and the next block's prev_hash, which a later check would find).
  void BreakSignatures(uint64_t height, std::vector<size_t> which) {
    REQUIRE(EditValue(kv, HeightKey('B', height), [&](Bytes& v) {
      auto block = ledger::Block::Decode(v);
      REQUIRE(block.ok());
      for (size_t i : which) block->txs[i].signature.data()[7] ^= 0x10;
      block->header.tx_root = block->ComputeTxRoot();
      block->Sign(chain.validator);
      v = block->Encode();
    }));
  }
};

AuditOptions Options(unsigned threads, uint64_t page) {
  AuditOptions o;
  o.verify_threads = threads;
  o.page_blocks = page;
  return o;
}

void RequireFailure(const AuditReport& r, AuditCheck check, uint64_t height) {
  INFO(Why(r));
  REQUIRE_FALSE(r.ok());
  CHECK(AuditCheckName(r.failure->check) == AuditCheckName(check));
  CHECK(r.failure->height == std::optional<uint64_t>(height));
}

}  // namespace

TEST_CASE("the pipelined audit passes an intact chain on any number of threads", "[audit]") {
  LongChain c;
  const unsigned threads = GENERATE(1u, 2u, 4u);
  const uint64_t page = GENERATE(uint64_t{1}, uint64_t{3}, uint64_t{100});
  CAPTURE(threads, page);
  AuditReport r = AuditStore(c.kv, c.chain.genesis, Options(threads, page));
  INFO(Why(r));
  REQUIRE(r.ok());
  CHECK(r.blocks == c.head + 1);
  CHECK(r.transactions == c.transactions);
  CHECK(r.store_checked);
}

TEST_CASE("the pipelined audit names the lowest bad block when a later one is bad too", "[audit]") {
  LongChain c;
  // Block 5 is verified in the same batch as block 3 (or before the replay reaches block 3):
  // its failure must not be the one reported.
  c.BreakSignatures(5, {3});
  c.BreakSignatures(3, {65, 40});
  const unsigned threads = GENERATE(1u, 2u, 4u);
  const uint64_t page = GENERATE(uint64_t{1}, uint64_t{3}, uint64_t{100});
  CAPTURE(threads, page);
  AuditReport r = AuditStore(c.kv, c.chain.genesis, Options(threads, page));
  RequireFailure(r, AuditCheck::kTxSignature, 3);
  // The lowest bad transaction of the block, whichever thread verified it.
  CHECK_THAT(r.failure->detail, Catch::StartsWith("tx 40 "));
  CHECK(r.blocks == 3);  // genesis, 1 and 2
  CHECK(r.head_height == 2);
}

TEST_CASE("the pipelined audit reports a bad signature before a later block that does not decode",
          "[audit]") {
  LongChain c;
  c.BreakSignatures(4, {69});
  REQUIRE(EditValue(c.kv, HeightKey('B', 9), [](Bytes& v) { v.resize(v.size() / 2); }));
  const unsigned threads = GENERATE(1u, 2u);
  const uint64_t page = GENERATE(uint64_t{1}, uint64_t{100});
  CAPTURE(threads, page);
  RequireFailure(AuditStore(c.kv, c.chain.genesis, Options(threads, page)),
                 AuditCheck::kTxSignature, 4);
}

TEST_CASE("the pipelined audit gives the same report on every run", "[audit]") {
  LongChain c;
  c.BreakSignatures(7, {1, 50});
  c.BreakSignatures(10, {0});
  const AuditReport first = AuditStore(c.kv, c.chain.genesis, Options(4, 2));
  RequireFailure(first, AuditCheck::kTxSignature, 7);
  for (int run = 0; run < 20; ++run) {
    const AuditReport r = AuditStore(c.kv, c.chain.genesis, Options(4, 2));
    INFO("run " << run);
    REQUIRE(r.failure.has_value());
    CHECK(r.failure->ToString() == first.failure->ToString());
    CHECK(r.blocks == first.blocks);
    CHECK(r.transactions == first.transactions);
    CHECK(r.state_root == first.state_root);
  }
}

TEST_CASE("the audit reports progress block by block, heights in order", "[audit]") {
  LongChain c;
  const unsigned threads = GENERATE(1u, 2u);
  const uint64_t page = GENERATE(uint64_t{1}, uint64_t{5}, uint64_t{100});
  CAPTURE(threads, page);
  AuditOptions opts = Options(threads, page);
  std::vector<uint64_t> heights;
  std::vector<AuditProgress> counts;
  opts.progress = [&](uint64_t height, uint64_t target) {
    CHECK(target == c.head);
    heights.push_back(height);
  };
  opts.progress_counts = [&](const AuditProgress& p) { counts.push_back(p); };
  AuditReport r = AuditStore(c.kv, c.chain.genesis, opts);
  INFO(Why(r));
  REQUIRE(r.ok());
  // Once per block, genesis included, in height order.
  REQUIRE(heights.size() == c.head + 1);
  for (uint64_t h = 0; h <= c.head; ++h) CHECK(heights[h] == h);
  REQUIRE(counts.size() == heights.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    CHECK(counts[i].height == heights[i]);
    CHECK(counts[i].target == c.head);
    CHECK(counts[i].blocks == i + 1);
    if (i > 0) CHECK(counts[i].transactions >= counts[i - 1].transactions);
  }
  CHECK(counts.back().transactions == r.transactions);
}

TEST_CASE("the audit stops reporting progress at the first failure", "[audit]") {
  LongChain c;
  c.BreakSignatures(6, {10});
  std::vector<uint64_t> heights;
  AuditOptions opts = Options(2, 4);
  opts.progress = [&](uint64_t height, uint64_t) { heights.push_back(height); };
  RequireFailure(AuditStore(c.kv, c.chain.genesis, opts), AuditCheck::kTxSignature, 6);
  REQUIRE_FALSE(heights.empty());
  CHECK(heights.back() == 5);
}
