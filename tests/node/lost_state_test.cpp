// A validator whose consensus state ('C' 'h') is deleted or damaged, in one process: it refuses
// to start while the chain shows it signed, saying why and how to recover; with the operator's
// override it starts clean but signs nothing until the others have committed the height it
// may have voted at, and no validator is ever caught equivocating.
#include <catch2/catch.hpp>

#include "node/wire.h"
#include "tests/node/node_harness.h"

namespace cairn::node {
namespace {

using testing::TestNetwork;
using testing::TestNode;

const Bytes kHardStateKey = {'C', 'h'};

// Forwards to a node's FakeNetwork and counts the consensus messages it sends.
class CountingNetwork final : public Network {
 public:
  explicit CountingNetwork(Network& base) : base_(base) {}
  Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) override {
    if (type == wire::kConsensus) ++consensus_sent;
    return base_.Send(to, type, std::move(payload));
  }
  void Broadcast(p2p::MessageType type, Bytes payload) override {
    if (type == wire::kConsensus) ++consensus_sent;
    base_.Broadcast(type, std::move(payload));
  }
  void Disconnect(const p2p::NodeId& peer, const std::string& why) override {
    base_.Disconnect(peer, why);
  }
  bool IsConnected(const p2p::NodeId& peer) const override { return base_.IsConnected(peer); }
  std::vector<p2p::PeerInfo> Peers() const override { return base_.Peers(); }

  size_t consensus_sent = 0;

 private:
  Network& base_;
};

// Transfers of 1 from admin to bob, one per call, through whichever node is given.
struct Traffic {
  TestNetwork& net;
  uint64_t nonce = 0;
  void Send(size_t via) {
    auto tx = net.Transfer(net.admin(), nonce++, net.bob().public_key(), 1);
    for (const ledger::Admission& a : net.node(via).core->api().SubmitTransactions({tx})) {
      INFO(a.detail);
      REQUIRE(a.ok());
    }
  }
};

void Isolate(TestNetwork& net, size_t i) {
  for (size_t j = 0; j < net.size(); ++j) {
    if (j != i) net.hub().Cut(net.id(i), net.id(j));
  }
}

void Rejoin(TestNetwork& net, size_t i) {
  for (size_t j = 0; j < net.size(); ++j) {
    if (j != i) net.Connect(i, j);
  }
}

void EditHardState(TestNetwork& net, size_t i, std::optional<Bytes> value) {
  ledger::WriteBatch b;
  if (value) {
    b.Put(kHardStateKey, *value);
  } else {
    b.Delete(kHardStateKey);
  }
  REQUIRE(net.node(i).store->kv().Write(b, /*sync=*/true).ok());
}

// Replaces node i's core with a fresh one on the same store (a restart), on `network`.
Status Restart(TestNetwork& net, size_t i, Network& network, bool allow_lost_state) {
  TestNode& n = net.node(i);
  NodeHooks hooks;
  hooks.allow_lost_consensus_state = allow_lost_state;
  n.core = std::make_unique<NodeCore>(n.config, net.genesis(), n.key, *n.store, network,
                                      net.clock(), hooks);
  return n.core->Start();
}

void CheckSameChain(TestNetwork& net) {
  for (size_t i = 1; i < net.size(); ++i) {
    const uint64_t common =
        std::min(net.node(0).store->head().height, net.node(i).store->head().height);
    auto a = net.node(0).store->HeaderAt(common);
    auto b = net.node(i).store->HeaderAt(common);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(a->has_value());
    REQUIRE(b->has_value());
    CHECK((*a)->Hash() == (*b)->Hash());
  }
}

// Whether validator `v` signed the certificate of some block above `height` on node `on`.
bool SignedAbove(TestNetwork& net, size_t on, uint32_t v, uint64_t height) {
  for (uint64_t h = height + 1; h <= net.node(on).store->head().height; ++h) {
    auto cert = net.node(on).core->api().GetCertificate(h);
    if (!cert.ok() || !cert->has_value()) continue;
    for (const auto& s : (*cert)->signers) {
      if (s.validator == v) return true;
    }
  }
  return false;
}

// A BFT network of four in which validator 3 has signed blocks and then stopped.
struct BftWithSigner {
  TestNetwork net{genesis::ConsensusKind::kBft, 4};
  Traffic traffic{net};
  uint64_t head = 0;  // node 3's head when it stopped

