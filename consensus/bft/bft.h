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
#include <tuple>
#include <utility>
#include <vector>

#include "consensus/bft/messages.h"
#include "consensus/bft/state.h"
#include "consensus/bft/validator_set.h"
#include "consensus/bft/votes.h"
#include "consensus/engine.h"

namespace cairn::consensus::bft {

// The node's answer to "may this proposal get my prevote?" (consensus/engine.h).
using ProposalValidator = consensus::ProposalValidator;

struct BftConfig {
  // This replica's member id (its index in the genesis set when `validators` is empty).
  ReplicaId id = 0;
  // Without `validators`: the genesis set, validators 0..replicas-1 with their keys behind the
  // Verifier, governs every height; tolerates (replicas - 1) / 3 faults.
  uint32_t replicas = 1;
  // The validator schedule from the applied block on (a chain with governance): an entry
  // (from, set) says `set` governs heights >= from up to the next entry. On open it must cover
  // applied + 1 and applied + 2 (the node computes both from its state after `applied`);
  // later sets come through Engine::SetValidators. Each set is sorted by member id and
  // tolerates (size - 1) / 3 faults. `id` need not be in any set: a replica outside set(H)
  // follows height H without voting (a joining or a removed validator).
  std::map<uint64_t, std::vector<ValidatorInfo>> validators;
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
  // Advances the engine's clock (laggard-reply rate limits, rebroadcast bookkeeping)
  // WITHOUT running any round timer. The node calls it instead of Tick() while Idle() and
  // it has nothing to propose, so an idle network does not churn through rounds but still
  // answers laggards. Calling it while not Idle() stalls the round until Tick() resumes.
  void IdleTick() override;
  Status Step(ReplicaId from, ByteView message) override;
  std::optional<ProposalSlot> ProposalWanted() const override;
  Status Propose(Block block) override;
  Status SyncCompleted(const BlockRef& tip) override;
  Status Compact(uint64_t height) override;
  bool HasReady() const override;
  Ready TakeReady() override;
  void Advance() override;
  EngineStatus GetStatus() const override;
  // See Engine::SetValidators. Refuses a malformed set, and a change to the set of a height
  // at or below the one being decided (its votes are already counted against it).
  Status SetValidators(uint64_t height, std::vector<ValidatorInfo> validators) override;

  // Step for an already decoded message (tests craft messages directly).
  Status StepMessage(ReplicaId from, const Message& m);

  // The latest pieces of evidence this replica accepted, in arrival order (at most
  // kMaxEvidence). Evidence is accepted for heights in [height() - kEvidenceHeights,
  // height() + 1] only, once per (validator, height, round, vote type); evidence relayed by
  // peers only while fewer than kEvidencePerValidator pieces against that validator are
  // held for the window (what this replica sees itself is bounded by the rounds it keeps).
  // Each accepted piece goes to the node (Ready::evidence) and is relayed once.
  const std::vector<Evidence>& evidence() const { return evidence_; }
  uint64_t height() const { return height_; }  // the height being decided
  uint32_t round() const { return round_; }
  const BftConfig& config() const { return cfg_; }
  // set(height()), and this replica's index in it (nullopt: not a validator of this height).
  const ValidatorSet& validators() const { return cur_set_; }
  std::optional<uint32_t> own_index() const { return self_; }
  // set(h) while the engine knows it: heights from height() - kEvidenceHeights to decided + 2
  // (every height when no schedule was given); else nullptr.
  const ValidatorSet* SetAt(uint64_t h) const;
  // Whether `from` is a member of a set the engine holds. Step drops messages from anyone
  // else unread (with a schedule: they may come from a validator removed long ago).
  bool KnownPeer(ReplicaId from) const;

  // True while nothing has happened at the current height: round 0, step propose, no own
  // proposal, no proposal or vote received (nor buffered for it), not decided, not
  // syncing and no commit waiting for Advance(). A node with an empty mempool may pause
  // Tick() while Idle(), so an idle network does not churn through rounds.
  bool Idle() const override;

  // Introspection for tests and the simulation.
  RoundStep step() const { return step_; }
  uint32_t locked_round() const { return locked_round_; }  // kNoRound when not locked
  std::optional<crypto::Hash256> locked_hash() const;
  uint32_t valid_round() const { return valid_round_; }  // kNoRound when none
  // False once height() is decided (until Advance()) or a peer's certificate showed a later
  // height decided (until block sync completes): messages for height() are then dropped
  // unread, so they neither count nor become evidence (block sync overtakes them).
  bool deciding() const { return !decided_ && !sync_target_; }
  // What the next Ready would persist (height, round, step, lock, own signed messages).
  HardState hard_state() const;
  // Votes and proposals held for the current and the next height. Bounded by
  // O(validators * (kMaxRoundsKept + kNextHeightRounds)) whatever peers send.
  size_t buffered_messages() const;

