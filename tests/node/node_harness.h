// In-process nodes for tests: several NodeCores on MemoryKv chain stores, a FakeNetwork that
// delivers their messages in a deterministic order, and one ManualClock. No thread, socket or
// sleep: a test advances time and pumps messages, so a run replays exactly.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/node_config.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/node_core.h"
#include "node/wire.h"
#include "tests/kit/keys.h"
#include "tests/kit/make_tx.h"

namespace cairn::node::testing {

using testkit::TestKey;

// Messages between in-process nodes, queued and delivered in send order.
class FakeHub {
 public:
  struct Envelope {
    p2p::NodeId from, to;
    p2p::MessageType type;
    Bytes payload;
  };
  std::deque<Envelope> queue;
  std::set<std::pair<p2p::NodeId, p2p::NodeId>> links;  // both directions present when linked
  std::vector<std::pair<p2p::NodeId, std::string>> disconnects;     // (peer dropped, why)
  std::map<std::pair<p2p::NodeId, p2p::MessageType>, size_t> sent;  // (sender, type) -> count

  void Link(const p2p::NodeId& a, const p2p::NodeId& b) {
    links.insert({a, b});
    links.insert({b, a});
  }
  void Cut(const p2p::NodeId& a, const p2p::NodeId& b) {
    links.erase({a, b});
    links.erase({b, a});
  }
  bool Linked(const p2p::NodeId& a, const p2p::NodeId& b) const { return links.count({a, b}); }

  // Queues the message to every node `from` is linked to; returns how many.
  size_t Broadcast(const p2p::NodeId& from, p2p::MessageType type, const Bytes& payload) {
    size_t queued = 0;
    for (const auto& [a, b] : links) {
      if (a != from) continue;
      queue.push_back({from, b, type, payload});
      ++queued;
    }
    return queued;
  }
  // The nodes `self` is linked to, as Network::Peers() reports them.
  std::vector<p2p::PeerInfo> PeersOf(const p2p::NodeId& self) const {
    std::vector<p2p::PeerInfo> out;
    for (const auto& [a, b] : links) {
      if (a != self) continue;
      p2p::PeerInfo info;
      info.id = b;
      out.push_back(std::move(info));
    }
    return out;
  }
};

class FakeNetwork final : public Network {
 public:
  FakeNetwork(FakeHub& hub, p2p::NodeId self) : hub_(hub), self_(self) {}
  Status Send(const p2p::NodeId& to, p2p::MessageType type, Bytes payload) override {
    if (!hub_.Linked(self_, to)) return Status::Error("not connected");
    ++hub_.sent[{self_, type}];
    hub_.queue.push_back({self_, to, type, std::move(payload)});
    return Status::Ok();
  }
  void Broadcast(p2p::MessageType type, Bytes payload) override {
    hub_.Broadcast(self_, type, payload);
  }
  void Disconnect(const p2p::NodeId& peer, const std::string& why) override {
    hub_.disconnects.emplace_back(peer, why);
    hub_.Cut(self_, peer);
  }
  bool IsConnected(const p2p::NodeId& peer) const override { return hub_.Linked(self_, peer); }
  std::vector<p2p::PeerInfo> Peers() const override { return hub_.PeersOf(self_); }

