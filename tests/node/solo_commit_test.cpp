// A solo validator commits on arrival: transactions admitted into its mempool wake its loop,
// which proposes and commits them at once when its last block is applied and only a few wait
// (fewer than max_block_txs / 8), instead of waiting for the block interval. A backlog, empty
// blocks and the other engines keep the interval. NodeCores on a manual clock: no time passes
// unless a test says so.
#include <catch2/catch.hpp>

#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::TestNetwork;

constexpr uint64_t kLongIntervalMs = 60'000;

void LongInterval(config::NodeConfig& c) { c.block_interval_ms = kLongIntervalMs; }

// Submits one transfer of `amount` from admin to bob through node `via`; it must be admitted.
void Pay(TestNetwork& net, size_t via, uint64_t nonce, uint64_t amount) {
  ledger::Admission a = net.node(via).core->api().SubmitTransaction(
      net.Transfer(net.admin(), nonce, net.bob().public_key(), amount));
  INFO(a.detail);
  REQUIRE(a.ok());
}

uint64_t Height(TestNetwork& net, size_t i) { return net.node(i).store->head().height; }

// The transfers of the block at `height` on node `i`, by amount.
std::vector<uint64_t> AmountsAt(TestNetwork& net, size_t i, uint64_t height) {
  auto block = net.node(i).store->BlockAt(height);
  REQUIRE(block.ok());
  REQUIRE(block->has_value());
  std::vector<uint64_t> out;
  for (const ledger::Transaction& tx : (*block)->txs) {
    out.push_back(std::get<ledger::Transfer>(tx.payload).amount);
  }
  return out;
}

TEST_CASE("solo: a transaction into an empty mempool is committed at once, not after the interval",
          "[node][solo]") {
  TestNetwork net(genesis::ConsensusKind::kSolo, 1, 0, 1, LongInterval);
  int wakes = 0;
  net.node(0).core->set_arrival_wake([&wakes] { ++wakes; });
  net.Start();
  net.Step();
  REQUIRE(Height(net, 0) == 0);

  // Admission wakes the loop; the loop's wake proposes and commits, with no time passing.
  Pay(net, 0, 0, 7);
  CHECK(wakes == 1);
  CHECK(Height(net, 0) == 0);  // nothing runs on the RPC thread but admission
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 1);
  CHECK(AmountsAt(net, 0, 1) == std::vector<uint64_t>{7});
  CHECK(net.node(0).core->api().GetStatus().mempool_size == 0);

  // Right after a block too: the interval does not hold a waiting transaction back.
  Pay(net, 0, 1, 8);
  Pay(net, 0, 2, 9);
  CHECK(wakes == 3);
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 2);
  CHECK(AmountsAt(net, 0, 2) == std::vector<uint64_t>{8, 9});  // what waited, in one block

  // A wake that finds nothing (its transactions already went in a block) proposes nothing.
  REQUIRE(net.node(0).core->OnArrival().ok());
  CHECK(Height(net, 0) == 2);

  // A refused transaction does not wake the loop.
  ledger::Transaction replay = net.Transfer(net.admin(), 0, net.bob().public_key(), 7);
  CHECK_FALSE(net.node(0).core->api().SubmitTransaction(replay).ok());
  CHECK(wakes == 3);

  // An idle validator makes no blocks, for intervals on end.
  for (int i = 0; i < 5; ++i) net.Step(kLongIntervalMs);
  CHECK(Height(net, 0) == 2);
  CHECK(net.node(0).halted.ok());
}