  static constexpr uint32_t kRoundWindow = 8;       // future rounds kept at this height
  static constexpr uint32_t kMaxRoundsKept = 32;    // rounds of this height held at once
  static constexpr uint32_t kNextHeightRounds = 4;  // rounds of height+1 buffered
  static constexpr size_t kMaxEvidence = 4096;
  static constexpr uint64_t kEvidenceHeights = 16;    // heights below height() accepted
  static constexpr size_t kEvidencePerValidator = 8;  // within that window
  static constexpr size_t kMaxHeldDecisions = 16;     // decided blocks kept for laggards
  // A laggard is sent the same decided height again only after this many rebroadcast
  // periods (different heights: one Decision per peer per period).
  static constexpr uint32_t kDecisionResendPeriods = 3;

  ~BftEngine() override;

 private:
  struct Timer {
    bool armed = false;
    uint32_t round = 0;
    uint32_t left = 0;
  };
  struct Held {  // a decided block kept to answer laggards
    Decision decision;
    uint64_t decided_at_tick = 0;
  };
  struct Reply {  // Decisions sent to a peer
    bool sent = false;
    uint64_t last_tick = 0;  // of the latest one, whatever its height
    // The heights sent most recently, with their tick (oldest first, at most kReplyMemory).
    std::vector<std::pair<uint64_t, uint64_t>> recent;
  };
  static constexpr size_t kReplyMemory = 4;
  // (validator, height, round, vote type) of accepted evidence.
  using EvidenceKey = std::tuple<ReplicaId, uint64_t, uint32_t, uint8_t>;

  BftEngine(const BftConfig& config, const Signer& signer, const Verifier& verifier,
            ProposalValidator& validator);
  // Restart at height hs.height (bft.cpp), in Resume's steps: the block and proof-of-lock
  // records of that height, the lock and valid value, this replica's own proposal and votes,
  // the valid value's proof of lock, and the timers and messages of the stored step.
  Status Resume(const HardState& hs, const DurableState& durable);
  using StoredBlocks = std::map<crypto::Hash256, Block>;
  Status LoadRecords(const DurableState& durable, StoredBlocks& blocks,
                     std::vector<PolRecord>& pols);
  Status RestoreLockAndValid(const HardState& hs, const StoredBlocks& blocks);
  Status RestoreOwnMessages(const HardState& hs, const StoredBlocks& blocks);
  Status RestoreProofOfLock(const std::vector<PolRecord>& pols);
  void ResumeStep();

  // Intake (bft.cpp).
  Status HandleProposal(ReplicaId from, const Proposal& p, bool verified);
  Status HandleVote(ReplicaId from, const Vote& v, bool verified);
  Status HandleDecision(ReplicaId from, const Decision& d);
  Status HandleEvidence(ReplicaId from, const Evidence& e);
  // Where a message of `height` goes: handled now, buffered, or dropped (after maybe
  // answering a laggard).
  enum class Disposition { kCurrent, kNextHeight, kStale, kDrop };
  Disposition Classify(uint64_t height) const;
  // The intake of a Proposal or Vote `m` signed by `signer` that is not for a round kept at
  // this height: dropped, answered with a Decision (a laggard), buffered (next height) or
  // counted towards a round skip (too far ahead). Returns the status to return for it, or
  // nullopt when `m` is for a kept round of this height and the caller goes on.
  template <typename M>
  std::optional<Status> RouteElsewhere(ReplicaId from, ReplicaId signer, const M& m, bool verified);
  Status Buffer(ReplicaId signer, const Message& m);
  void ReplayBuffered();
  RoundState* RoundFor(uint32_t round);
  void NoteRound(ReplicaId who, uint32_t round);
  // The decided height to send peer `to`, which signed a message of `their_height`, if
  // one is due now (rate limits); ReplyDecision sends it and notes it.
  std::optional<uint64_t> DecisionDue(ReplicaId to, uint64_t their_height) const;
  void ReplyDecision(ReplicaId to, uint64_t height);
  // Whether evidence of `key` would be accepted: in the height window, new, and for
  // `relayed` evidence (from a peer, not from votes this replica accepted) below the
  // per-validator cap.
  bool EvidenceWanted(const EvidenceKey& key, bool relayed) const;
  void AddEvidence(const Evidence& e, ReplicaId except, bool relayed);
  Status CheckIdentity(const Block& block);
  const Block* KnownBlock(const crypto::Hash256& hash) const;
  // Re-reads set(height()) and set(height() + 1) from the schedule: own index, quorum, the
  // peers messages go to, and the per-validator state sized by the set.
  void RefreshSets();
  // Whether this replica proposes (height_, round_).
  bool IsProposer() const;

