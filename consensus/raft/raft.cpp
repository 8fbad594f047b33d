// RaftEngine: construction, roles and elections, the Ready cycle, proposals and status.
// Replication (AppendEntries, snapshots, commit) is in replication.cpp, membership changes
// in membership.cpp.
#include "consensus/raft/raft.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace cairn::consensus::raft {
namespace {

std::string ReplicaName(ReplicaId r) {
  return r == kNoReplica ? std::string("none") : std::to_string(r);
}

Status ValidateConfig(const RaftConfig& c) {
  if (c.replicas == 0) return Status::Error("raft config: replicas must be at least 1");
  if (c.membership) {
    const Membership& m = *c.membership;
    if (c.id == kNoReplica) return Status::Error("raft config: no id");
    for (size_t k = 0; k < m.members.size(); ++k) {
      if (m.members[k] >= m.next_id || (k > 0 && m.members[k] <= m.members[k - 1])) {
        return Status::Error("raft config: members must be sorted, unique and below next_id");
      }
    }
  } else if (c.id >= c.replicas) {
    return Status::Error("raft config: id " + std::to_string(c.id) + " is not below replicas " +
                         std::to_string(c.replicas));
  }
  if (c.heartbeat_ticks == 0 || c.election_ticks <= c.heartbeat_ticks) {
    return Status::Error("raft config: need 0 < heartbeat_ticks < election_ticks");
  }
  if (c.max_uncommitted_blocks == 0 || c.max_inflight_msgs == 0 || c.max_msg_bytes == 0) {
    return Status::Error("raft config: pipeline limits must be positive");
  }
  return Status::Ok();
}

}  // namespace

RaftEngine::RaftEngine(const RaftConfig& config, const HardState& hs)
    : cfg_(config),
      rng_(config.seed),
      term_(hs.term),
      vote_(hs.vote),
      log_(hs.base),
      commit_(hs.commit),
      promoted_(hs.promoted),
      handed_hs_(hs) {
  if (cfg_.membership) {
    members_ = *cfg_.membership;
  } else {
    for (ReplicaId r = 0; r < cfg_.replicas; ++r) members_.members.push_back(r);
    members_.next_id = cfg_.replicas;
  }
  RecomputeConf();
}

Result<std::unique_ptr<RaftEngine>> RaftEngine::Open(const RaftConfig& config,
                                                     const DurableState& durable,
                                                     const BlockRef& applied) {
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  HardState hs;
  hs.base = LogBase{0, 0, config.genesis};
  if (durable.hard_state) {
    Result<HardState> decoded = DecodeHardState(*durable.hard_state);
    if (!decoded) return decoded.status();
    hs = *decoded;
  } else if (!durable.records.empty()) {
    return Status::Error("raft restart: log records without a hard state");
  }
  if (!config.membership && hs.vote != kNoReplica && hs.vote >= config.replicas) {
    return Status::Error("raft restart: vote for unknown replica " + std::to_string(hs.vote));
  }
  if (hs.base.term > hs.term) return Status::Error("raft restart: base term above current term");

  std::unique_ptr<RaftEngine> e(new RaftEngine(config, hs));
  RaftLog& log = e->log_;
  for (const LogRecord& rec : durable.records) {
    // Records at or below the base may outlive a compaction (deletion is lazy).
    if (rec.index <= hs.base.index) continue;
    if (rec.index != log.last_index() + 1) {
      return Status::Error("raft restart: record " + std::to_string(rec.index) + " after " +
                           std::to_string(log.last_index()) + " leaves a gap");
    }
    Result<Entry> entry = DecodeEntry(rec.data, rec.index);
    if (!entry) return entry.status().Wrap("raft restart");
    uint64_t want_height = log.last_height() + (entry->is_block() ? 1 : 0);
    if (entry->term < log.last_term() || entry->term > hs.term || entry->height != want_height) {
      return Status::Error("raft restart: entry " + std::to_string(rec.index) +
                           " has term/height out of order");
    }
    log.Append(std::move(*entry));
  }
  if (hs.commit < hs.base.index || hs.commit > log.last_index()) {
    return Status::Error("raft restart: commit " + std::to_string(hs.commit) +
                         " outside the stored log [" + std::to_string(hs.base.index) + ", " +
                         std::to_string(log.last_index()) + "]");
  }
  e->persisted_ = log.last_index();
  e->unstable_from_ = log.last_index() + 1;

  if (applied.height < hs.base.block.height) {
    // Crashed while block-syncing after a snapshot: ask again.
    e->sync_target_ = hs.base.block;
    e->applied_ = hs.base.index;
    e->applied_height_before_sync_ = applied.height;
  } else if (applied.height > e->CommitHeight()) {
    // The node applied committed blocks it got through block sync or a leader's push
    // before this replica learned the commit index. Hand out from the stored commit on:
    // the node skips heights it already holds, checking that their hashes match.
    e->applied_ = hs.commit;
  } else {
    uint64_t idx = log.LastIndexWithHeight(applied.height, hs.commit);
    if (log.BlockAt(idx).hash != applied.hash) {
      return Status::Error("raft restart: ledger block " + std::to_string(applied.height) +
                           " differs from the committed log");
    }
    e->applied_ = idx;
  }
  // Promotions applied before a crash but after the last persisted hard state are in the
  // stored log: apply them again (a promotion is idempotent).
  for (uint64_t i = log.first_index(); i <= e->applied_ && i <= log.last_index(); ++i) {
    const Entry& en = log.At(i);
    if (en.type == EntryType::kPromote) e->ApplyPromotion(Promotion{i, en.member});
  }
  e->conf_index_ = 0;
  e->BecomeFollower(hs.term, kNoReplica);
  return e;
}

