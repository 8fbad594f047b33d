// RaftEngine: log replication (Figure 2 AppendEntries with etcd's flow control and fast
// back-off), block-sync snapshots, and the commit rule.
#include <algorithm>
#include <limits>
#include <string>

#include "consensus/raft/raft.h"

namespace cairn::consensus::raft {

Status RaftEngine::CheckApp(const Message& m) const {
  if (m.log_term > m.term) return Status::Error("prev term above message term");
  if (m.index > std::numeric_limits<uint64_t>::max() - m.entries.size() - 1) {
    return Status::Error("prev index overflows");
  }
  uint64_t prev_term = m.log_term;
  for (size_t k = 0; k < m.entries.size(); ++k) {
    const Entry& e = m.entries[k];
    std::string at = "entry " + std::to_string(m.index + 1 + k);
    if (e.index != m.index + 1 + k) return Status::Error(at + ": index out of sequence");
    if (e.term < prev_term || e.term > m.term) return Status::Error(at + ": term out of order");
    if (!e.is_block() && (!e.hash.IsZero() || !e.data.empty())) {
      return Status::Error(at + ": no-op with a payload");
    }
    if (e.type != EntryType::kPromote && e.member != 0) {
      return Status::Error(at + ": member set on an entry that promotes no one");
    }
    if (e.data.size() > kMaxBlockBytes) return Status::Error(at + ": block too large");
    if (k > 0 && e.height != m.entries[k - 1].height + (e.is_block() ? 1 : 0)) {
      return Status::Error(at + ": height " + std::to_string(e.height) + " does not follow " +
                           std::to_string(m.entries[k - 1].height));
    }
    prev_term = e.term;
  }
  return Status::Ok();
}

Status RaftEngine::HandleAppend(ReplicaId from, Message& m) {
  Message resp;
  resp.type = MsgType::kAppResp;
  resp.term = term_;
  if (m.index < commit_) {
    // Everything up to our commit index is settled; tell the leader where we are.
    resp.index = commit_;
    Send(from, std::move(resp));
    return Status::Ok();
  }
  if (!log_.MatchTerm(m.index, m.log_term)) {
    // Consistency check failed (Figure 2, receiver rule 2). Hint the last index whose term
    // is <= the leader's prev term: the leader can skip every entry of a conflicting term.
    auto [hint_index, hint_term] =
        log_.FindConflictByTerm(std::min(m.index, log_.last_index()), m.log_term);
    resp.index = m.index;
    resp.reject = true;
    resp.reject_hint = hint_index;
    resp.hint_term = hint_term;
    Send(from, std::move(resp));
    return Status::Ok();
  }
  if (!m.entries.empty()) {
    const Entry& first = m.entries.front();
    uint64_t want = log_.HeightAt(m.index) + (first.is_block() ? 1 : 0);
    if (first.height != want) {
      return Status::Error("raft App from replica " + std::to_string(from) + ": entry " +
                           std::to_string(first.index) + " has height " +
                           std::to_string(first.height) + ", expected " + std::to_string(want));
    }
  }
  uint64_t last_new = m.index + m.entries.size();
  uint64_t conflict = log_.FindConflict(m.entries);
  if (conflict != 0) {
    if (conflict <= commit_) {
      return Status::Error("raft App from replica " + std::to_string(from) + ": entry " +
                           std::to_string(conflict) + " conflicts with a committed entry");
    }
    TruncateFrom(conflict);
    for (uint64_t i = conflict; i <= last_new; ++i) {
      AppendEntry(std::move(m.entries[i - m.index - 1]));
    }
  }
  CommitTo(std::min(m.commit, last_new));
  resp.index = last_new;
  Send(from, std::move(resp));
  return Status::Ok();
}

void RaftEngine::HandleHeartbeat(ReplicaId from, const Message& m) {
  // The leader sends min(commit, our match), so our log up to there matches its log.
  CommitTo(std::min(m.commit, log_.last_index()));
  Message resp;
  resp.type = MsgType::kHeartbeatResp;
  resp.term = term_;
  Send(from, std::move(resp));
}

Status RaftEngine::HandleSnapshot(ReplicaId from, const Message& m) {
  const LogBase& s = m.snapshot;
  Message resp;
  resp.type = MsgType::kAppResp;
  resp.term = term_;
  if (s.index <= commit_) {
    resp.index = commit_;
    Send(from, std::move(resp));
    return Status::Ok();
  }
  if (log_.MatchTerm(s.index, s.term)) {
    // We hold the snapshot's last entry: it is committed, and so is everything before.
    if (log_.BlockAt(s.index) != s.block) {
      return Status::Error("raft Snapshot from replica " + std::to_string(from) +
                           ": block at index " + std::to_string(s.index) + " differs");
    }
    CommitTo(s.index);
    resp.index = commit_;
    Send(from, std::move(resp));
    return Status::Ok();
  }
  // The leader compacted the entries we lack: drop our log, adopt its base as committed
  // (with the promotions applied up to it, which we will never see as entries) and ask the
  // node to fetch the blocks by block sync.
  for (const Promotion& p : m.promoted) ApplyPromotion(p);
  conf_index_ = 0;
  if (!sync_target_) applied_height_before_sync_ = log_.HeightAt(applied_);
  uint64_t old_first = log_.first_index();
  log_.Reset(s);
  pending_truncate_ = std::min(pending_truncate_.value_or(old_first), old_first);
  pending_discard_ = s.index;
  commit_ = s.index;
  applied_ = s.index;
  persisted_ = s.index;
  unstable_from_ = s.index + 1;
  ready_persist_to_ = std::min(ready_persist_to_, s.index);
  sync_target_ = s.block;
  sync_handed_out_ = false;
  resp.index = s.index;
  Send(from, std::move(resp));
  return Status::Ok();
}

Status RaftEngine::HandleAppResp(ReplicaId from, const Message& m) {
  auto found = progress_.find(from);
  if (found == progress_.end()) return Status::Ok();  // not (or no longer) a member
  Progress& pr = found->second;
  pr.recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.hint_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.hint_term).first;
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(from, /*send_if_empty=*/true);
    }
    return Status::Ok();
  }
  if (m.index > log_.last_index()) {
    return Status::Error("raft AppResp from replica " + std::to_string(from) + ": acknowledges " +
                         std::to_string(m.index) + " beyond our last index " +
                         std::to_string(log_.last_index()));
  }
  bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index)) return Status::Ok();
  if (pr.state == ProgressState::kProbe) {
    pr.BecomeReplicate();
  } else {
    pr.inflights.FreeLE(m.index);
  }
  if (MaybeCommit()) {
    BcastAppend();
  } else if (was_paused) {
    SendAppend(from, /*send_if_empty=*/true);
  }
  // Fill the window opened by this acknowledgement.
  while (SendAppend(from, /*send_if_empty=*/false)) {
  }
  MaybePromote();
  MaybeFinishTransfer();
  return Status::Ok();
}

