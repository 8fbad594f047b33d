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

#include "base/clock.h"
#include "base/mutex.h"
#include "consensus/engine.h"
#include "consensus/factory.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/block_acceptor.h"
#include "node/block_builder.h"
#include "node/engine_store.h"
#include "node/evidence_pool.h"
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
    const TxPool& pool;
    const Clock& clock;
  };
  explicit EngineDriver(Parts parts, bool empty_blocks) : p_(parts), empty_blocks_(empty_blocks) {}

  // Opens the engine from its stored state (validators only: an observer runs none).
  // `wrap` (tests) may wrap the engine once it is open.
  Status Open(
      const consensus::EngineOptions& options,
      const std::function<std::unique_ptr<consensus::Engine>(std::unique_ptr<consensus::Engine>)>&
          wrap);
  bool running() const { return engine_ != nullptr; }
  void set_network(Network* net) { net_ = net; }

  // Each returns an error only when the node must halt (its store failed, or consensus
  // committed something that contradicts the ledger).
  Status Tick();
  // A consensus message from validator `replica`. Refusals are logged, rate limited.
  Status Step(consensus::ReplicaId replica, ByteView payload);
  // Tells the engine about blocks the node applied through block sync on its own.
  Status CatchUp();

  consensus::EngineStatus status() const EXCLUDES(status_mu_);

 private:
  Status AfterInput();
  Status DrainReady();
  void MaybePropose();
  Status CheckSyncTarget();

  Parts p_;
  const bool empty_blocks_;
  Network* net_ = nullptr;
  std::unique_ptr<consensus::Engine> engine_;
  std::optional<consensus::BlockRef> pending_sync_to_;
  uint64_t last_compact_ = 0;
  struct RefusedLog {
    uint64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  std::map<consensus::ReplicaId, RefusedLog> refused_log_;  // rate limit of refusal lines

  mutable Mutex status_mu_;
  consensus::EngineStatus status_ GUARDED_BY(status_mu_);
};

}  // namespace cairn::node