// ---- Roles ----

void RaftEngine::ResetElectionTimeout() {
  randomized_election_timeout_ =
      cfg_.election_ticks + static_cast<uint32_t>(rng_.Uniform(cfg_.election_ticks));
}

void RaftEngine::Reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoReplica;
  }
  leader_ = kNoReplica;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetElectionTimeout();
  votes_.clear();
  transferee_ = kNoReplica;
  progress_.clear();
  auto add = [&](ReplicaId r) {
    Progress pr(cfg_.max_inflight_msgs);
    pr.next = log_.last_index() + 1;
    if (r == cfg_.id) pr.match = persisted_;
    progress_.emplace(r, std::move(pr));
  };
  for (ReplicaId r : members_.members) add(r);
  if (!progress_.count(cfg_.id)) add(cfg_.id);
}

void RaftEngine::BecomeFollower(uint64_t term, ReplicaId leader) {
  Reset(term);
  leader_ = leader;
  role_ = Role::kFollower;
}

void RaftEngine::BecomePreCandidate() {
  // Neither the term nor the vote changes: a pre-vote that fails leaves no trace, so a
  // partitioned replica cannot inflate its term and depose a healthy leader on return.
  role_ = Role::kPreCandidate;
  leader_ = kNoReplica;
  votes_.clear();
}

void RaftEngine::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = cfg_.id;
  role_ = Role::kCandidate;
}

void RaftEngine::BecomeLeader() {
  won_with_.clear();
  for (const auto& [r, v] : votes_) {
    if (v == 1) won_with_.push_back(r);
  }
  Reset(term_);
  leader_ = cfg_.id;
  role_ = Role::kLeader;
  progress_.at(cfg_.id).recent_active = true;
  // Any unapplied entry may be a block that changes the members: a second change must wait
  // until it is applied (etcd's pendingConfIndex = lastIndex on becoming leader).
  if (cfg_.membership) pending_conf_index_ = log_.last_index();
  // Section 5.4.2: entries of earlier terms commit only once an entry of this term does.
  Entry noop;
  noop.index = log_.last_index() + 1;
  noop.term = term_;
  noop.type = EntryType::kNoop;
  noop.height = log_.last_height();
  AppendEntry(std::move(noop));
}

void RaftEngine::Campaign(bool pre_vote, bool transfer) {
  uint64_t vote_term;
  MsgType type;
  if (pre_vote) {
    BecomePreCandidate();
    vote_term = term_ + 1;
    type = MsgType::kPreVote;
  } else {
    BecomeCandidate();
    vote_term = term_;
    type = MsgType::kVote;
  }
  votes_[cfg_.id] = 1;
  if (Quorum() == 1 && IsVoter(cfg_.id)) {
    if (pre_vote) {
      Campaign(/*pre_vote=*/false);
    } else {
      BecomeLeader();
      BcastAppend();
    }
    return;
  }
  for (ReplicaId r : conf_.voters) {
    if (r == cfg_.id) continue;
    Message m;
    m.type = type;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer && !pre_vote;
    Send(r, std::move(m));
  }
}

