// Whole nodes in one process (NodeCore on MemoryKv, a fake network, a manual clock): what a
// user of the chain sees — transactions committed everywhere, the same chain on every node,
// invalid blocks refused and their sender dropped, laggards catching up — without processes.
#include <catch2/catch.hpp>

#include "node/block_cache.h"
#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::TestNetwork;

void CheckSameChain(TestNetwork& net) {
  const ledger::Head h0 = net.node(0).store->head();
  for (size_t i = 1; i < net.size(); ++i) {
    const uint64_t common = std::min(h0.height, net.node(i).store->head().height);
    auto a = net.node(0).store->HeaderAt(common);
    auto b = net.node(i).store->HeaderAt(common);
    INFO("node " << i << " at height " << common << ": " << a.status().message() << " / "
                 << b.status().message());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(a->has_value());
    REQUIRE(b->has_value());
    CHECK((*a)->Hash() == (*b)->Hash());
  }
}

TEST_CASE("in-process raft: transactions sent to a follower commit on every node",
          "[node][inproc]") {
  for (uint64_t seed : {1, 2, 3}) {
    INFO("seed " << seed);
    TestNetwork net(genesis::ConsensusKind::kRaft, 3, 0, seed);
    net.Start();
    REQUIRE(net.RunUntil([&] {
      for (size_t i = 0; i < net.size(); ++i) {
        if (net.node(i).core->api().GetStatus().role == "leader") return true;
      }
      return false;
    }));
    // Every node, leader or not, admits and gossips.
    SendTransfers(net, 0, 0, 50);
    net.Step();  // node 1 hears of nonces 0..49 by gossip, so 50.. follow without a gap
    SendTransfers(net, 1, 50, 50);
    REQUIRE(net.RunUntil([&] {
      for (size_t i = 0; i < net.size(); ++i) {
        if (BalanceOf(net, i, net.bob().public_key()) != 100) return false;
      }
      return true;
    }));
    CheckSameChain(net);
    for (size_t i = 0; i < net.size(); ++i) {
      CHECK(net.node(i).halted.ok());
      CHECK(net.node(i).core->api().GetStatus().mempool_size == 0);
    }
  }
}

TEST_CASE("in-process bft: four validators commit certified blocks", "[node][inproc]") {
  TestNetwork net(genesis::ConsensusKind::kBft, 4);
  net.Start();
  SendTransfers(net, 2, 0, 20);
  REQUIRE(net.RunUntil([&] {
    for (size_t i = 0; i < net.size(); ++i) {
      if (BalanceOf(net, i, net.bob().public_key()) != 20) return false;
    }
    return true;
  }));
  CheckSameChain(net);
  for (size_t i = 0; i < net.size(); ++i) {
    const uint64_t head = net.node(i).store->head().height;
    REQUIRE(head >= 1);
    for (uint64_t h = 1; h <= head; ++h) {
      auto cert = net.node(i).core->api().GetCertificate(h);
      REQUIRE(cert.ok());
      REQUIRE(cert->has_value());
      CHECK((*cert)->signers.size() >= 3);
    }
    CHECK(net.node(i).halted.ok());
  }
}

TEST_CASE("in-process: an observer that joins late catches up by block sync", "[node][inproc]") {
  TestNetwork net(genesis::ConsensusKind::kRaft, 3, /*observers=*/1);
  // Start everyone but keep the observer (node 3) disconnected while blocks commit.
  for (size_t i = 0; i < net.size(); ++i) REQUIRE(net.node(i).core->Start().ok());
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) net.Connect(i, j);
  }
  net.RunUntil([&] { return false; }, 40);  // elect a leader
  SendTransfers(net, 0, 0, 30);
  REQUIRE(net.RunUntil([&] { return BalanceOf(net, 0, net.bob().public_key()) == 30; }));
  CHECK(net.node(3).store->head().height == 0);
  for (size_t i = 0; i < 3; ++i) net.Connect(i, 3);
  REQUIRE(net.RunUntil([&] { return BalanceOf(net, 3, net.bob().public_key()) == 30; }));
  CheckSameChain(net);
  CHECK(net.node(3).core->api().GetStatus().role == "observer");
}