 private:
  FakeHub& hub_;
  const p2p::NodeId self_;
};

// One in-process node: its key, store, network endpoint and core.
struct TestNode {
  crypto::KeyPair key;
  config::NodeConfig config;
  std::unique_ptr<ledger::ChainStore> store;
  std::unique_ptr<FakeNetwork> net;
  std::unique_ptr<NodeCore> core;
  Status halted;  // the first error a handler returned
};

// A chain of `validators` validators (and `observers` observers) of `kind`, with one funded
// admin account, run in one process.
class TestNetwork {
 public:
  // `configure` may change each node's config (block_interval_ms 100, sync_writes off) before
  // its core is built.
  TestNetwork(genesis::ConsensusKind kind, size_t validators, size_t observers = 0,
              uint64_t seed = 1,
              const std::function<void(config::NodeConfig&)>& configure = nullptr) {
    seed_ = seed;
    genesis_.chain_id = "inproc";
    genesis_.genesis_time_ms = clock_.UnixMs() - 1000;
    genesis_.consensus = kind;
    for (size_t i = 0; i < validators + observers; ++i) {
      genesis::Node n{"n" + std::to_string(i), TestKey(static_cast<uint32_t>(i), 0x01).public_key(),
                      "127.0.0.1:1"};
      (i < validators ? genesis_.validators : genesis_.observers).push_back(n);
    }
    admin_ = TestKey(0, 0xad);
    bob_ = TestKey(1, 0xad);
    genesis_.accounts.push_back({admin_.public_key(), ledger::Role::kAdmin, 1'000'000'000});
    genesis_.accounts.push_back({bob_.public_key(), ledger::Role::kMember, 0});
    for (size_t i = 0; i < validators + observers; ++i) {
      auto node = std::make_unique<TestNode>();
      node->key = TestKey(static_cast<uint32_t>(i), 0x01);
      node->config.name = "n" + std::to_string(i);
      node->config.block_interval_ms = 100;
      node->config.sync_writes = false;
      if (configure) configure(node->config);
      auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(), genesis_.Block0(),
                                            genesis_.InitialState());
      REQUIRE(store.ok());
      node->store = std::move(store.value());
      node->net = std::make_unique<FakeNetwork>(hub_, node->key.public_key());
      NodeHooks hooks;
      hooks.raft_seed = seed * 1000 + i;
      node->core = std::make_unique<NodeCore>(node->config, genesis_, node->key, *node->store,
                                              *node->net, clock_, hooks);
      nodes_.push_back(std::move(node));
    }
  }

  // Node i crashes and restarts: its core goes, the writes its store had not synced are lost
  // (as in a power cut), and a new core opens the store and the engine's state from what is
  // left, then reconnects to every peer.
  void Restart(size_t i) {
    TestNode& n = *nodes_[i];
    auto* kv = dynamic_cast<ledger::MemoryKv*>(&n.store->kv());
    REQUIRE(kv != nullptr);
    ledger::MemoryKv disk = *kv;  // shares the store
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j != i) hub_.Cut(id(i), id(j));
    }
    n.core.reset();
    n.store.reset();
    disk.DropUnsynced();
    auto store = ledger::ChainStore::Open(std::make_unique<ledger::MemoryKv>(disk),
                                          genesis_.Block0(), genesis_.InitialState());
    REQUIRE(store.ok());
    n.store = std::move(store.value());
    NodeHooks hooks;
    hooks.raft_seed = seed_ * 1000 + i + 500;
    n.core = std::make_unique<NodeCore>(n.config, genesis_, n.key, *n.store, *n.net, clock_, hooks);
    REQUIRE(n.core->Start().ok());
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j != i) Connect(i, j);
    }
  }

  // Starts every node and links each pair (the validators' full mesh).
  void Start() {
    for (auto& n : nodes_) REQUIRE(n->core->Start().ok());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (size_t j = i + 1; j < nodes_.size(); ++j) Connect(i, j);
    }
  }
  void Connect(size_t i, size_t j) {
    hub_.Link(id(i), id(j));
    nodes_[i]->core->OnPeerConnected(id(j));
    nodes_[j]->core->OnPeerConnected(id(i));
  }

  // One tick of time on every node, then every message delivered until none is left.
  void Step(uint64_t ms = 50) {
    clock_.Advance(ms);
    for (auto& n : nodes_) Record(*n, n->core->Tick());
    Pump();
  }
  void Pump() {
    size_t budget = 1'000'000;
    while (!hub_.queue.empty() && budget-- > 0) {
      FakeHub::Envelope e = std::move(hub_.queue.front());
      hub_.queue.pop_front();
      if (!hub_.Linked(e.from, e.to)) continue;  // cut while in flight
      TestNode& to = *nodes_[index(e.to)];
      Record(to, to.core->OnMessage(e.from, e.type, e.payload));
    }
  }
  // Steps until `done()` or `max_steps` ticks pass; returns whether done.
  template <typename Pred>
  bool RunUntil(Pred done, int max_steps = 2000) {
    for (int i = 0; i < max_steps; ++i) {
      if (done()) return true;
      Step();
    }
    return done();
  }

  ledger::Transaction Transfer(const crypto::KeyPair& from, uint64_t nonce,
                               const crypto::PublicKey& to, uint64_t amount) const {
    return testkit::MakeTx(from, genesis_.chain_id, nonce, ledger::Transfer{to, amount});
  }

  TestNode& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  p2p::NodeId id(size_t i) const { return nodes_[i]->key.public_key(); }
  const crypto::KeyPair& admin() const { return admin_; }
  const crypto::KeyPair& bob() const { return bob_; }
  const genesis::Genesis& genesis() const { return genesis_; }
  FakeHub& hub() { return hub_; }
  ManualClock& clock() { return clock_; }
  uint64_t MinHeight() const {
    uint64_t h = UINT64_MAX;
    for (const auto& n : nodes_) h = std::min(h, n->store->head().height);
    return h;
  }

 private:
  uint64_t seed_ = 1;
  static void Record(TestNode& n, Status s) {
    if (!s.ok() && n.halted.ok()) n.halted = s;
  }
  size_t index(const p2p::NodeId& id) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->key.public_key() == id) return i;
    }
    FAIL("message to an unknown node");
    return 0;
  }

  ManualClock clock_{/*steady_ms=*/0, /*unix_ms=*/1'700'000'000'000};
  FakeHub hub_;
  genesis::Genesis genesis_;
  crypto::KeyPair admin_;
  crypto::KeyPair bob_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

inline uint64_t BalanceOf(TestNetwork& net, size_t node, const crypto::PublicKey& who) {
  auto acct = net.node(node).store->GetAccount(who);
  return acct ? acct->balance : 0;
}

// Submits `count` transfers of 1 from admin to bob through node `via`; each must be admitted.
inline void SendTransfers(TestNetwork& net, size_t via, uint64_t first_nonce, size_t count) {
  std::vector<ledger::Transaction> txs;
  for (size_t i = 0; i < count; ++i) {
    txs.push_back(net.Transfer(net.admin(), first_nonce + i, net.bob().public_key(), 1));
  }
  for (const ledger::Admission& a : net.node(via).core->api().SubmitTransactions(std::move(txs))) {
    INFO(a.detail);
    REQUIRE(a.ok());
  }
}

}  // namespace cairn::node::testing