  bool VerifyVote(const Vote& v) const;
  bool VerifyProposal(const Proposal& p) const;

  // Tendermint's rules (rules.cpp).
  void StartHeight(uint64_t height);
  void StartRound(uint32_t round);
  void EnterPropose();
  void Evaluate(uint32_t event_round);
  bool TryDecide(uint32_t round);
  void Decide(const Block& block, Certificate cert);
  // ProposalValidator::Validate, remembered per height when it succeeds; a failure is
  // remembered for the current round only, unless `recheck`.
  bool Valid(const Block& block, bool recheck = false);
  void CastVote(VoteType type, const std::optional<crypto::Hash256>& block);
  void SendProposal(const Block& block, uint32_t valid_round);
  void RecordBlock(const Block& block);
  // Persists the proof of lock of (round, block) and relays it to every peer, once.
  void RecordPol(uint32_t round, const crypto::Hash256& block);
  // A polka in a round this replica has left: adopted as the valid value if newer.
  void AdoptLatePolka(uint32_t round);
  // Sends the prevotes of `round` for `block` (a proof of lock) to `to`, or to all.
  void SendPol(uint32_t round, const crypto::Hash256& block, ReplicaId to);
  void Arm(Timer& t, uint32_t base);
  void OnTimeout(RoundStep kind, uint32_t round);
  void Rebroadcast();
  void Broadcast(const Message& m, ReplicaId except = kNoReplica);
  void Send(ReplicaId to, const Message& m);

  BftConfig cfg_;
  const Signer& signer_;
  const Verifier& verifier_;
  ProposalValidator& validator_;
  crypto::Hash256 chain_;
  // Validator sets: the schedule and, copied out of it, the sets of height_ and height_ + 1.
  // dynamic_: a schedule was given, so set(H) is known only up to last_decided_ + 2.
  ValidatorSchedule schedule_;
  bool dynamic_ = false;
  ValidatorSet cur_set_;
  ValidatorSet next_set_;
  std::optional<uint32_t> self_;  // own index in cur_set_
  std::vector<ReplicaId> peers_;  // members of cur_set_ and next_set_ but this one, by id
  uint32_t quorum_ = 1;
  uint32_t max_faulty_ = 0;

  // Tendermint state of the current height.
  uint64_t height_ = 1;
  uint32_t round_ = 0;
  RoundStep step_ = RoundStep::kPropose;
  uint32_t locked_round_ = kNoRound;
  std::optional<Block> locked_value_;
  uint32_t valid_round_ = kNoRound;
  std::optional<Block> valid_value_;
  std::map<uint32_t, RoundState> rounds_;
  std::set<crypto::Hash256> valid_cache_;                 // validated at this height
  std::map<crypto::Hash256, uint32_t> invalid_in_round_;  // failed, and in which round
  std::vector<int64_t> max_round_seen_;                   // per index in cur_set_, -1 none
  Timer propose_timer_, prevote_timer_, precommit_timer_;
  std::optional<Decision> decided_;  // this height is decided; waiting to move on
  BlockRef last_decided_;            // decided and advanced (or synced)

  // Messages for height_ + 1, signature checked, per signer's index in next_set_.
  std::vector<std::vector<Message>> next_height_;
  size_t next_height_count_ = 0;

  // Block records: bodies the hard state refers to, by hash, for this height.
  uint64_t next_record_ = 1;
  uint64_t first_record_of_height_ = 1;
  std::map<crypto::Hash256, uint64_t> recorded_;
  std::set<std::pair<uint32_t, crypto::Hash256>> recorded_pols_;

  // Evidence.
  std::vector<Evidence> evidence_;
  std::set<EvidenceKey> evidence_keys_;  // of the accepted height window

  // Laggards and block sync.
  std::map<uint64_t, Held> held_;
  std::map<ReplicaId, Reply> last_reply_;  // by peer member id; only peers of held sets
  std::optional<BlockRef> sync_target_;
  bool sync_handed_out_ = false;

  // Clock.
  uint64_t ticks_ = 0;
  uint32_t since_rebroadcast_ = 0;
  // Own proposal re-sends of the current round: the period doubles after each one.
  uint32_t proposal_resends_ = 0;
  uint64_t next_proposal_resend_ = 0;

  // The Ready cycle.
  std::vector<OutboundMessage> msgs_;
  std::vector<LogRecord> pending_records_;
  std::optional<uint64_t> pending_discard_;
  std::optional<Block> pending_commit_;
  std::vector<Bytes> pending_evidence_;
  HardState handed_hs_;
  bool ready_outstanding_ = false;
  std::optional<uint64_t> commit_in_ready_;
};

}  // namespace cairn::consensus::bft
