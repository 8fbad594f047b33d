// BftEngine: ticks, the node's proposals, block sync, the Ready cycle and status.
#include "consensus/bft/bft.h"

#include <cassert>
#include <string>

namespace cairn::consensus::bft {

void BftEngine::Tick() {
  ++ticks_;
  if (decided_ || sync_target_) return;
  // Timers are checked in step order; each OnTimeout re-checks that its round and step
  // are still current, since an earlier one may have moved on.
  struct Due {
    Timer* timer;
    RoundStep kind;
  };
  for (Due d :
       {Due{&propose_timer_, RoundStep::kPropose}, Due{&prevote_timer_, RoundStep::kPrevote},
        Due{&precommit_timer_, RoundStep::kPrecommit}}) {
    Timer& t = *d.timer;
    if (!t.armed) continue;
    if (t.left > 0) --t.left;
    if (t.left == 0) {
      t.armed = false;
      OnTimeout(d.kind, t.round);
      if (decided_) return;
    }
  }
  if (++since_rebroadcast_ >= cfg_.rebroadcast_ticks) {
    since_rebroadcast_ = 0;
    Rebroadcast();
  }
}

void BftEngine::IdleTick() { ++ticks_; }

std::optional<ProposalSlot> BftEngine::ProposalWanted() const {
  if (decided_ || sync_target_ || step_ != RoundStep::kPropose) return std::nullopt;
  if (!IsProposer()) return std::nullopt;
  auto it = rounds_.find(round_);
  if (it != rounds_.end() && it->second.proposal) return std::nullopt;
  return ProposalSlot{last_decided_, /*parent_committed=*/true};
}

Status BftEngine::Propose(Block block) {
  if (!IsProposer()) {
    ReplicaId proposer = cur_set_.id(ProposerOf(height_, round_, cur_set_.size()));
    return Status::Error("bft: not the proposer of height " + std::to_string(height_) + " round " +
                         std::to_string(round_) + " (leader is " + std::to_string(proposer) + ")");
  }
  if (decided_ || sync_target_) {
    return Status::Error("bft: height " + std::to_string(height_) + " is decided or syncing");
  }
  if (block.height != height_) {
    return Status::Error("bft: proposed height " + std::to_string(block.height) + ", expected " +
                         std::to_string(height_));
  }
  if (!ProposalWanted()) {
    return Status::Error("bft: round " + std::to_string(round_) + " already has a proposal or " +
                         "is past its propose step");
  }
  // The proposal message adds a fixed header of well under 256 bytes to the block.
  size_t limit = std::min(kMaxBlockBytes, cfg_.max_message_bytes - 256);
  if (block.data.size() > limit) {
    return Status::Error("bft: block of " + std::to_string(block.data.size()) + " bytes exceeds " +
                         std::to_string(limit));
  }
  if (Status s = CheckIdentity(block); !s.ok()) return s.Wrap("bft: proposed block");
  SendProposal(block, kNoRound);
  Evaluate(round_);
  return Status::Ok();
}

Status BftEngine::SyncCompleted(const BlockRef& tip) {
  if (tip.height < last_decided_.height) {
    return Status::Error("bft: synced to height " + std::to_string(tip.height) +
                         " below the last decided height " + std::to_string(last_decided_.height));
  }
  if (tip.height == last_decided_.height && tip.hash != last_decided_.hash) {
    return Status::Error("bft: synced block " + std::to_string(tip.height) +
                         " differs from the decided one");
  }
  if (sync_target_) {
    if (tip.height < sync_target_->height) {
      return Status::Error("bft: synced to height " + std::to_string(tip.height) +
                           ", but consensus asked for height " +
                           std::to_string(sync_target_->height));
    }
    if (tip.height == sync_target_->height && tip.hash != sync_target_->hash) {
      return Status::Error("bft: synced block " + std::to_string(tip.height) +
                           " differs from the certified one");
    }
  }
  if (decided_ && tip.height == height_ && tip.hash != decided_->block.hash) {
    return Status::Error("bft: synced block " + std::to_string(tip.height) +
                         " differs from the decided one");
  }
  sync_target_.reset();
  sync_handed_out_ = false;
  if (tip.height < height_) return Status::Ok();  // nothing new
  // The node holds tip already: a decision of ours at or below it need not be handed out.
  pending_commit_.reset();
  last_decided_ = tip;
  // The node vouched for set(tip + 1) and set(tip + 2), not for the heights it skipped:
  // messages of those are dropped unread from now on rather than read against a wrong set.
  if (dynamic_) schedule_.ForgetBelow(tip.height + 1);
  // Buffered next-height messages are for a height now passed (or checked against a set
  // that may not be tip + 1's).
  next_height_.clear();
  next_height_count_ = 0;
  StartHeight(tip.height + 1);
  return Status::Ok();
}

Status BftEngine::Compact(uint64_t height) {
  if (height > last_decided_.height) {
    return Status::Error("bft: cannot compact to height " + std::to_string(height) +
                         " above applied height " + std::to_string(last_decided_.height));
  }
  while (!held_.empty() && held_.begin()->first <= height) held_.erase(held_.begin());
  return Status::Ok();
}

HardState BftEngine::hard_state() const {
  HardState hs;
  hs.height = height_;
  hs.round = round_;
  hs.step = step_;
  hs.locked_round = locked_round_;
  if (locked_value_ && locked_round_ != kNoRound) hs.locked_hash = locked_value_->hash;
  hs.valid_round = valid_round_;
  if (valid_value_ && valid_round_ != kNoRound) hs.valid_hash = valid_value_->hash;
  hs.next_record = next_record_;
  auto it = rounds_.find(round_);
  if (self_ && it != rounds_.end() && it->second.proposal &&
      it->second.proposal->proposer == *self_) {
    const Proposal& p = *it->second.proposal;
    hs.proposal = HardState::OwnProposal{p.valid_round, p.block.hash, p.sig};
  }
  for (const auto& [r, rs] : rounds_) {
    if (!self_) break;
    if (const Vote* v = rs.prevotes.Get(*self_)) {
      hs.votes.push_back(HardState::OwnVote{r, VoteType::kPrevote, v->block, v->sig});
    }
    if (const Vote* v = rs.precommits.Get(*self_)) {
      hs.votes.push_back(HardState::OwnVote{r, VoteType::kPrecommit, v->block, v->sig});
    }
  }
  return hs;
}

std::optional<crypto::Hash256> BftEngine::locked_hash() const {
  if (locked_round_ == kNoRound || !locked_value_) return std::nullopt;
  return locked_value_->hash;
}

size_t BftEngine::buffered_messages() const {
  size_t n = next_height_count_;
  for (const auto& [r, rs] : rounds_) n += rs.size();
  return n;
}

bool BftEngine::Idle() const {
  if (decided_ || pending_commit_ || commit_in_ready_ || sync_target_) return false;
  if (round_ != 0 || step_ != RoundStep::kPropose || next_height_count_ != 0) return false;
  for (const auto& [r, rs] : rounds_) {
    if (rs.size() != 0) return false;
  }
  for (int64_t r : max_round_seen_) {
    if (r >= 0) return false;
  }
  return true;
}

bool BftEngine::HasReady() const {
  if (ready_outstanding_) return false;
  return !msgs_.empty() || !pending_records_.empty() || pending_discard_ || pending_commit_ ||
         !pending_evidence_.empty() || (sync_target_ && !sync_handed_out_) ||
         hard_state() != handed_hs_;
}

Ready BftEngine::TakeReady() {
  assert(!ready_outstanding_);
  Ready rd;
  // The hard state is taken last-in-time: it covers every vote and proposal queued in
  // msgs_ (those of earlier rounds are covered because rounds never go back).
  HardState hs = hard_state();
  if (hs != handed_hs_) {
    rd.hard_state = EncodeHardState(hs);
    handed_hs_ = hs;
  }
  rd.append = std::move(pending_records_);
  pending_records_.clear();
  rd.discard_through = pending_discard_;
  pending_discard_.reset();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  if (sync_target_ && !sync_handed_out_) {
    rd.sync_to = *sync_target_;
    sync_handed_out_ = true;
  }
  if (pending_commit_) {
    commit_in_ready_ = pending_commit_->height;
    rd.committed.push_back(std::move(*pending_commit_));
    pending_commit_.reset();
  }
  rd.evidence = std::move(pending_evidence_);
  pending_evidence_.clear();
  ready_outstanding_ = true;
  return rd;
}

void BftEngine::Advance() {
  assert(ready_outstanding_);
  ready_outstanding_ = false;
  if (commit_in_ready_) {
    uint64_t h = *commit_in_ready_;
    commit_in_ready_.reset();
    // The node has applied the decided block: only now may the next height validate
    // proposals on top of it (ProposalValidator contract).
    if (decided_ && h == height_) {
      last_decided_ = BlockRef{h, decided_->block.hash};
      StartHeight(h + 1);
    }
  }
}

EngineStatus BftEngine::GetStatus() const {
  EngineStatus s;
  s.id = cfg_.id;
  ReplicaId proposer = cur_set_.id(ProposerOf(height_, round_, cur_set_.size()));
  s.role = proposer == cfg_.id ? Role::kLeader : Role::kFollower;
  s.term = round_;
  s.leader = proposer;  // a member id, like every ReplicaId outside BFT messages
  s.commit_height = decided_ ? height_ : last_decided_.height;
  s.applied_height = last_decided_.height;
  s.last_log_height = s.commit_height;
  return s;
}

}  // namespace cairn::consensus::bft
