// BlockBuilder: builds this validator's next block when the engine asks for one: selects
// mempool transactions valid on the parent's state (a pipelining Raft leader's parent may be
// its own block still in flight: then on the tip's state plus those blocks' writes), within a
// byte budget every transport carries, executes them and signs the header. The block and its
// execution go to the BlockCache, so committing it later does not execute it again.
// When a block is due: see Options. Thread-safety: loop thread only.
#pragma once

#include <cstdint>
#include <optional>

#include "base/clock.h"
#include "consensus/engine.h"
#include "crypto/ed25519.h"
#include "ledger/chain_store.h"
#include "node/block_cache.h"
#include "node/tx_pool.h"

namespace cairn::node {

class BlockBuilder {
 public:
  struct Options {
    uint32_t max_block_txs = 0;
    // At most one block per interval, unless a full block is waiting (or on_arrival applies).
    uint64_t block_interval_ms = 0;
    bool empty_blocks = false;
    // A solo validator's commit on arrival: while fewer than max_block_txs / 8 transactions
    // wait and its last block is applied (nothing in flight), a block is due at once, whatever
    // the interval: nobody else votes, so a light load need not wait to fill a block. More
    // than that is a backlog, where latency is queueing anyway: the interval (or a full block)
    // applies, so blocks stay big, and so do the reads of every client that follows the chain
    // block by block (at a few blocks/s under full load, BENCHMARKS.md "Solo latency").
    bool on_arrival = false;
  };

  BlockBuilder(const crypto::KeyPair& key, const ledger::ChainStore& store, const TxPool& pool,
               BlockCache& cache, const Clock& clock, Options options);

  // The block for `slot`, or nothing when it is not due (no full block, the interval has not
  // passed, and not on_arrival with a few transactions waiting on an applied parent), there
  // is nothing to put in it, or its parent is someone else's block that is not applied yet.
  std::optional<consensus::Block> Build(const consensus::ProposalSlot& slot);
  // Whether executing built block `hash` writes set/pending, i.e. changes the member set
  // (Raft holds back its next proposal until it applied such a block). False if not cached.
  bool WritesPendingSet(const crypto::Hash256& hash) const;
  // Drops a block the engine refused to propose.
  void Forget(const crypto::Hash256& hash) { cache_.Erase(hash); }
  // Restarts the interval (at startup).
  void ResetInterval() { last_block_ms_ = clock_.SteadyMs(); }

 private:
  const crypto::KeyPair& key_;
  const ledger::ChainStore& store_;
  const TxPool& pool_;
  BlockCache& cache_;
  const Clock& clock_;
  const Options options_;
  uint64_t last_block_ms_ = 0;
};

}  // namespace cairn::node
