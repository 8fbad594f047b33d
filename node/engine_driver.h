// EngineDriver: runs the consensus engine through the consensus::Engine interface. It feeds
// the engine ticks and peers' messages, carries out each Ready in the order the engine
// requires (persist through EngineStore, then send, then sync or apply through the
// BlockAcceptor, then record evidence, then Advance), asks the BlockBuilder for a block when
// the engine wants one, and compacts the engine's log behind the ledger.
// Thread-safety: loop thread only, except status() (any thread; status_mu_ guards the copy).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "consensus/engine.h"
#include "consensus/factory.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/block_acceptor.h"
#include "node/block_builder.h"
#include "node/compact_relay.h"
#include "node/engine_store.h"
#include "node/evidence_pool.h"
#include "node/membership.h"
#include "node/metrics.h"
#include "node/network.h"
#include "node/tx_pool.h"

namespace cairn::node {

class EngineDriver {
 public:
  struct Parts {
    const genesis::Genesis& genesis;
    ledger::ChainStore& store;
    EngineStore& engine_store;
    BlockAcceptor& acceptor;
    BlockBuilder& builder;
    EvidencePool& evidence;
    TxPool& pool;  // read, and gossip flushed before consensus messages go out
    const Clock& clock;
    // Member ids <-> p2p keys, and the sets fed to the engine after every applied block.
    Membership& membership;
    const crypto::PublicKey& self_key;  // this node's consensus key
  };
  // `compact`: how engine messages that carry blocks travel (CompactRelay).
  EngineDriver(Parts parts, bool empty_blocks, CompactRelay::Options compact = {});
  ~EngineDriver();  // logs the compact-block counters a last time

  using Wrap =
      std::function<std::unique_ptr<consensus::Engine>(std::unique_ptr<consensus::Engine>)>;
  // What to do when this validator's consensus state is missing or unreadable while the
  // chain shows it has signed (docs/CONSENSUS.md, "Lost validator state").
  enum class LostState {
    kRefuse,  // Open fails with the evidence and the ways to recover
    // The operator said --i-know-this-may-double-sign: start clean, but sign nothing until
    // the ledger holds the height it may have voted at (or kLostStateWaitTicks pass).
    kStartClean,
  };
  // Ticks a clean start waits for the other validators to commit the height this one may
  // have voted at, before it signs there anyway (20 s at the default 50 ms tick).
  static constexpr uint64_t kLostStateWaitTicks = 400;
  // Heights of the ledger searched, down from the head, for this validator's signatures.
  static constexpr uint64_t kLostStateLookback = 1000;

  // Opens the engine from its stored state (validators only: an observer runs none).
  // `wrap` (tests) may wrap the engine once it is open. After a clean start with
  // LostState::kStartClean the engine opens later, from Tick().
  // `joining`: the node opens its engine for the first time because its applied state just
  // made it a member (it was not one before, so it cannot have signed anything).
  Status Open(const consensus::EngineOptions& options, const Wrap& wrap,
              LostState lost = LostState::kRefuse, bool joining = false);
  bool running() const { return engine_ != nullptr; }
  // Stops the engine (this node applied its own removal): it signs and sends nothing more.
  void Close();
  // While a clean start waits: the height it may have voted at before its state was lost
  // (it signs only above it, or after the wait). 0 when not waiting.
  uint64_t signing_floor() const { return deferred_ ? deferred_->floor : 0; }
  void set_network(Network* net) { net_ = net; }
  // Where leader changes and rounds are counted; null: nowhere. Set before Open.
  void set_metrics(NodeMetrics* m) { metrics_ = m; }

  // Each returns an error only when the node must halt (its store failed, or consensus
  // committed something that contradicts the ledger).
  Status Tick();
  // A consensus message from validator `replica`. Refusals are logged, rate limited.
  Status Step(consensus::ReplicaId replica, ByteView payload);
  // Compact blocks (CompactRelay) from validator `replica`, whose node id is `from`: a
  // CompactConsensus steps the engine once rebuilt; a BlockTxs may complete parked ones.
  Status StepCompact(consensus::ReplicaId replica, const p2p::NodeId& from, ByteView payload);
  // A whole engine message: stepped now, or queued behind the peer's parked compact ones.
  Status StepWhole(consensus::ReplicaId replica, const p2p::NodeId& from, ByteView payload);
  Status OnBlockTxs(consensus::ReplicaId replica, const p2p::NodeId& from, ByteView payload);
  void ServeBlockTxs(const p2p::NodeId& from, ByteView payload);
  CompactRelay::Stats compact_stats() const { return relay_.stats(); }
  // Tells the engine about blocks the node applied through block sync on its own.
  Status CatchUp();
  // Transactions arrived in the mempool: proposes (and, solo, commits) what is due now.
  Status OnArrival();

  consensus::EngineStatus status() const EXCLUDES(status_mu_);

 private:
  Status AfterInput();
  Status DrainReady();
  void MaybePropose();
  Status CheckSyncTarget();
  // After block `height` is applied (by the engine or block sync), before Advance() or
  // SyncCompleted(): BFT gets set(height + 2) (and, `both`, set(height + 1)); Raft its member
  // ids as of that block. Refusals are logged: the engine keeps its sets.
  void FeedMembership(uint64_t height, bool both);
  // BFT: whether set(head + 1) gives this node's member id another consensus key (its key
  // was rotated); then the engine is closed, so it signs nothing the set would refuse.
  bool KeyRetired();
  // One info line per interval (or, `now`, at once) with the compact-block counters, when
  // they moved.
  void LogCompactStats(bool now = false);
  Status Install(const consensus::EngineOptions& options, const Wrap& wrap,
                 const consensus::DurableState& durable);
  // Opens a deferred engine once the ledger passed its floor or the wait is over.
  Status MaybeOpenDeferred();
  // This validator's signatures in the last kLostStateLookback blocks, as phrases ("it
  // signed the commit certificate of block 41"); empty when there are none.
  std::vector<std::string> SigningEvidence(const consensus::EngineOptions& options,
                                           const consensus::DurableState& durable) const;

  Parts p_;
  const bool empty_blocks_;
  Network* net_ = nullptr;
  NodeMetrics* metrics_ = nullptr;
  CompactRelay relay_;
  uint64_t last_compact_log_ms_ = 0;
  CompactRelay::Stats logged_compact_;
  std::unique_ptr<consensus::Engine> engine_;
  struct Deferred {
    consensus::EngineOptions options;
    Wrap wrap;
    uint64_t floor = 0;  // the highest height it may have voted at: head + 1 at the start
    uint64_t waited_ticks = 0;
  };
  std::optional<Deferred> deferred_;
  std::optional<consensus::BlockRef> pending_sync_to_;
  uint64_t last_compact_ = 0;
  struct RefusedLog {
    uint64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  std::map<consensus::ReplicaId, RefusedLog> refused_log_;  // rate limit of refusal lines
  bool raft_members_ = false;  // the Raft engine was opened with member changes enabled
  std::optional<consensus::ReplicaId> self_id_;
  // Whether this node's key may sign a block at `height`: a validator of set(height) with its
  // member id (MaybePropose asks before building).
  bool MayPropose(uint64_t height) const;

  mutable Mutex status_mu_;
  consensus::EngineStatus status_ GUARDED_BY(status_mu_);
};

}  // namespace cairn::node
