// NodeCore: one node's components wired together (TxPool, BlockCache, BlockAcceptor,
// BlockBuilder, EvidencePool, EngineDriver, BlockSync, NodeService) over a chain store, a
// Network and a Clock, with no thread, socket or timer of its own. Node runs it on real
// ones; tests run several in one process on a fake network and a manual clock.
// Thread-safety: each entry point names its lane. Loop-lane calls must come from one thread;
// worker-lane calls from one (other) thread; api() from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "base/clock.h"
#include "config/node_config.h"
#include "consensus/signer.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/block_acceptor.h"
#include "node/block_builder.h"
#include "node/block_cache.h"
#include "node/block_sync.h"
#include "node/engine_driver.h"
#include "node/engine_store.h"
#include "node/evidence_pool.h"
#include "node/membership.h"
#include "node/metrics.h"
#include "node/network.h"
#include "node/node_service.h"
#include "node/snapshotter.h"
#include "node/tx_pool.h"

namespace cairn::node {

// Test-only seams (production cairnd passes none; tests/integration builds a misbehaving
// validator with them, never part of the released binaries), and one operator override.
struct NodeHooks {
  // cairnd --i-know-this-may-double-sign: a validator whose consensus state is lost starts
  // clean instead of refusing (EngineDriver::LostState, docs/CONSENSUS.md).
  bool allow_lost_consensus_state = false;
  // Wraps the consensus engine once it is opened (e.g. to make it equivocate).
  std::function<std::unique_ptr<consensus::Engine>(std::unique_ptr<consensus::Engine>,
                                                   const crypto::KeyPair& key,
                                                   const genesis::Genesis& genesis)>
      wrap_engine;
  // The seed of Raft's election timeouts; unset: drawn from the OS at each start.
  std::optional<uint64_t> raft_seed;
};

class NodeCore {
 public:
  // Which thread a handler runs on: the loop (consensus, commits, sync) or the worker
  // (gossip admission and serving block requests, kept off the loop).
  enum class Lane { kLoop, kWorker };

  NodeCore(const config::NodeConfig& config, const genesis::Genesis& genesis,
           const crypto::KeyPair& key, ledger::ChainStore& store, Network& net, const Clock& clock,
           NodeHooks hooks = {});

  // Loads stored evidence and opens the engine (validators only: this node's key is the
  // consensus key of a validator of set(head + 1) or set(head + 2) in its state).
  Status Start();

  static Lane LaneOf(p2p::MessageType type);
  // A message from an authenticated peer, on LaneOf(type)'s thread. An error means this
  // node must halt (its store failed, or consensus contradicts the ledger).
  Status OnMessage(const p2p::NodeId& from, p2p::MessageType type, ByteView payload);
  // Worker lane: tells a newly connected peer our head and what is pending.
  void OnPeerConnected(const p2p::NodeId& peer);
  // Loop lane.
  void OnPeerGone(const p2p::NodeId& peer);
  // Loop lane, every tick: gossip out, block sync, engine timers. Error: halt.
  Status Tick();

  // Any thread: a solo validator calls `wake` whenever transactions are admitted (from RPC or
  // gossip), so the loop can propose a few waiting transactions at once instead of at its
  // next tick (commit on arrival, BlockBuilder::Options::on_arrival); other nodes never call it.
  // `wake` must be thread-safe and quick (post to the loop, coalesced). Set once, before Start and
  // before any thread submits transactions.
  void set_arrival_wake(std::function<void()> wake) { arrival_wake_ = std::move(wake); }
  // Loop lane: what the wake runs: proposes and commits what is due. Error: halt.
  Status OnArrival();

  api::NodeApi& api() { return service_; }
  // Before Start: told of every committed block (BlockAcceptor::set_commit_observer), after
  // the snapshotter has pinned the state it wants.
  void set_commit_observer(BlockAcceptor::CommitObserver observer) {
    commit_observer_ = std::move(observer);
  }
  // Before Start: where snapshot builds run (Node: the `snapshot` thread); unset, inline.
  void set_snapshot_post(Snapshotter::Post post) { snapshotter_.set_post(std::move(post)); }
  // Before Start: where the compaction of pruned ranges runs (Node: the `compact` thread,
  // with storage.retain_blocks); unset, never (tests of other things).
  void set_compact_post(Snapshotter::Post post) { compact_post_ = std::move(post); }
  // Any thread: the snapshots this node offers (node/snapshotter.h).
  const Snapshotter& snapshotter() const { return snapshotter_; }
  // Any thread: the highest head a peer reported (BlockSync::best_peer_height).
  uint64_t best_peer_height() const { return sync_.best_peer_height(); }
  // Any thread: this node's metrics (Node serves them, and adds what it reads at scrape time).
  NodeMetrics& metrics() { return metrics_; }
  const EvidencePool& evidence() const { return evidence_; }
  // Any thread: the compact-block counters (CompactRelay::Stats).
  CompactRelay::Stats compact_stats() const { return driver_.compact_stats(); }
  // Any thread: whether this node runs a consensus engine (it is, or became, a validator).
  bool is_validator() const { return engine_open_.load(); }
  // Any thread: the members as this node's applied state says.
  std::shared_ptr<const Membership::Snapshot> members() const { return membership_.Get(); }

 private:
  // This node's member id: its key as the consensus key of a validator in its state (the
  // genesis index when the state holds no member set).
  std::optional<consensus::ReplicaId> FindSelf() const;
  Status OpenEngine(consensus::ReplicaId id, bool joining);
  // Loop lane, after blocks may have been applied: follows the member set (allowlist, dials,
  // this node entering, leaving or being re-keyed). Error: halt.
  Status FollowMembers();
  // Keeps the sets `snap` names in the store's set history (node/set_history.h).
  Status RememberSets(const Membership::Snapshot& snap);
  // Any thread: transactions were admitted.
  void NotifyArrival() const {
    if (solo_validator_ && arrival_wake_) arrival_wake_();
  }

  const genesis::Genesis& genesis_;
  const crypto::KeyPair& key_;
  ledger::ChainStore& store_;
  Network& net_;
  const NodeHooks hooks_;
  const bool solo_validator_;
  const uint64_t snapshot_interval_;
  std::function<void()> arrival_wake_;  // set before threads start, then only read

  EngineStore engine_store_;
  Membership membership_;
  std::atomic<bool> engine_open_{false};
  // Loop lane: posts ChainStore::CompactPruned when due and none is running.
  void MaybeCompact();
  Snapshotter::Post compact_post_;
  std::atomic<bool> compacting_{false};
  // Loop lane: the member snapshot FollowMembers last acted on, and what it said of us.
  std::shared_ptr<const Membership::Snapshot> followed_;
  std::optional<consensus::ReplicaId> self_id_;
  bool left_logged_ = false;
  bool rekey_logged_ = false;
  bool learner_ = false;  // the engine said it is a Raft learner (logged on each change)
  bool removed_ = false;  // the engine applied this replica's removal (logged once)
  // Before the components that count into it.
  NodeMetrics metrics_;
  TxPool pool_;
  BlockCache cache_;
  BlockAcceptor acceptor_;
  BlockBuilder builder_;
  EvidencePool evidence_;
  // BFT: this validator's vote signer and every validator's key (observers run no engine).
  std::unique_ptr<consensus::Signer> signer_;
  std::unique_ptr<consensus::Verifier> verifier_;
  EngineDriver driver_;
  BlockSync sync_;
  NodeService service_;
  Snapshotter snapshotter_;
  BlockAcceptor::CommitObserver commit_observer_;  // set before Start, loop lane after
};

}  // namespace cairn::node