void RaftEngine::Poll(ReplicaId from, bool granted) {
  // Only the votes of our voters count: a learner may answer (etcd lets it, in case our
  // config promoted it before its own did) but never tips an election.
  if (!IsVoter(from)) return;
  votes_.emplace(from, granted ? 1 : 0);
  size_t yes = 0, no = 0;
  for (const auto& [r, v] : votes_) {
    if (!IsVoter(r)) continue;
    if (v == 1) ++yes;
    if (v == 0) ++no;
  }
  if (yes >= Quorum()) {
    if (role_ == Role::kPreCandidate) {
      Campaign(/*pre_vote=*/false);
    } else {
      BecomeLeader();
      BcastAppend();
    }
  } else if (no >= Quorum()) {
    BecomeFollower(term_, kNoReplica);
  }
}

void RaftEngine::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void RaftEngine::TickElection() {
  ++election_elapsed_;
  // Learners, replicas not (yet) members and removed ones never campaign; the timer still
  // runs so that their leader lease expires like anyone's.
  if (election_elapsed_ >= randomized_election_timeout_ && Promotable()) {
    election_elapsed_ = 0;
    Campaign(cfg_.pre_vote);
  }
}

void RaftEngine::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (removed_) {
    ++transfer_elapsed_;
    MaybeFinishTransfer();
    if (role_ != Role::kLeader) return;
  }
  if (election_elapsed_ >= cfg_.election_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum && !QuorumActive()) {
      // A leader cut off from a quorum steps down so that clients stop waiting on it
      // and it stops claiming the lease the followers grant it.
      BecomeFollower(term_, kNoReplica);
      return;
    }
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    BcastHeartbeat();
  }
}

bool RaftEngine::QuorumActive() {
  size_t active = 0;
  for (auto& [r, pr] : progress_) {
    if (IsVoter(r) && (r == cfg_.id || pr.recent_active)) ++active;
    if (r != cfg_.id) pr.recent_active = false;
  }
  return active >= Quorum();
}

// ---- Messages ----

Status RaftEngine::Step(ReplicaId from, ByteView message) {
  Result<Message> m = DecodeMessage(message);
  if (!m) return m.status().Wrap("from replica " + std::to_string(from));
  return StepOwned(from, *m);
}

Status RaftEngine::StepMessage(ReplicaId from, const Message& m) {
  Message own = m;
  return StepOwned(from, own);
}

