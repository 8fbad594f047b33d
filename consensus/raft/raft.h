// RaftEngine: Raft (Ongaro & Ousterhout, with the thesis' PreVote and CheckQuorum) as a
// deterministic state machine in the style of etcd's raft: Tick/Step/Propose in, Ready
// out. Log entries are blocks, no-ops or promotions; only blocks have heights. Membership
// changes follow etcd's rules (apply-time config, learners, one change in flight, leadership
// transfer): docs/CONSENSUS.md. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consensus/engine.h"
#include "consensus/raft/messages.h"
#include "consensus/raft/progress.h"
#include "consensus/raft/raft_log.h"
#include "consensus/rng.h"

namespace cairn::consensus::raft {

// The member set the node's state holds after a block (set/members, design membership.md
// section 1): the validators' member ids and the next id to allocate. Ids are never reused,
// so an id below next_id that is not a member was removed.
struct Membership {
  std::vector<ReplicaId> members;  // sorted, unique
  ReplicaId next_id = 0;           // above every member

  friend bool operator==(const Membership&, const Membership&) = default;
};

// Who takes part in Raft, as this replica applied it: voters elect leaders and count towards
// commits; learners receive entries and nothing else. Derived from the node's Membership and
// the engine's promotions: a member votes if it is a genesis voter (id < replicas) or was
// promoted.
struct ConfState {
  std::vector<ReplicaId> voters;    // sorted
  std::vector<ReplicaId> learners;  // sorted, disjoint from voters

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

struct RaftConfig {
  ReplicaId id = 0;
  uint32_t replicas = 1;  // the genesis voters are 0..replicas-1
  // The block every replica starts from (genesis): the base of a fresh log.
  BlockRef genesis;
  // A follower campaigns after a timeout drawn uniformly from
  // [election_ticks, 2 * election_ticks); a leader steps down (check_quorum) if it has not
  // heard from a quorum within election_ticks. REQUIRES: election_ticks > heartbeat_ticks.
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  // Pipelining bound K: the leader holds at most this many uncommitted blocks in its log
  // and ProposalWanted() stays empty until one commits.
  uint32_t max_uncommitted_blocks = 4;
  // Per follower, at most this many App messages unacknowledged while replicating.
  uint32_t max_inflight_msgs = 64;
  // Soft cap on block bytes per App message (one entry is always allowed).
  size_t max_msg_bytes = 4u << 20;
  // Seeds the election-timeout randomisation. Use a different value on each replica and
  // on each start (the node draws it from the OS; the simulation from its seed).
  uint64_t seed = 0;
  // Set when the chain can change its members (governance): the member set at the node's
  // applied block, given at every open. Then `id` may be any member id (a joining replica's
  // is not a member yet: it follows whichever leader sends it entries), members beyond the
  // genesis voters are learners until promoted, and a new leader proposes nothing until it
  // has applied its whole log (etcd's pendingConfIndex = lastIndex), so at most one change
  // is ever in flight. Unset: the voters are 0..replicas-1 forever, exactly as before.
  std::optional<Membership> membership;
};

class RaftEngine final : public Engine {
 public:
  // Starts from what the node stored (empty on first boot) and the node ledger's last
  // applied block. Rejects an invalid config and stored state that is corrupt or
  // inconsistent with the ledger, naming what is wrong.
  static Result<std::unique_ptr<RaftEngine>> Open(const RaftConfig& config,
                                                  const DurableState& durable,
                                                  const BlockRef& applied);

  // Engine.
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

  // ---- Membership (RaftConfig::membership set; see docs/CONSENSUS.md) ----
  //
  // The node applied block `height`, after which its member set is `m`. Call it for every
  // applied block whose execution changed the set, before Advance() of the Ready that handed
  // the block out, and after SyncCompleted() with the set at the synced tip; a set equal to
  // the current one is a no-op. It takes effect at once (apply-time config, as in etcd):
  // elections and commit counting use it from here on, added members join as learners, a
  // replica that applied its own removal stops voting and campaigning, and a leader that did
  // hands leadership to the most up-to-date voter (TimeoutNow) and steps down.
  Status ApplyConfig(const Membership& m, uint64_t height);
  // Propose, saying whether executing `block` changes the member set (the node knows: it
  // built the block). A leader then proposes nothing more until it has applied it.
  Status ProposeBlock(Block block, bool changes_config) override;
  Status ApplyMembers(const std::vector<ReplicaId>& members, ReplicaId next_id,
                      uint64_t height) override {
    return ApplyConfig(Membership{members, next_id}, height);
  }
  const ConfState& conf() const { return conf_; }
  const Membership& membership() const { return members_; }
  // The log index of the last config change this replica applied from its own log (a
  // promotion or a change-carrying block); 0 when its config came from elsewhere (restart,
  // block sync) and the index is not known.
  uint64_t conf_index() const { return conf_index_; }
  // This replica applied its own removal: it votes, campaigns and acknowledges no more.
  bool removed() const { return removed_; }
  // Whether this replica may campaign: a voter not removed.
  bool Promotable() const { return !removed_ && IsVoter(cfg_.id); }
  // The voters whose granted votes made this replica leader in its current term (tests).
  const std::vector<ReplicaId>& won_with() const { return won_with_; }

