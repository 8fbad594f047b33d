// RaftEngine: Raft (Ongaro & Ousterhout, with the thesis' PreVote and CheckQuorum) as a
// deterministic state machine in the style of etcd's raft: Tick/Step/Propose in, Ready
// out. Log entries are blocks or no-ops; only blocks have heights. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
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

struct RaftConfig {
  ReplicaId id = 0;
  uint32_t replicas = 1;  // the voters are 0..replicas-1
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

  // Step for an already decoded message (Step decodes and calls this; tests craft
  // messages directly).
  Status StepMessage(ReplicaId from, const Message& m);

  // Introspection for tests and the simulation.
  const RaftLog& log() const { return log_; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  uint64_t commit_index() const { return commit_; }
  HardState hard_state() const { return HardState{term_, vote_, commit_, log_.base()}; }
  const RaftConfig& config() const { return cfg_; }

 private:
  RaftEngine(const RaftConfig& config, const HardState& hs);

  size_t Quorum() const { return cfg_.replicas / 2 + 1; }
  uint64_t CommitHeight() const { return log_.HeightAt(commit_); }
  void Send(ReplicaId to, Message m) { msgs_.emplace_back(to, std::move(m)); }

  // Roles (raft.cpp).
  void Reset(uint64_t term);
  void ResetElectionTimeout();
  void BecomeFollower(uint64_t term, ReplicaId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Campaign(bool pre_vote);
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
  std::vector<int8_t> votes_;       // candidate: -1 unknown, 0 rejected, 1 granted
  std::vector<Progress> progress_;  // leader: one per replica (ours tracks our own disk)

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