Status RaftEngine::StepOwned(ReplicaId from, Message& m) {
  std::string what =
      "raft " + std::string(MsgTypeName(m.type)) + " from replica " + std::to_string(from);
  if (from == cfg_.id || from == kNoReplica || (!cfg_.membership && from >= cfg_.replicas)) {
    return Status::Error(what + ": bad sender");
  }
  if (m.term == 0) return Status::Error(what + ": term 0");
  if (m.type == MsgType::kApp) {
    if (Status s = CheckApp(m); !s.ok()) return s.Wrap(what);
  }
  if (m.type == MsgType::kSnapshot && m.snapshot.term > m.term) {
    return Status::Error(what + ": snapshot term above message term");
  }
  if (removed_) {
    // Out of the cluster: it answers nothing, so it can never count towards a quorum. Only
    // a leader handing over its leadership still listens to acknowledgements.
    if (role_ != Role::kLeader) return Status::Ok();
    if (m.term > term_) {
      BecomeFollower(m.term, kNoReplica);
      return Status::Ok();
    }
    if (m.term < term_ || (m.type != MsgType::kAppResp && m.type != MsgType::kHeartbeatResp)) {
      return Status::Ok();
    }
  }

  if (m.term > term_) {
    if (m.type == MsgType::kVote || m.type == MsgType::kPreVote) {
      // While we hear from a live leader, ignore candidates, so a replica that was
      // partitioned away cannot depose a healthy leader when it comes back: for pre-votes
      // as the thesis (9.6) defines them, for votes when CheckQuorum makes leaders step
      // down on their own (4.2.3), as etcd does.
      // A transfer campaign is the leader's own request: no lease stands against it.
      bool lease_applies = m.type == MsgType::kPreVote ? (cfg_.pre_vote || cfg_.check_quorum)
                                                       : cfg_.check_quorum && !m.transfer;
      bool in_lease =
          lease_applies && leader_ != kNoReplica && election_elapsed_ < cfg_.election_ticks;
      if (in_lease) return Status::Ok();
    }
    if (m.type == MsgType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MsgType::kPreVoteResp && !m.reject) {
      // A granted pre-vote carries the term we would campaign in; counted below.
    } else if (m.type == MsgType::kApp || m.type == MsgType::kHeartbeat ||
               m.type == MsgType::kSnapshot) {
      BecomeFollower(m.term, from);
    } else if (m.type == MsgType::kVote) {
      // A vote request moves us to its term but does not restart our election timer: only a
      // leader's append or a granted vote does (Figure 2). Restarting it, as etcd does, lets
      // candidates whose logs are too old to win keep every up-to-date replica from ever
      // campaigning when their clocks run fast and pre-vote is off: a livelock the
      // simulation found (seeds 6387957 and 6436029).
      uint32_t elapsed = role_ == Role::kLeader ? 0 : election_elapsed_;
      uint32_t timeout = randomized_election_timeout_;
      BecomeFollower(m.term, kNoReplica);
      election_elapsed_ = elapsed;
      randomized_election_timeout_ = timeout;
    } else {
      BecomeFollower(m.term, kNoReplica);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == MsgType::kApp || m.type == MsgType::kHeartbeat)) {
      // A stale leader (e.g. it was partitioned) learns our term and steps down. Without
      // this, a replica whose term rose while the leader lost contact could never rejoin
      // with pre-vote on (its pre-votes fail while the old leader holds the others).
      Message resp;
      resp.type = MsgType::kAppResp;
      resp.term = term_;
      Send(from, std::move(resp));
    } else if (m.type == MsgType::kPreVote) {
      Message resp;
      resp.type = MsgType::kPreVoteResp;
      resp.term = term_;
      resp.reject = true;
      Send(from, std::move(resp));
    }
    return Status::Ok();
  }

  if (m.type == MsgType::kVote || m.type == MsgType::kPreVote) {
    HandleVoteRequest(from, m);
    return Status::Ok();
  }

  switch (role_) {
    case Role::kLeader:
      switch (m.type) {
        case MsgType::kAppResp:
          return HandleAppResp(from, m);
        case MsgType::kHeartbeatResp:
          HandleHeartbeatResp(from);
          return Status::Ok();
        case MsgType::kApp:
        case MsgType::kHeartbeat:
        case MsgType::kSnapshot:
          return Status::Error(what + ": a second leader in term " + std::to_string(term_));
        default:
          return Status::Ok();
      }
    case Role::kPreCandidate:
    case Role::kCandidate:
      switch (m.type) {
        case MsgType::kApp:
          BecomeFollower(m.term, from);
          return HandleAppend(from, m);
        case MsgType::kHeartbeat:
          BecomeFollower(m.term, from);
          HandleHeartbeat(from, m);
          return Status::Ok();
        case MsgType::kSnapshot:
          BecomeFollower(m.term, from);
          return HandleSnapshot(from, m);
        case MsgType::kTimeoutNow:
          if (Promotable()) Campaign(/*pre_vote=*/false, /*transfer=*/true);
          return Status::Ok();
        case MsgType::kPreVoteResp:
          if (role_ == Role::kPreCandidate) Poll(from, !m.reject);
          return Status::Ok();
        case MsgType::kVoteResp:
          if (role_ == Role::kCandidate) Poll(from, !m.reject);
          return Status::Ok();
        default:
          return Status::Ok();
      }
    case Role::kFollower:
      switch (m.type) {
        case MsgType::kApp:
        case MsgType::kHeartbeat:
        case MsgType::kSnapshot:
          if (leader_ != kNoReplica && leader_ != from) {
            return Status::Error(what + ": a second leader in term " + std::to_string(term_) +
                                 " (we follow " + std::to_string(leader_) + ")");
          }
          election_elapsed_ = 0;
          leader_ = from;
          if (m.type == MsgType::kApp) return HandleAppend(from, m);
          if (m.type == MsgType::kSnapshot) return HandleSnapshot(from, m);
          HandleHeartbeat(from, m);
          return Status::Ok();
        case MsgType::kTimeoutNow:
          // Our leader hands over (it was removed): campaign now, without a pre-vote.
          if (Promotable() && (leader_ == from || leader_ == kNoReplica)) {
            Campaign(/*pre_vote=*/false, /*transfer=*/true);
          }
          return Status::Ok();
        default:
          return Status::Ok();
      }
  }
  return Status::Ok();
}