TEST_CASE("in-process: a node behind peers that pruned the blocks it needs does not ask in a loop",
          "[node][inproc]") {
  TestNetwork net(genesis::ConsensusKind::kBft, 4, /*observers=*/1);
  const size_t observer = 4;
  for (size_t i = 0; i < 4; ++i) REQUIRE(net.node(i).store->SetRetainBlocks(2).ok());
  for (size_t i = 0; i < net.size(); ++i) REQUIRE(net.node(i).core->Start().ok());
  for (size_t i = 0; i < 4; ++i) {
    for (size_t j = i + 1; j < 4; ++j) net.Connect(i, j);
  }
  for (uint64_t round = 0; round < 6; ++round) {
    SendTransfers(net, 0, round * 2, 2);
    REQUIRE(
        net.RunUntil([&] { return BalanceOf(net, 0, net.bob().public_key()) == (round + 1) * 2; }));
  }
  REQUIRE(net.node(0).store->BlocksFrom() > 1);  // block 1 is pruned everywhere
  for (size_t i = 0; i < 4; ++i) net.Connect(i, observer);
  // 10 s of ticks: each validator is asked once, answers nothing, and is not asked again
  // before kLacksRetryMs (30 s); before the fix this was a request loop inside one Pump.
  for (int i = 0; i < 200; ++i) net.Step();
  CHECK(net.node(observer).store->head().height == 0);
  CHECK(net.node(observer).halted.ok());
  const size_t asked = net.hub().sent[{net.id(observer), wire::kGetBlocks}];
  INFO("GetBlocks sent by the observer: " << asked);
  CHECK(asked >= 1);
  CHECK(asked <= 4);
}

TEST_CASE("in-process: a block breaking a rule is refused and its sender dropped",
          "[node][inproc]") {
  TestNetwork net(genesis::ConsensusKind::kRaft, 3, /*observers=*/1);
  net.Start();
  SendTransfers(net, 0, 0, 5);
  REQUIRE(net.RunUntil([&] { return net.MinHeight() >= 1; }));
  // Validator 0 pushes a forged next block to the observer: a committed block relabelled as
  // the next one, which its proposer never signed.
  auto next_height = net.node(3).store->head().height + 1;
  auto block = net.node(0).store->BlockAt(next_height - 1);
  REQUIRE(block.ok());
  REQUIRE(block->has_value());
  ledger::Block forged = **block;
  forged.header.height = next_height;
  forged.header.prev_hash = net.node(3).store->head().hash;
  net.hub().disconnects.clear();
  std::vector<wire::CertifiedBlock> one{{forged.Encode(), {}}};
  REQUIRE(net.node(3).core->OnMessage(net.id(0), wire::kNewBlock, wire::EncodeBlocks(one)).ok());
  CHECK(net.node(3).store->head().height == next_height - 1);
  REQUIRE(net.hub().disconnects.size() == 1);
  CHECK(net.hub().disconnects[0].first == net.id(0));
  CHECK(net.hub().disconnects[0].second == "sent an invalid block");
}

TEST_CASE("block cache: one eviction rule, oldest first, and committed heights are dead",
          "[node]") {
  BlockCache cache;
  auto entry = [](uint64_t height) {
    BlockCache::Entry e;
    e.block.header.height = height;
    return e;
  };
  std::vector<crypto::Hash256> hashes;
  for (uint64_t i = 0; i < BlockCache::kCapacity + 3; ++i) {
    crypto::Hash256 h = crypto::Sha256Of(Bytes{static_cast<uint8_t>(i)});
    hashes.push_back(h);
    cache.Add(h, entry(10 + i));
  }
  CHECK(cache.size() == BlockCache::kCapacity);
  CHECK_FALSE(cache.Contains(hashes[0]));
  CHECK_FALSE(cache.Contains(hashes[2]));
  CHECK(cache.Contains(hashes[3]));
  CHECK(cache.Take(hashes[3]).has_value());
  CHECK_FALSE(cache.Contains(hashes[3]));
  cache.PruneThrough(20);
  for (size_t i = 0; i < hashes.size(); ++i) {
    CHECK(cache.Contains(hashes[i]) == (10 + i > 20));
  }
}

}  // namespace
}  // namespace cairn::node