TEST_CASE("solo: a backlog waits for the interval, so blocks under load stay big", "[node][solo]") {
  // At most 40 transactions a block: fewer than 40 / 8 = 5 waiting are committed at once.
  TestNetwork net(genesis::ConsensusKind::kSolo, 1, 0, 1, [](config::NodeConfig& c) {
    c.block_interval_ms = 1000;
    c.max_block_txs = 40;
  });
  net.Start();
  for (uint64_t n = 0; n < 4; ++n) Pay(net, 0, n, 1);
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 1);

  // Five at once is a backlog: they wait for the interval, then go in one block.
  for (uint64_t n = 4; n < 9; ++n) Pay(net, 0, n, 2);
  REQUIRE(net.node(0).core->OnArrival().ok());
  CHECK(Height(net, 0) == 1);
  for (int i = 0; i < 19; ++i) net.Step();  // 950 ms
  CHECK(Height(net, 0) == 1);
  net.Step();  // the interval has passed
  REQUIRE(Height(net, 0) == 2);
  CHECK(AmountsAt(net, 0, 2) == std::vector<uint64_t>(5, 2));

  // A full block does not wait.
  for (uint64_t n = 9; n < 49; ++n) Pay(net, 0, n, 3);
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 3);
  CHECK(AmountsAt(net, 0, 3).size() == 40);
}

TEST_CASE("solo: without a wake, the next tick proposes what waits", "[node][solo]") {
  // A node whose loop missed a wake (or an embedding with none) still commits on its tick.
  TestNetwork net(genesis::ConsensusKind::kSolo, 1, 0, 1, LongInterval);
  net.Start();
  Pay(net, 0, 0, 5);
  CHECK(Height(net, 0) == 0);
  net.Step();
  REQUIRE(Height(net, 0) == 1);
  CHECK(AmountsAt(net, 0, 1) == std::vector<uint64_t>{5});
}

TEST_CASE("solo: a transaction an observer relays wakes the validator", "[node][solo]") {
  TestNetwork net(genesis::ConsensusKind::kSolo, 1, /*observers=*/1, 1, LongInterval);
  int validator_wakes = 0, observer_wakes = 0;
  net.node(0).core->set_arrival_wake([&] { ++validator_wakes; });
  net.node(1).core->set_arrival_wake([&] { ++observer_wakes; });
  net.Start();
  net.Pump();

  Pay(net, 1, 0, 3);
  CHECK(observer_wakes == 0);              // an observer proposes nothing
  REQUIRE(net.node(1).core->Tick().ok());  // flushes its gossip, with no time passing
  net.Pump();
  CHECK(validator_wakes == 1);
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 1);
  CHECK(AmountsAt(net, 0, 1) == std::vector<uint64_t>{3});
}

TEST_CASE("solo: with empty_blocks, empty blocks keep the interval", "[node][solo]") {
  TestNetwork net(genesis::ConsensusKind::kSolo, 1, 0, 1, [](config::NodeConfig& c) {
    c.block_interval_ms = 1000;
    c.empty_blocks = true;
  });
  net.Start();
  // 50 ms ticks for 2.5 s, and a wake at each: an empty block at 1 s and at 2 s only.
  for (int i = 0; i < 50; ++i) {
    net.Step();
    REQUIRE(net.node(0).core->OnArrival().ok());
  }
  CHECK(Height(net, 0) == 2);
  CHECK(AmountsAt(net, 0, 1).empty());
  // A transaction is still committed at once, between two empty blocks.
  Pay(net, 0, 0, 4);
  REQUIRE(net.node(0).core->OnArrival().ok());
  REQUIRE(Height(net, 0) == 3);
  CHECK(AmountsAt(net, 0, 3) == std::vector<uint64_t>{4});
}

TEST_CASE("raft: admission does not wake the loop, the leader keeps its block interval",
          "[node][solo]") {
  TestNetwork net(genesis::ConsensusKind::kRaft, 3, 0, 1, LongInterval);
  int wakes = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    net.node(i).core->set_arrival_wake([&wakes] { ++wakes; });
  }
  net.Start();
  size_t leader = net.size();
  REQUIRE(net.RunUntil([&] {
    for (size_t i = 0; i < net.size(); ++i) {
      if (net.node(i).core->api().GetStatus().role == "leader") leader = i;
    }
    return leader < net.size();
  }));
  const uint64_t h = Height(net, leader);
  Pay(net, leader, 0, 6);
  CHECK(wakes == 0);
  REQUIRE(net.node(leader).core->OnArrival().ok());
  net.Step();
  CHECK(Height(net, leader) == h);  // waits for the interval
}

}  // namespace
}  // namespace cairn::node