  // Step for an already decoded message (Step decodes and calls this; tests craft
  // messages directly).
  Status StepMessage(ReplicaId from, const Message& m);

  // Introspection for tests and the simulation.
  const RaftLog& log() const { return log_; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  uint64_t commit_index() const { return commit_; }
  HardState hard_state() const { return HardState{term_, vote_, commit_, log_.base(), promoted_}; }
  const RaftConfig& config() const { return cfg_; }

 private:
  RaftEngine(const RaftConfig& config, const HardState& hs);

  size_t Quorum() const { return conf_.voters.size() / 2 + 1; }
  bool IsVoter(ReplicaId id) const;
  // Recomputes conf_ and removed_ from members_ and promoted_.
  void RecomputeConf();
  // Applies one config change at log index `index` (0: index unknown).
  void ApplyMembership(const Membership& m, uint64_t index);
  void ApplyPromotion(const Promotion& p);
  // Leader: progress for every member but ourselves' peers, after a config change.
  void SyncProgress();
  void MaybePromote();
  void MaybeFinishTransfer();
  uint64_t CommitHeight() const { return log_.HeightAt(commit_); }
  void Send(ReplicaId to, Message m) { msgs_.emplace_back(to, std::move(m)); }

  // Roles (raft.cpp).
  void Reset(uint64_t term);
  void ResetElectionTimeout();
  void BecomeFollower(uint64_t term, ReplicaId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Campaign(bool pre_vote, bool transfer = false);
  void Poll(ReplicaId from, bool granted);
  void TickElection();
  void TickHeartbeat();
  bool QuorumActive();
  void HandleVoteRequest(ReplicaId from, const Message& m);

  // Replication (replication.cpp).
  Status CheckApp(const Message& m) const;
  // Takes `m` by non-const reference: its entries are moved into the log, not copied (a
  // block entry is the whole block).
  Status StepOwned(ReplicaId from, Message& m);
  Status HandleAppend(ReplicaId from, Message& m);
  void HandleHeartbeat(ReplicaId from, const Message& m);
  Status HandleSnapshot(ReplicaId from, const Message& m);
  Status HandleAppResp(ReplicaId from, const Message& m);
  void HandleHeartbeatResp(ReplicaId from);
  bool SendAppend(ReplicaId to, bool send_if_empty);
  void BcastAppend();
  void BcastHeartbeat();
  bool MaybeCommit();
  void CommitTo(uint64_t index);
  void AppendEntry(Entry e);
  void TruncateFrom(uint64_t index);

  RaftConfig cfg_;
  Rng rng_;

  // Raft state.
  uint64_t term_ = 0;
  ReplicaId vote_ = kNoReplica;
  ReplicaId leader_ = kNoReplica;
  Role role_ = Role::kFollower;
  RaftLog log_;
  uint64_t commit_ = 0;
  std::map<ReplicaId, int8_t> votes_;       // candidate: 0 rejected, 1 granted, by voter
  std::map<ReplicaId, Progress> progress_;  // leader: one per member (ours tracks our disk)
  std::vector<ReplicaId> won_with_;

  // Membership (all of it constant without RaftConfig::membership).
  Membership members_;
  // The block height that added each member the engine saw join (ApplyConfig): a learner is
  // promoted only once the log holds a block above it (membership.cpp MaybePromote).
  std::map<ReplicaId, uint64_t> learner_since_;
  std::vector<Promotion> promoted_;  // applied, by index
  ConfState conf_;
  uint64_t conf_index_ = 0;
  bool removed_ = false;
  // A leader proposes nothing while applied_ is below this: its log holds a config change
  // (or, for a new leader, may hold one) it has not applied yet.
  uint64_t pending_conf_index_ = 0;
  // A removed leader's transfer: the voter it waits for, and ticks spent waiting.
  ReplicaId transferee_ = kNoReplica;
  uint32_t transfer_elapsed_ = 0;
  // Changes of the Ready outstanding, applied in log order at Advance(): promotions it
  // handed out and member sets the node reported while applying its blocks.
  std::vector<Promotion> ready_promotions_;
  std::vector<std::pair<uint64_t, Membership>> ready_configs_;

  // Timers, in ticks.
  uint32_t election_elapsed_ = 0;
  uint32_t heartbeat_elapsed_ = 0;
  uint32_t randomized_election_timeout_ = 0;

  // What has been handed to the node and what it has done with it.
  uint64_t persisted_ = 0;      // last index durable on our disk (Advance() confirms)
  uint64_t unstable_from_ = 1;  // first index not yet handed out for persisting
  uint64_t applied_ = 0;        // last index whose block was handed out (or synced)
  HardState handed_hs_;         // the hard state the node last persisted
  std::optional<uint64_t> pending_truncate_;
  std::optional<uint64_t> pending_discard_;
  std::vector<std::pair<ReplicaId, Message>> msgs_;
  // Block sync requested by a snapshot and not yet reported done.
  std::optional<BlockRef> sync_target_;
  bool sync_handed_out_ = false;
  uint64_t applied_height_before_sync_ = 0;
  // The Ready handed out and not yet advanced.
  bool ready_outstanding_ = false;
  uint64_t ready_persist_to_ = 0;
};

}  // namespace cairn::consensus::raft