void RaftEngine::HandleVoteRequest(ReplicaId from, const Message& m) {
  bool pre = m.type == MsgType::kPreVote;
  // We may vote again for whom we voted; for anyone if we have neither voted nor seen a
  // leader this term; and pre-vote for anyone in a future term (it binds nothing).
  bool can_vote =
      vote_ == from || (vote_ == kNoReplica && leader_ == kNoReplica) || (pre && m.term > term_);
  Message resp;
  resp.type = pre ? MsgType::kPreVoteResp : MsgType::kVoteResp;
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    resp.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  Send(from, std::move(resp));
}

// ---- Proposals ----

std::optional<ProposalSlot> RaftEngine::ProposalWanted() const {
  // A leader still block-syncing lacks the parent's state: it cannot build a block yet.
  if (role_ != Role::kLeader || sync_target_) return std::nullopt;
  // One config change in flight at most; a removed leader only hands over.
  if (removed_ || applied_ < pending_conf_index_) return std::nullopt;
  if (log_.last_height() - CommitHeight() >= cfg_.max_uncommitted_blocks) return std::nullopt;
  ProposalSlot slot;
  slot.parent = log_.BlockAt(log_.last_index());
  slot.parent_committed = slot.parent.height <= CommitHeight();
  return slot;
}

Status RaftEngine::Propose(Block block) {
  return ProposeBlock(std::move(block), /*changes_config=*/false);
}

Status RaftEngine::ProposeBlock(Block block, bool changes_config) {
  if (role_ != Role::kLeader) {
    return Status::Error("raft: not the leader (leader is " + ReplicaName(leader_) + ")");
  }
  if (sync_target_) return Status::Error("raft: block sync in progress");
  if (removed_) return Status::Error("raft: this replica was removed; it is handing over");
  if (applied_ < pending_conf_index_) {
    return Status::Error("raft: a membership change at index " +
                         std::to_string(pending_conf_index_) + " is not applied yet");
  }
  if (changes_config && !cfg_.membership) {
    return Status::Error("raft: membership changes are not enabled");
  }
  if (block.height != log_.last_height() + 1) {
    return Status::Error("raft: proposed height " + std::to_string(block.height) + ", expected " +
                         std::to_string(log_.last_height() + 1));
  }
  if (log_.last_height() - CommitHeight() >= cfg_.max_uncommitted_blocks) {
    return Status::Error("raft: pipeline full (" + std::to_string(cfg_.max_uncommitted_blocks) +
                         " uncommitted blocks)");
  }
  if (block.data.size() > kMaxBlockBytes) {
    return Status::Error("raft: block of " + std::to_string(block.data.size()) + " bytes exceeds " +
                         std::to_string(kMaxBlockBytes));
  }
  Entry e;
  e.index = log_.last_index() + 1;
  e.term = term_;
  e.type = EntryType::kBlock;
  e.height = block.height;
  e.hash = block.hash;
  e.data = std::move(block.data);
  if (changes_config) pending_conf_index_ = e.index;
  AppendEntry(std::move(e));
  BcastAppend();
  return Status::Ok();
}

// ---- Ready cycle ----

bool RaftEngine::HasReady() const {
  if (ready_outstanding_) return false;
  return hard_state() != handed_hs_ || pending_truncate_ || pending_discard_ ||
         unstable_from_ <= log_.last_index() || !msgs_.empty() ||
         (sync_target_ && !sync_handed_out_) || (!sync_target_ && commit_ > applied_);
}

