// RaftEngine: membership changes with etcd's rules (docs/CONSENSUS.md "Membership
// changes"): the applied config, learners and their promotion, and a removed leader's
// leadership transfer. Elections, replication and the Ready cycle consult it.
#include <algorithm>
#include <iterator>
#include <string>

#include "consensus/raft/raft.h"

namespace cairn::consensus::raft {

bool RaftEngine::IsVoter(ReplicaId id) const {
  return std::binary_search(conf_.voters.begin(), conf_.voters.end(), id);
}

void RaftEngine::RecomputeConf() {
  ConfState c;
  for (ReplicaId m : members_.members) {
    bool promoted = std::any_of(promoted_.begin(), promoted_.end(),
                                [&](const Promotion& p) { return p.id == m; });
    (m < cfg_.replicas || promoted ? c.voters : c.learners).push_back(m);
  }
  conf_ = std::move(c);
  removed_ = cfg_.id < members_.next_id &&
             !std::binary_search(members_.members.begin(), members_.members.end(), cfg_.id);
}

void RaftEngine::ApplyPromotion(const Promotion& p) {
  // Grow-only and keyed by id (ids are never reused), so applying one twice, or before the
  // node reported the block that added the member, ends in the same configuration.
  for (const Promotion& q : promoted_) {
    if (q.id == p.id) return;
  }
  promoted_.push_back(p);
  ConfState before = conf_;
  RecomputeConf();
  if (conf_ != before) conf_index_ = p.index;
  SyncProgress();
}

void RaftEngine::ApplyMembership(const Membership& m, uint64_t index) {
  if (m == members_) return;
  members_ = m;
  ConfState before = conf_;
  RecomputeConf();
  if (conf_ != before) conf_index_ = index;
  SyncProgress();
  if (!removed_) return;
  transferee_ = kNoReplica;
  if (role_ != Role::kLeader) {
    // Out of the cluster: no campaign of ours may count any more.
    if (role_ != Role::kFollower) BecomeFollower(term_, kNoReplica);
    return;
  }
  // Thesis 3.10: hand leadership to the most up-to-date voter, then step down, so the
  // cluster does not wait an election timeout for a new leader.
  uint64_t best = 0;
  for (ReplicaId v : conf_.voters) {
    auto it = progress_.find(v);
    if (it != progress_.end() && (transferee_ == kNoReplica || it->second.match > best)) {
      transferee_ = v;
      best = it->second.match;
    }
  }
  transfer_elapsed_ = 0;
  if (transferee_ == kNoReplica) return BecomeFollower(term_, kNoReplica);
  SendAppend(transferee_, /*send_if_empty=*/true);
  MaybeFinishTransfer();
}

void RaftEngine::MaybeFinishTransfer() {
  if (role_ != Role::kLeader || !removed_ || transferee_ == kNoReplica) return;
  auto it = progress_.find(transferee_);
  bool caught_up = it != progress_.end() && it->second.match == log_.last_index();
  if (!caught_up && transfer_elapsed_ < cfg_.election_ticks) return;
  Message m;
  m.type = MsgType::kTimeoutNow;
  m.term = term_;
  Send(transferee_, std::move(m));
  transferee_ = kNoReplica;
  BecomeFollower(term_, kNoReplica);
}

void RaftEngine::SyncProgress() {
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    bool member = std::binary_search(members_.members.begin(), members_.members.end(), it->first);
    it = member || it->first == cfg_.id ? std::next(it) : progress_.erase(it);
  }
  for (ReplicaId m : members_.members) {
    if (progress_.count(m)) continue;
    Progress pr(cfg_.max_inflight_msgs);
    pr.next = log_.last_index() + 1;
    progress_.emplace(m, std::move(pr));
  }
  // A smaller quorum may commit at once (etcd does the same on a config change).
  if (MaybeCommit()) BcastAppend();
}

void RaftEngine::MaybePromote() {
  if (role_ != Role::kLeader || removed_ || conf_.learners.empty()) return;
  if (applied_ < pending_conf_index_ || ready_outstanding_) return;
  for (ReplicaId l : conf_.learners) {
    auto it = progress_.find(l);
    if (it == progress_.end() || it->second.match < commit_) continue;
    // A member added by block h governs heights >= h + 2 only: promoted before h + 1 is in the
    // log, it could win an election and propose h + 1, which its key may not sign. So the
    // promote entry must follow a block above the one that added it; a learner this leader
    // knows no height for (it restarted) waits for one block more than the log has now.
    auto [since, fresh] = learner_since_.try_emplace(l, log_.last_height());
    (void)fresh;
    if (log_.last_height() < since->second + 1) continue;
    // Caught up: it holds everything committed, so as a voter it cannot slow commits down.
    Entry e;
    e.index = log_.last_index() + 1;
    e.term = term_;
    e.type = EntryType::kPromote;
    e.height = log_.last_height();
    e.member = l;
    pending_conf_index_ = e.index;
    AppendEntry(std::move(e));
    BcastAppend();
    return;
  }
}

Status RaftEngine::ApplyConfig(const Membership& m, uint64_t height) {
  if (!cfg_.membership) return Status::Error("raft: membership changes are not enabled");
  for (size_t k = 0; k < m.members.size(); ++k) {
    if (m.members[k] >= m.next_id || (k > 0 && m.members[k] <= m.members[k - 1])) {
      return Status::Error("raft: members must be sorted, unique and below next_id");
    }
  }
  if (m.next_id < members_.next_id) {
    return Status::Error("raft: next member id went back from " + std::to_string(members_.next_id) +
                         " to " + std::to_string(m.next_id));
  }
  for (ReplicaId id : m.members) {
    if (!std::binary_search(members_.members.begin(), members_.members.end(), id)) {
      learner_since_[id] = height;
    }
  }
  uint64_t index = 0;
  if (height > log_.base().block.height && height <= log_.HeightAt(applied_)) {
    // The block's own entry: the first index at its height.
    index = log_.LastIndexWithHeight(height - 1, applied_) + 1;
  }
  if (ready_outstanding_ && index != 0) {
    // Applied in log order with the promotions of the same Ready at Advance().
    ready_configs_.emplace_back(index, m);
    return Status::Ok();
  }
  ApplyMembership(m, index);
  return Status::Ok();
}

}  // namespace cairn::consensus::raft