void RaftEngine::HandleHeartbeatResp(ReplicaId from) {
  auto found = progress_.find(from);
  if (found == progress_.end()) return;
  Progress& pr = found->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  // Acknowledgements may have been lost; let one more message through.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.last_index()) SendAppend(from, /*send_if_empty=*/true);
}

bool RaftEngine::SendAppend(ReplicaId to, bool send_if_empty) {
  auto found = progress_.find(to);
  if (found == progress_.end()) return false;
  Progress& pr = found->second;
  if (pr.IsPaused()) return false;
  uint64_t prev = pr.next - 1;
  std::optional<uint64_t> prev_term = log_.Term(prev);
  if (!prev_term) {
    // The follower needs entries we compacted away: send our base so it block-syncs.
    if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
    Message m;
    m.type = MsgType::kSnapshot;
    m.term = term_;
    m.snapshot = log_.base();
    for (const Promotion& p : promoted_) {
      if (p.index <= m.snapshot.index) m.promoted.push_back(p);
    }
    Send(to, std::move(m));
    pr.probe_sent = true;
    return true;
  }
  Message m;
  m.type = MsgType::kApp;
  m.term = term_;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = commit_;
  m.entries = log_.Slice(pr.next, log_.last_index(), cfg_.max_msg_bytes);
  if (m.entries.empty() && !send_if_empty) return false;
  if (!m.entries.empty()) {
    if (pr.state == ProgressState::kReplicate) {
      uint64_t last = m.entries.back().index;
      pr.next = last + 1;
      pr.inflights.Add(last);
    } else {
      pr.probe_sent = true;
    }
  }
  Send(to, std::move(m));
  return true;
}

void RaftEngine::BcastAppend() {
  // Learners too: they receive everything, they just do not count.
  for (const auto& [r, pr] : progress_) {
    if (r != cfg_.id) SendAppend(r, /*send_if_empty=*/true);
  }
}

void RaftEngine::BcastHeartbeat() {
  for (const auto& [r, pr] : progress_) {
    if (r == cfg_.id) continue;
    Message m;
    m.type = MsgType::kHeartbeat;
    m.term = term_;
    m.commit = std::min(pr.match, commit_);
    Send(r, std::move(m));
  }
}

bool RaftEngine::MaybeCommit() {
  // The highest index a quorum of voters holds durably (our own copy counts once persisted,
  // and only while we are a voter: a removed leader commits with the others' copies).
  if (conf_.voters.empty()) return false;
  std::vector<uint64_t> match;
  match.reserve(conf_.voters.size());
  for (ReplicaId v : conf_.voters) {
    auto it = progress_.find(v);
    match.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  std::nth_element(match.begin(), match.begin() + static_cast<ptrdiff_t>(Quorum() - 1), match.end(),
                   std::greater<uint64_t>());
  uint64_t quorum_index = match[Quorum() - 1];
  // Figure 8: counting replicas commits only entries of the current term; earlier
  // entries commit with them (Log Matching).
  if (quorum_index > commit_ && log_.Term(quorum_index) == term_) {
    commit_ = quorum_index;
    return true;
  }
  return false;
}

void RaftEngine::CommitTo(uint64_t index) {
  if (index > commit_) commit_ = index;
}

void RaftEngine::AppendEntry(Entry e) { log_.Append(std::move(e)); }

void RaftEngine::TruncateFrom(uint64_t index) {
  log_.TruncateFrom(index);
  if (index < unstable_from_) {
    // Some of the discarded entries were handed to the node for persisting.
    pending_truncate_ = std::min(pending_truncate_.value_or(index), index);
    unstable_from_ = index;
  }
  persisted_ = std::min(persisted_, index - 1);
  ready_persist_to_ = std::min(ready_persist_to_, index - 1);
}

}  // namespace cairn::consensus::raft
