// RaftCluster: a synchronous, scriptable Raft cluster for unit tests (like etcd's test
// `network`): Ready batches are persisted to in-memory disks, messages are queued and
// delivered by Stabilize() through link filters, committed blocks go to per-node ledgers.
// Single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/raft/raft.h"
#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::test {

struct ClusterOptions {
  uint32_t replicas = 3;
  bool pre_vote = false;
  bool check_quorum = false;
  uint32_t election_ticks = 10;
  uint32_t max_uncommitted_blocks = 4;
  size_t max_msg_bytes = 1u << 20;
  uint64_t seed = 1;
  // 0: every replica is a voter forever (no membership). Otherwise replicas
  // 0..genesis_voters-1 are the genesis members and the others join through blocks
  // proposed with ProposeChange ("add:<id>", "remove:<id>"), which the cluster executes on
  // apply and reports with ApplyConfig, as the node does.
  uint32_t genesis_voters = 0;
};

// The default options for a cluster of `replicas`.
inline ClusterOptions OptionsFor(uint32_t replicas) {
  ClusterOptions o;
  o.replicas = replicas;
  return o;
}

struct Envelope {
  ReplicaId from;
  ReplicaId to;
  raft::Message msg;
};

class RaftCluster {
 public:
  explicit RaftCluster(const ClusterOptions& o);

  raft::RaftEngine& node(ReplicaId i) { return *nodes_[i].engine; }
  bool up(ReplicaId i) const { return nodes_[i].engine != nullptr; }
  uint32_t size() const { return opts_.replicas; }
  const std::vector<Block>& ledger(ReplicaId i) const { return nodes_[i].ledger; }
  BlockRef tip(ReplicaId i) const { return nodes_[i].tip; }
  const sim::Disk& disk(ReplicaId i) const { return nodes_[i].disk; }

  // Ticks node i until it starts a new (pre-)election (its role or term changes), then
  // delivers messages until the network is quiet.
  void Campaign(ReplicaId i);
  // Ticks every live node once and processes their Ready batches (no delivery).
  void TickAll();
  void Tick(ReplicaId i);
  // Delivers queued messages (and whatever they cause) until none remain.
  void Stabilize();
  // Proposes one block on node i at the slot it asks for (or on its last block if it asks
  // for none, to observe the refusal) and processes its Ready.
  Status Propose(ReplicaId i, const std::string& payload = "tx");
  // Proposes a change-carrying block ("add:<id>" or "remove:<id>") on node i.
  Status ProposeChange(ReplicaId i, const std::string& change);
  // The member set node i's ledger ends with (membership clusters).
  raft::Membership SetOf(ReplicaId i) const;

  void Crash(ReplicaId i) { nodes_[i].engine.reset(); }
  // Reopens node i from its disk and ledger.
  Status Restart(ReplicaId i);

  // Carries out node i's Ready batches (after calling the engine directly).
  void Process(ReplicaId i);

  // Link filters: messages across a cut link are dropped on delivery.
  void Isolate(ReplicaId i);
  void Cut(ReplicaId a, ReplicaId b);
  void HealAll() { cut_.clear(); }
  // Extra filter: drop a message when it returns true.
  std::function<bool(const Envelope&)> drop;

  // Every message delivered so far, in order.
  const std::vector<Envelope>& delivered() const { return delivered_; }
  // Block syncs carried out after a Ready::sync_to.
  uint64_t syncs() const { return syncs_; }
  // The only live node in the leader role, or kNoReplica if none or several.
  ReplicaId Leader() const;

 private:
  struct Node {
    std::unique_ptr<raft::RaftEngine> engine;
    sim::Disk disk;
    std::vector<Block> ledger;
    BlockRef tip;
  };
  raft::RaftConfig ConfigFor(ReplicaId i);

  ClusterOptions opts_;
  uint64_t starts_ = 0;
  uint64_t syncs_ = 0;
  std::vector<Node> nodes_;
  std::vector<Envelope> queue_;
  std::vector<Envelope> delivered_;
  std::set<std::pair<ReplicaId, ReplicaId>> cut_;
};

// The block a test proposes on `parent`: its data names the parent, so chains are unique.
Block TestBlock(const BlockRef& parent, const std::string& payload);

}  // namespace cairn::consensus::test
