// BftEngine's restart: rebuilding height, round, step, lock, valid value, own signed
// messages and proofs of lock from the hard state and the records a replica persisted, so a
// restarted replica can never sign a vote that conflicts with one it signed before.
#include <map>
#include <string>
#include <vector>

#include "consensus/bft/bft.h"

namespace cairn::consensus::bft {

namespace {

Result<Block> StoredBody(const std::map<crypto::Hash256, Block>& blocks, const crypto::Hash256& h,
                         const char* what) {
  auto it = blocks.find(h);
  if (it == blocks.end()) {
    return Status::Error(std::string(what) + " block " + h.ToHex() +
                         " is missing from the stored records");
  }
  return it->second;
}

}  // namespace

Status BftEngine::Resume(const HardState& hs, const DurableState& durable) {
  height_ = hs.height;
  round_ = hs.round;
  step_ = hs.step;
  RefreshSets();
  max_round_seen_.assign(cur_set_.size(), -1);
  next_height_.assign(next_set_.size(), {});
  if (!self_ && (hs.proposal || !hs.votes.empty())) {
    return Status::Error("own votes stored for height " + std::to_string(height_) +
                         ", where this replica is not a validator (wrong validator set given?)");
  }
  StoredBlocks blocks;
  std::vector<PolRecord> pols;
  if (Status s = LoadRecords(durable, blocks, pols); !s.ok()) return s;
  if (Status s = RestoreLockAndValid(hs, blocks); !s.ok()) return s;
  if (Status s = RestoreOwnMessages(hs, blocks); !s.ok()) return s;
  if (Status s = RestoreProofOfLock(pols); !s.ok()) return s;
  ResumeStep();
  return Status::Ok();
}

Status BftEngine::LoadRecords(const DurableState& durable, StoredBlocks& blocks,
                              std::vector<PolRecord>& pols) {
  uint64_t max_stale = 0;
  for (const LogRecord& rec : durable.records) {
    Result<Record> r = DecodeRecord(rec.data, rec.index);
    if (!r) return r.status();
    if (auto* b = std::get_if<Block>(&*r)) {
      if (b->height != height_) {
        max_stale = std::max(max_stale, rec.index);
        continue;
      }
      recorded_[b->hash] = rec.index;
      blocks[b->hash] = std::move(*b);
    } else {
      PolRecord& pol = std::get<PolRecord>(*r);
      if (pol.prevotes.height != height_) {
        max_stale = std::max(max_stale, rec.index);
        continue;
      }
      recorded_pols_.insert({pol.prevotes.round, pol.prevotes.block});
      pols.push_back(std::move(pol));
    }
    first_record_of_height_ = std::min(first_record_of_height_, rec.index);
  }
  // Records of earlier heights can outlive their discard (deletion may be lazy).
  if (max_stale > 0 && max_stale < first_record_of_height_) pending_discard_ = max_stale;
  return Status::Ok();
}

Status BftEngine::RestoreLockAndValid(const HardState& hs, const StoredBlocks& blocks) {
  if (hs.locked_round != kNoRound) {
    Result<Block> b = StoredBody(blocks, hs.locked_hash, "locked");
    if (!b) return b.status();
    locked_round_ = hs.locked_round;
    locked_value_ = std::move(*b);
  }
  if (hs.valid_round != kNoRound) {
    Result<Block> b = StoredBody(blocks, hs.valid_hash, "valid");
    if (!b) return b.status();
    valid_round_ = hs.valid_round;
    valid_value_ = std::move(*b);
  }
  return Status::Ok();
}

Status BftEngine::RestoreOwnMessages(const HardState& hs, const StoredBlocks& blocks) {
  RoundState& rs = rounds_.emplace(round_, RoundState(cur_set_.size())).first->second;
  // The lock's and the valid value's rounds before the own votes of up to kMaxRoundsKept
  // rounds: eviction spares them once they exist, and RestoreProofOfLock needs the valid
  // round's (a polka adopted after its round may have no own vote there).
  if (valid_round_ != kNoRound) RoundFor(valid_round_);
  if (locked_round_ != kNoRound) RoundFor(locked_round_);
  if (hs.proposal) {
    if (!IsProposer()) {
      return Status::Error("own proposal stored for a round this replica does not lead");
    }
    Result<Block> b = StoredBody(blocks, hs.proposal->block, "proposal");
    if (!b) return b.status();
    Proposal p;
    p.height = height_;
    p.round = round_;
    p.valid_round = hs.proposal->valid_round;
    p.block = std::move(*b);
    p.proposer = *self_;
    p.sig = hs.proposal->sig;
    rs.proposal = std::move(p);
  }
  for (const HardState::OwnVote& own : hs.votes) {
    RoundState* at = RoundFor(own.round);
    if (at == nullptr) continue;
    Vote v;
    v.type = own.type;
    v.height = height_;
    v.round = own.round;
    v.block = own.block;
    v.voter = *self_;
    v.sig = own.sig;
    at->votes(own.type).Add(v);
  }
  bool prevoted = self_ && rs.prevotes.Get(*self_) != nullptr;
  bool precommitted = self_ && rs.precommits.Get(*self_) != nullptr;
  if ((step_ == RoundStep::kPropose && (prevoted || precommitted)) ||
      (step_ == RoundStep::kPrevote && precommitted)) {
    return Status::Error(std::string("step ") + StepName(step_) +
                         " is behind the votes signed in round " + std::to_string(round_));
  }
  return Status::Ok();
}

Status BftEngine::RestoreProofOfLock(const std::vector<PolRecord>& pols) {
  if (valid_round_ == kNoRound) return Status::Ok();
  // The proof of lock of the valid value goes out with its re-proposals.
  auto pol = std::find_if(pols.begin(), pols.end(), [&](const PolRecord& p) {
    return p.prevotes.round == valid_round_ && p.prevotes.block == valid_value_->hash;
  });
  if (pol == pols.end()) {
    return Status::Error("proof of lock for the valid value (round " +
                         std::to_string(valid_round_) + ") is missing from the stored records");
  }
  RoundState* at = RoundFor(valid_round_);
  for (const Certificate::Sig& sig : pol->prevotes.sigs) {
    Vote v;
    v.type = VoteType::kPrevote;
    v.height = height_;
    v.round = valid_round_;
    v.block = valid_value_->hash;
    v.voter = sig.validator;
    v.sig = sig.sig;
    if (v.voter >= cur_set_.size() || !VerifyVote(v)) {
      return Status::Error("proof of lock holds an invalid prevote of validator " +
                           std::to_string(v.voter));
    }
    if (at == nullptr) continue;
    const Vote* first = at->prevotes.Get(v.voter);
    if (first == nullptr) {
      at->prevotes.Add(v);
    } else if (first->block != v.block) {
      at->prevotes.AddConflicting(v);
    }
  }
  return Status::Ok();
}

void BftEngine::ResumeStep() {
  // Pick up where the crash left off: timers restart, own messages go out again (they
  // were persisted before they were first sent).
  switch (step_) {
    case RoundStep::kPropose:
      EnterPropose();
      break;
    case RoundStep::kPrevote:
      Arm(prevote_timer_, cfg_.vote_timeout_ticks);
      break;
    case RoundStep::kPrecommit:
      Arm(precommit_timer_, cfg_.vote_timeout_ticks);
      break;
  }
  Rebroadcast();
  Evaluate(round_);
}

}  // namespace cairn::consensus::bft