Ready RaftEngine::TakeReady() {
  assert(!ready_outstanding_);
  Ready rd;
  HardState hs = hard_state();
  if (hs != handed_hs_) {
    rd.hard_state = EncodeHardState(hs);
    handed_hs_ = hs;
  }
  rd.truncate_from = pending_truncate_;
  pending_truncate_.reset();
  for (uint64_t i = unstable_from_; i <= log_.last_index(); ++i) {
    const Entry& e = log_.At(i);
    LogRecord rec{i, EncodeEntry(e)};
    if (e.is_block()) {
      // The node stores the block once, beside the record, and its ledger reuses it.
      rec.block_hash = e.hash;
      rec.block_offset = kEntryDataOffset;
      rec.block_size = e.data.size();
    }
    rd.append.push_back(std::move(rec));
  }
  ready_persist_to_ = log_.last_index();
  unstable_from_ = log_.last_index() + 1;
  rd.discard_through = pending_discard_;
  pending_discard_.reset();

  rd.messages.reserve(msgs_.size());
  for (auto& [to, m] : msgs_) rd.messages.push_back(OutboundMessage{to, EncodeMessage(m)});
  msgs_.clear();

  if (sync_target_) {
    if (!sync_handed_out_) rd.sync_to = *sync_target_;
    sync_handed_out_ = true;
  } else {
    for (uint64_t i = applied_ + 1; i <= commit_; ++i) {
      const Entry& e = log_.At(i);
      if (e.is_block()) rd.committed.push_back(Block{e.height, e.hash, e.data, {}});
      if (e.type == EntryType::kPromote) ready_promotions_.push_back(Promotion{i, e.member});
    }
    applied_ = commit_;
  }
  ready_outstanding_ = true;
  return rd;
}

void RaftEngine::Advance() {
  assert(ready_outstanding_);
  ready_outstanding_ = false;
  persisted_ = std::max(persisted_, ready_persist_to_);
  // The config changes of the entries this Ready handed out, in log order: promotions and
  // the member sets the node reported for the blocks it applied.
  size_t p = 0, c = 0;
  while (p < ready_promotions_.size() || c < ready_configs_.size()) {
    if (c == ready_configs_.size() ||
        (p < ready_promotions_.size() && ready_promotions_[p].index < ready_configs_[c].first)) {
      ApplyPromotion(ready_promotions_[p++]);
    } else {
      ApplyMembership(ready_configs_[c].second, ready_configs_[c].first);
      ++c;
    }
  }
  ready_promotions_.clear();
  ready_configs_.clear();
  if (role_ == Role::kLeader) {
    // Our own disk counts towards the quorum only once it is durable.
    if (auto it = progress_.find(cfg_.id); it != progress_.end()) {
      it->second.MaybeUpdate(persisted_);
    }
    if (MaybeCommit()) BcastAppend();
    MaybePromote();
  }
}

Status RaftEngine::SyncCompleted(const BlockRef& tip) {
  if (!sync_target_) return Status::Error("raft: no block sync was requested");
  if (tip != *sync_target_) {
    return Status::Error("raft: synced to height " + std::to_string(tip.height) +
                         ", but consensus asked for height " +
                         std::to_string(sync_target_->height) + " with a different hash");
  }
  sync_target_.reset();
  sync_handed_out_ = false;
  return Status::Ok();
}

Status RaftEngine::Compact(uint64_t height) {
  if (sync_target_) return Status::Error("raft: cannot compact while block-syncing");
  if (height <= log_.base().block.height) return Status::Ok();
  uint64_t limit = std::min(applied_, persisted_);
  if (height > log_.HeightAt(limit)) {
    return Status::Error("raft: cannot compact to height " + std::to_string(height) +
                         " above applied height " + std::to_string(log_.HeightAt(limit)));
  }
  uint64_t idx = log_.LastIndexWithHeight(height, limit);
  if (idx <= log_.base().index) return Status::Ok();
  log_.CompactTo(LogBase{idx, *log_.Term(idx), log_.BlockAt(idx)});
  pending_discard_ = idx;
  return Status::Ok();
}

EngineStatus RaftEngine::GetStatus() const {
  EngineStatus s;
  s.id = cfg_.id;
  s.role = role_;
  s.term = term_;
  s.leader = leader_;
  s.commit_height = CommitHeight();
  s.applied_height = sync_target_ ? applied_height_before_sync_ : log_.HeightAt(applied_);
  s.last_log_height = log_.last_height();
  s.removed = removed_;
  s.learner = cfg_.membership.has_value() && !removed_ && !IsVoter(cfg_.id);
  return s;
}

}  // namespace cairn::consensus::raft
