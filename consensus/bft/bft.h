// BftEngine: Byzantine fault tolerant ordering after Tendermint (Buchman, Kwon, Milosevic,
// "The latest gossip on BFT consensus", 2018): rotating proposers, propose / prevote /
// precommit with 2f+1 quorums, locks and valid values across rounds, timeouts that grow
// with the round. A deterministic state machine behind the Engine interface; every vote
// and proposal is signed through Signer and checked through Verifier. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/engine.h"

namespace cairn::consensus::bft {

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
  virtual Status Validate(const Block& block, const BlockRef& parent) = 0;
};

struct BftConfig {
  ReplicaId id = 0;
  uint32_t replicas = 1;  // validators 0..replicas-1; tolerates (replicas - 1) / 3 faults
  // Block 0; its hash is the chain id signed into every vote and proposal.
  BlockRef genesis;
  // Timeouts in ticks for round r: base + r * delta, capped at max_timeout_ticks, so a
  // network that stabilises eventually gives every step enough time (partial synchrony).
  uint32_t propose_timeout_ticks = 20;
  uint32_t vote_timeout_ticks = 10;  // prevote and precommit steps, after seeing 2f+1 any
  uint32_t timeout_delta_ticks = 5;
  uint32_t max_timeout_ticks = 200;
  // Own current proposal and votes are re-sent this often, to peers that have not shown
  // they have them, so a lossy network still converges.
  uint32_t rebroadcast_ticks = 10;
  size_t max_message_bytes = 8u << 20;
};

class BftEngine final : public Engine {
 public:
  // Starts from the stored hard state (empty on first boot) and the ledger's last applied
  // block. `signer`, `verifier` and `validator` must outlive the engine. Rejects an invalid
  // config and stored state that is corrupt or inconsistent with `applied`.
  static Result<std::unique_ptr<BftEngine>> Open(const BftConfig& config, const Signer& signer,
                                                 const Verifier& verifier,
                                                 ProposalValidator& validator,
                                                 const DurableState& durable,
                                                 const BlockRef& applied);

  // Engine. Notes specific to BFT:
  // - Ready::hard_state holds this replica's height, round, step, lock, valid value and the
  //   votes it signed this height; it is persisted BEFORE the votes are sent, so a
  //   restarted replica can never sign a conflicting vote.
  // - Ready::committed blocks carry their Certificate encoding in Block::certificate.
  // - Ready::evidence holds Evidence encodings, each once.
  // - Ready::sync_to is set when a peer proves (Decision with a valid certificate) that a
  //   height above this replica's next one is decided.
  // - SyncCompleted(tip) is accepted for any tip at or above the last decided height (the
  //   node applied certified blocks through block sync): the engine moves to tip.height+1.
  // - Compact(h) drops decided blocks at or below h.
  void Tick() override;
  Status Step(ReplicaId from, ByteView message) override;
  std::optional<ProposalSlot> ProposalWanted() const override;
  Status Propose(Block block) override;
  Status SyncCompleted(const BlockRef& tip) override;
  Status Compact(uint64_t height) override;
  bool HasReady() const override;
  Ready TakeReady() override;
  void Advance() override;
  EngineStatus GetStatus() const override;

  // Step for an already decoded message (tests craft messages directly).
  Status StepMessage(ReplicaId from, const Message& m);

  // Every piece of evidence this replica has seen since it started, in arrival order.
  const std::vector<Evidence>& evidence() const;
  uint64_t height() const;  // the height being decided
  uint32_t round() const;
  const BftConfig& config() const;

 private:
  struct State;
  explicit BftEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;

 public:
  ~BftEngine() override;
};

}  // namespace cairn::consensus::bft