  BftWithSigner() {
    net.Start();
    // Until validator 3's precommit is in a certificate on its own store.
    REQUIRE(net.RunUntil([&] {
      if (SignedAbove(net, 3, 3, 0) && net.MinHeight() >= 4) return true;
      traffic.Send(0);
      return false;
    }));
    Isolate(net, 3);
    head = net.node(3).store->head().height;
  }
};

TEST_CASE("bft: a validator whose consensus state was deleted refuses to start, and says why",
          "[node][inproc][lost_state]") {
  BftWithSigner f;
  TestNetwork& net = f.net;
  EditHardState(net, 3, std::nullopt);

  Status s = Restart(net, 3, *net.node(3).net, /*allow_lost_state=*/false);
  REQUIRE_FALSE(s.ok());
  INFO(s.message());
  CHECK(s.code() == StatusCode::kRejected);
  CHECK_THAT(s.message(), Catch::StartsWith("consensus state lost: the engine record of this "
                                            "validator (store key 'C' 'h') is missing"));
  CHECK_THAT(s.message(), Catch::Contains("validator 3 has signed (it signed the commit "
                                          "certificate of block"));
  const std::string floor = std::to_string(f.head + 1);
  CHECK_THAT(s.message(), Catch::Contains("It may have voted at height " + floor));
  CHECK_THAT(s.message(), Catch::Contains("--i-know-this-may-double-sign"));
  CHECK_THAT(s.message(), Catch::Contains("signs nothing until its ledger holds height " + floor));
  CHECK_THAT(s.message(), Catch::Contains("docs/CONSENSUS.md"));
  // Refusing wrote nothing: a second start refuses the same way.
  CHECK_FALSE(Restart(net, 3, *net.node(3).net, false).ok());
}

TEST_CASE("bft: a damaged consensus record is refused as unreadable",
          "[node][inproc][lost_state]") {
  BftWithSigner f;
  EditHardState(f.net, 3, Bytes{0x01, 0x02, 0x03});
  Status s = Restart(f.net, 3, *f.net.node(3).net, false);
  REQUIRE_FALSE(s.ok());
  INFO(s.message());
  CHECK_THAT(s.message(),
             Catch::Contains("(store key 'C' 'h') is unreadable (bft state: bft restart"));
  CHECK_THAT(s.message(), Catch::Contains("its engine record exists"));
}

TEST_CASE("bft: with the override, a validator that lost its state signs only past its floor",
          "[node][inproc][lost_state]") {
  BftWithSigner f;
  TestNetwork& net = f.net;
  EditHardState(net, 3, std::nullopt);
  // The other three commit more blocks while it is away: past the height it may have voted at.
  REQUIRE(net.RunUntil([&] {
    if (net.node(0).store->head().height >= f.head + 3) return true;
    f.traffic.Send(0);
    return false;
  }));

  CountingNetwork counting(*net.node(3).net);
  REQUIRE(Restart(net, 3, counting, /*allow_lost_state=*/true).ok());
  CHECK(counting.consensus_sent == 0);
  CHECK(net.node(3).store->kv().Get(kHardStateKey)->has_value() == false);
  Rejoin(net, 3);
  // It catches up by block sync, sending no vote while its ledger is at or below its floor.
  REQUIRE(net.RunUntil([&] {
    if (net.node(3).store->head().height <= f.head) CHECK(counting.consensus_sent == 0);
    return net.node(3).store->head().height > f.head;
  }));
  // Then it takes part again: its precommits reach certificates above the floor.
  REQUIRE(net.RunUntil([&] {
    if (SignedAbove(net, 0, 3, f.head + 1)) return true;
    f.traffic.Send(0);
    return false;
  }));
  CHECK(counting.consensus_sent > 0);
  CheckSameChain(net);
  for (size_t i = 0; i < net.size(); ++i) {
    CHECK(net.node(i).halted.ok());
    CHECK(net.node(i).core->api().GetEvidence().empty());
  }
  // Its new state is on disk: a later restart needs no override.
  Isolate(net, 3);
  CHECK(Restart(net, 3, *net.node(3).net, false).ok());
}

TEST_CASE("bft: with the override and no quorum without it, it signs after the documented wait",
          "[node][inproc][lost_state]") {
  BftWithSigner f;
  TestNetwork& net = f.net;
  EditHardState(net, 3, std::nullopt);
  Isolate(net, 2);  // two of four left: nothing commits without validator 3
  CountingNetwork counting(*net.node(3).net);
  REQUIRE(Restart(net, 3, counting, /*allow_lost_state=*/true).ok());
  for (size_t j : {0, 1}) net.Connect(3, j);
  for (uint64_t t = 0; t + 1 < EngineDriver::kLostStateWaitTicks; ++t) net.Step();
  CHECK(counting.consensus_sent == 0);
  f.traffic.Send(0);
  const uint64_t before = net.node(0).store->head().height;
  REQUIRE(net.RunUntil([&] { return net.node(0).store->head().height > before; }));
  CHECK(counting.consensus_sent > 0);
  CheckSameChain(net);
}

TEST_CASE("raft: a validator whose term and vote were deleted refuses to start",
          "[node][inproc][lost_state]") {
  TestNetwork net(genesis::ConsensusKind::kRaft, 3);
  Traffic traffic{net};
  net.Start();
  REQUIRE(net.RunUntil([&] {
    if (net.MinHeight() >= 3) return true;
    for (size_t i = 0; i < net.size(); ++i) {
      if (net.node(i).core->api().GetStatus().role == "leader") traffic.Send(i);
    }
    return false;
  }));
  size_t follower = 0;
  while (net.node(follower).core->api().GetStatus().role == "leader") ++follower;
  Isolate(net, follower);
  EditHardState(net, follower, std::nullopt);

  Status s = Restart(net, follower, *net.node(follower).net, false);
  REQUIRE_FALSE(s.ok());
  INFO(s.message());
  CHECK_THAT(s.message(), Catch::Contains("'C' 'h') is missing"));
  CHECK_THAT(s.message(), Catch::Contains("committed by Raft, whose elections every validator "
                                          "votes in"));
  CHECK_THAT(s.message(), Catch::Contains("--i-know-this-may-double-sign"));

  REQUIRE(Restart(net, follower, *net.node(follower).net, true).ok());
  Rejoin(net, follower);
  const uint64_t target = net.node(follower).store->head().height + 3;
  REQUIRE(net.RunUntil([&] {
    if (net.MinHeight() >= target) return true;
    for (size_t i = 0; i < net.size(); ++i) {
      if (net.node(i).core->api().GetStatus().role == "leader") traffic.Send(i);
    }
    return false;
  }));
  CheckSameChain(net);
  for (size_t i = 0; i < net.size(); ++i) CHECK(net.node(i).halted.ok());
}

}  // namespace
}  // namespace cairn::node
