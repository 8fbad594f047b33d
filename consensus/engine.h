// Engine: the interface every consensus engine (solo, raft, bft) implements. An engine is
// a deterministic state machine with no clock, socket, thread, disk or global randomness:
// the node feeds it ticks, messages and proposals and carries out its Ready batches.
// Not thread-safe: one thread (the node's consensus loop) owns an engine.
#pragma once

#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/types.h"

namespace cairn::consensus {

// Where the next block goes when the engine wants one from this node.
struct ProposalSlot {
  // Build the block at parent.height + 1 on top of this block. For a pipelining leader the
  // parent may be a block that is in the log but not yet committed.
  BlockRef parent;
  // True when the parent is committed (and, once the node applied everything handed out,
  // applied). A node that must execute the parent before building on it can wait for this.
  bool parent_committed = false;
};

// What a restarting engine reads back from the node's storage: the last hard state and
// every stored record, in index order. Empty on first boot.
struct DurableState {
  std::optional<Bytes> hard_state;
  std::vector<LogRecord> records;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Advances the engine's logical clock by one tick (the node calls it from a timer, e.g.
  // every 100 ms; election and heartbeat timeouts are counted in ticks).
  virtual void Tick() = 0;

  // Handles `message` (an engine-encoded payload) from replica `from`, which the
  // transport has authenticated. A malformed or impossible message returns an error and
  // leaves the engine unchanged; the node may count it against the peer. Stale or
  // duplicate messages are normal and return ok.
  virtual Status Step(ReplicaId from, ByteView message) = 0;

  // Set when this node should propose a block now: it is the leader/proposer and the
  // pipeline has room. Cheap; the node may call it after every Ready.
  virtual std::optional<ProposalSlot> ProposalWanted() const = 0;

  // Proposes `block`, built on ProposalWanted()->parent, so block.height must be
  // parent.height + 1. Errors (not the leader, pipeline full, wrong height, too large) are
  // values; the message of "not the leader" names the leader when one is known.
  virtual Status Propose(Block block) = 0;

  // The node has applied blocks up to `tip` obtained through block sync after a
  // Ready::sync_to. Errors if tip is below the requested height or the hash differs there.
  virtual Status SyncCompleted(const BlockRef& tip) = 0;

  // The node has durably applied blocks up to `height`, so the engine may drop its own
  // copies (log compaction). Replicas that fall behind the compacted prefix are then told
  // to block-sync (Ready::sync_to). Heights at or below an earlier compaction are a no-op.
  virtual Status Compact(uint64_t height) = 0;

  virtual bool HasReady() const = 0;
  // Hands out everything accumulated since the last Ready (see the ordering rules on
  // Ready). REQUIRES: HasReady(), and Advance() was called after the previous TakeReady().
  virtual Ready TakeReady() = 0;
  // The node has carried out the last Ready: persisted, sent and applied it.
  virtual void Advance() = 0;

  virtual EngineStatus GetStatus() const = 0;
};

}  // namespace cairn::consensus
