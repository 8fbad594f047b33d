// Engine: the interface every consensus engine (solo, raft, bft) implements. An engine is
// a deterministic state machine with no clock, socket, thread, disk or global randomness:
// the node feeds it ticks, messages and proposals and carries out its Ready batches.
// Not thread-safe: one thread (the node's consensus loop) owns an engine.
#pragma once

#include <optional>
#include <utility>
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

// Asked by the engine whether a proposed block may get this replica's prevote. The node
// implements it by executing the block on its state (parent, height, timestamp, proposer,
// every transaction, state root); the simulation by checking its block format.
// The engine calls it only for block.height == parent.height + 1 where `parent` is the
// last block the engine handed out as committed AND the node has applied it (the engine
// never calls it between TakeReady() and Advance() of the Ready that committed `parent`).
// It must be deterministic for honest replicas up to local clock checks.
class ProposalValidator {
 public:
  virtual ~ProposalValidator() = default;
  // That block.data is the block block.hash names (node: it decodes and hashes to
  // block.hash at block.height; simulation: Sha256(data) == hash). Cheap, deterministic,
  // independent of the ledger's state; callable at any time, also between TakeReady() and
  // Advance(). Votes and signatures cover only the hash, so the engine calls it before it
  // stores or uses the body of any proposal or decision: a body that fails is a malformed
  // message, never "the" block of its hash.
  virtual Status CheckIdentity(const Block& block) = 0;
  // Whether the block may get this replica's prevote (see above). Only called for blocks
  // that passed CheckIdentity. Only successes are remembered (per height): a failure is
  // asked again when the block comes back in a later round or in a Decision.
  virtual Status Validate(const Block& block, const BlockRef& parent) = 0;
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

  // set(H): the validators that govern heights >= `height` (until a later call names a later
  // height), sorted by member id, as the node computes them from its state (a change executed
  // in block h governs h + 2 on: docs/design/membership.md). A pure input, like a message: the
  // BFT engine reads set(H) only for H <= decided + 2, so the node must have given every set
  // of those heights BEFORE the engine moves on: at open (BftConfig::validators), and after
  // applying block h, before Advance() or SyncCompleted(h), the set of h + 2 (calling it for
  // every block is fine; an unchanged set is a no-op). A method of Engine rather than of the
  // BFT engine so that the node stays engine-agnostic; engines without validator sets
  // (solo, Raft until it takes member ids) refuse it. A chain that never calls it keeps the
  // genesis set for every height.
  virtual Status SetValidators(uint64_t height, std::vector<ValidatorInfo> validators) {
    (void)height;
    (void)validators;
    return Status::Error("this consensus engine does not take validator sets");
  }

  // Raft with member changes (EngineOptions::raft_members): the node applied block `height`,
  // after which the members (validator ids, sorted) and the next member id are these
  // (raft::RaftEngine::ApplyConfig). Other engines refuse it.
  virtual Status ApplyMembers(const std::vector<ReplicaId>& members, ReplicaId next_id,
                              uint64_t height) {
    (void)members;
    (void)next_id;
    (void)height;
    return Status::Error("this consensus engine does not take member changes");
  }
  // Propose, saying whether executing `block` changes the member set (Raft holds back its
  // next proposal until it applied such a block); engines that do not care just Propose.
  virtual Status ProposeBlock(Block block, bool changes_config) {
    (void)changes_config;
    return Propose(std::move(block));
  }
  // True while nothing is happening that needs round timers (BFT: nothing at this height
  // yet). A node with nothing to propose then calls IdleTick() instead of Tick(), so an idle
  // network does not churn through rounds. Engines without round timers are never idle.
  virtual bool Idle() const { return false; }
  // Advances the clock for what is not a round timer (answering laggards). REQUIRES: Idle().
  virtual void IdleTick() { Tick(); }
};

}  // namespace cairn::consensus
