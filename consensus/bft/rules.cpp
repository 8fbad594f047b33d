// BftEngine: the rules of Tendermint's Algorithm 1 (Buchman, Kwon, Milosevic 2018). Line
// numbers in comments refer to the paper's listing.
#include "consensus/bft/bft.h"

#include <algorithm>
#include <cassert>

namespace cairn::consensus::bft {

void BftEngine::StartHeight(uint64_t height) {
  height_ = height;
  // Sets older than the evidence window are no longer read (static: one entry, kept).
  if (dynamic_ && height > kEvidenceHeights) schedule_.ForgetBelow(height - kEvidenceHeights);
  RefreshSets();
  for (auto it = last_reply_.begin(); it != last_reply_.end();) {
    it = KnownPeer(it->first) ? std::next(it) : last_reply_.erase(it);
  }
  locked_round_ = kNoRound;
  locked_value_.reset();
  valid_round_ = kNoRound;
  valid_value_.reset();
  rounds_.clear();
  valid_cache_.clear();
  invalid_in_round_.clear();
  // Evidence keys older than the accepted window can go: such evidence is refused anyway.
  for (auto it = evidence_keys_.begin(); it != evidence_keys_.end();) {
    it = std::get<1>(*it) + kEvidenceHeights < height ? evidence_keys_.erase(it) : std::next(it);
  }
  max_round_seen_.assign(cur_set_.size(), -1);
  decided_.reset();
  if (next_record_ > first_record_of_height_) pending_discard_ = next_record_ - 1;
  first_record_of_height_ = next_record_;
  recorded_.clear();
  recorded_pols_.clear();
  StartRound(0);
  ReplayBuffered();
}

// Line 11.
void BftEngine::StartRound(uint32_t round) {
  round_ = round;
  step_ = RoundStep::kPropose;
  propose_timer_.armed = prevote_timer_.armed = precommit_timer_.armed = false;
  since_rebroadcast_ = 0;
  proposal_resends_ = 0;
  next_proposal_resend_ = 0;
  // Old rounds still matter (a decision or a re-proposal's polka can come from any of
  // them) but must not crowd out the new one.
  RoundFor(round);
  // A polka completed in a round this replica left before it could act on it (it was still
  // in the propose step, or f+1 others moved it on): relayed copies of those votes are
  // duplicates and never reach Evaluate again, so look now, newest round first.
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
    if (it->first >= round) continue;
    if (valid_round_ != kNoRound && it->first <= valid_round_) break;
    AdoptLatePolka(it->first);
    if (valid_round_ == it->first) break;
  }
  EnterPropose();
  Evaluate(round);
}

void BftEngine::EnterPropose() {
  // The proposer also arms the timer: if its node never supplies a block, the round
  // still ends with a nil prevote instead of stalling this replica.
  Arm(propose_timer_, cfg_.propose_timeout_ticks);
  if (!IsProposer()) return;
  RoundState* rs = RoundFor(round_);
  if (rs == nullptr || rs->proposal) return;
  // Lines 14-16: re-propose the valid value; otherwise ProposalWanted() asks the node.
  if (valid_value_) SendProposal(*valid_value_, valid_round_);
}

void BftEngine::Arm(Timer& t, uint32_t base) {
  uint64_t ticks = static_cast<uint64_t>(base) +
                   static_cast<uint64_t>(round_) * static_cast<uint64_t>(cfg_.timeout_delta_ticks);
  t.armed = true;
  t.round = round_;
  t.left = static_cast<uint32_t>(std::min<uint64_t>(ticks, cfg_.max_timeout_ticks));
}

// Lines 57-65.
void BftEngine::OnTimeout(RoundStep kind, uint32_t round) {
  if (decided_ || round != round_) return;
  switch (kind) {
    case RoundStep::kPropose:
      if (step_ != RoundStep::kPropose) return;
      CastVote(VoteType::kPrevote, std::nullopt);
      step_ = RoundStep::kPrevote;
      Evaluate(round_);
      break;
    case RoundStep::kPrevote:
      if (step_ != RoundStep::kPrevote) return;
      CastVote(VoteType::kPrecommit, std::nullopt);
      step_ = RoundStep::kPrecommit;
      Evaluate(round_);
      break;
    case RoundStep::kPrecommit:
      StartRound(round_ + 1);
      break;
  }
}

void BftEngine::Evaluate(uint32_t event_round) {
  if (event_round < round_) AdoptLatePolka(event_round);
  // Each pass either casts a vote (which can complete a quorum counted locally) or
  // stops; a round has at most two own votes, so this terminates quickly.
  for (int pass = 0; pass < 8 && !decided_; ++pass) {
    if (TryDecide(event_round) || (event_round != round_ && TryDecide(round_))) return;
    auto it = rounds_.find(round_);
    if (it == rounds_.end()) return;
    RoundState& rs = it->second;
    bool acted = false;
    const Proposal* p = rs.proposal ? &*rs.proposal : nullptr;

    if (step_ == RoundStep::kPropose && p != nullptr) {
      const crypto::Hash256& id = p->block.hash;
      if (p->valid_round == kNoRound) {
        // Line 22.
        bool ok = Valid(p->block) && (locked_round_ == kNoRound || locked_value_->hash == id);
        CastVote(VoteType::kPrevote, ok ? std::optional(id) : std::nullopt);
        step_ = RoundStep::kPrevote;
        acted = true;
      } else if (auto vr = rounds_.find(p->valid_round);
                 vr != rounds_.end() && vr->second.prevotes.CountFor(id) >= quorum_) {
        // Line 28.
        bool ok =
            Valid(p->block) && ((locked_round_ == kNoRound || locked_round_ <= p->valid_round) ||
                                locked_value_->hash == id);
        CastVote(VoteType::kPrevote, ok ? std::optional(id) : std::nullopt);
        step_ = RoundStep::kPrevote;
        acted = true;
      }
    }
    if (acted) continue;

    // Line 34.
    if (step_ == RoundStep::kPrevote && !rs.prevote_timer_started &&
        rs.prevotes.total() >= quorum_) {
      rs.prevote_timer_started = true;
      Arm(prevote_timer_, cfg_.vote_timeout_ticks);
    }
    // Line 36.
    if (step_ != RoundStep::kPropose && !rs.polka_handled && p != nullptr &&
        rs.prevotes.CountFor(p->block.hash) >= quorum_ && Valid(p->block)) {
      rs.polka_handled = true;
      if (step_ == RoundStep::kPrevote) {
        if (!locked_value_ || locked_value_->hash != p->block.hash) {
          locked_value_ = p->block;
          RecordBlock(p->block);
        }
        locked_round_ = round_;
        CastVote(VoteType::kPrecommit, p->block.hash);
        step_ = RoundStep::kPrecommit;
        acted = true;
      }
      if (!valid_value_ || valid_value_->hash != p->block.hash) {
        valid_value_ = p->block;
        RecordBlock(p->block);
      }
      valid_round_ = round_;
      RecordPol(round_, p->block.hash);
    }
    if (acted) continue;
    // Line 44.
    if (step_ == RoundStep::kPrevote && rs.prevotes.CountFor(std::nullopt) >= quorum_) {
      CastVote(VoteType::kPrecommit, std::nullopt);
      step_ = RoundStep::kPrecommit;
      continue;
    }
    // Line 47.
    if (!rs.precommit_timer_started && rs.precommits.total() >= quorum_) {
      rs.precommit_timer_started = true;
      Arm(precommit_timer_, cfg_.vote_timeout_ticks);
    }
    return;
  }
}

// Line 49.
bool BftEngine::TryDecide(uint32_t round) {
  auto it = rounds_.find(round);
  if (it == rounds_.end() || !it->second.proposal) return false;
  const RoundState& rs = it->second;
  const Block& b = rs.proposal->block;
  if (rs.precommits.CountFor(b.hash) < quorum_ || !Valid(b)) return false;
  Certificate cert;
  cert.height = height_;
  cert.round = round;
  cert.block = b.hash;
  for (const Vote& v : rs.precommits.VotesFor(b.hash)) {
    cert.sigs.push_back(Certificate::Sig{v.voter, v.sig});
  }
  Decide(b, std::move(cert));
  return true;
}

void BftEngine::Decide(const Block& block, Certificate cert) {
  assert(!decided_ && block.height == height_);
  Decision d;
  d.block = block;
  d.block.certificate.clear();
  d.cert = std::move(cert);
  Block out = d.block;
  out.certificate = d.cert.Encode();
  pending_commit_ = std::move(out);
  propose_timer_.armed = prevote_timer_.armed = precommit_timer_.armed = false;
  held_[height_] = Held{d, ticks_};
  while (held_.size() > kMaxHeldDecisions) held_.erase(held_.begin());
  decided_ = std::move(d);
}

bool BftEngine::Valid(const Block& block, bool recheck) {
  if (block.height != height_) return false;
  // Every body here passed CheckIdentity, so a hash stands for one block. Successes hold
  // for the height. Failures may pass later (a clock-drift check, a state read error), so
  // they are remembered only within the round, where the rules ask again on every event:
  // a block that failed is validated again at most once per round it comes back in.
  if (valid_cache_.count(block.hash) > 0) return true;
  if (!recheck) {
    auto failed = invalid_in_round_.find(block.hash);
    if (failed != invalid_in_round_.end() && failed->second == round_) return false;
  }
  // Bounded: a Byzantine proposer adds one entry per round at most, and clearing only
  // costs re-validation.
  if (valid_cache_.size() >= 4 * kMaxRoundsKept) valid_cache_.clear();
  if (invalid_in_round_.size() >= 4 * kMaxRoundsKept) invalid_in_round_.clear();
  if (!validator_.Validate(block, last_decided_).ok()) {
    invalid_in_round_[block.hash] = round_;
    return false;
  }
  invalid_in_round_.erase(block.hash);
  valid_cache_.insert(block.hash);
  return true;
}

void BftEngine::CastVote(VoteType type, const std::optional<crypto::Hash256>& block) {
  // A replica outside set(height_) follows the height without a say in it.
  if (!self_) return;
  RoundState* rs = RoundFor(round_);
  assert(rs != nullptr);
  // Never sign twice for one (height, round, type): after a restart the stored vote is
  // already here and is what we stand by.
  if (rs->votes(type).Get(*self_) != nullptr) return;
  Vote v;
  v.type = type;
  v.height = height_;
  v.round = round_;
  v.block = block;
  v.voter = *self_;  // the index in set(height_), which the signature does not cover
  v.sig = signer_.Sign(VoteSignBytes(chain_, v));
  rs->votes(type).Add(v);
  Broadcast(v);
}

void BftEngine::SendProposal(const Block& block, uint32_t valid_round) {
  RoundState* rs = RoundFor(round_);
  assert(rs != nullptr && !rs->proposal && self_);
  Proposal p;
  p.height = height_;
  p.round = round_;
  p.valid_round = valid_round;
  p.block = block;
  p.block.certificate.clear();
  p.proposer = *self_;
  p.sig = signer_.Sign(ProposalSignBytes(chain_, p));
  RecordBlock(p.block);
  Broadcast(p);
  // Replicas that missed the polka of valid_round (lost messages, a restart, a Byzantine
  // voter that told only some) could never accept the re-proposal without its proof.
  if (valid_round != kNoRound) SendPol(valid_round, p.block.hash, kNoReplica);
  rs->proposal = std::move(p);
}

void BftEngine::RecordPol(uint32_t round, const crypto::Hash256& block) {
  auto it = rounds_.find(round);
  if (it == rounds_.end() || !recorded_pols_.insert({round, block}).second) return;
  PolRecord pol;
  pol.prevotes.height = height_;
  pol.prevotes.round = round;
  pol.prevotes.block = block;
  for (const Vote& v : it->second.prevotes.VotesFor(block)) {
    pol.prevotes.sigs.push_back({v.voter, v.sig});
  }
  pending_records_.push_back(LogRecord{next_record_++, EncodePolRecord(pol)});
  // Tendermint's liveness proof assumes that a message one correct replica receives, all
  // receive. Byzantine validators can break that for prevotes: a voter that tells some
  // replicas "block" and others "nil" makes a polka only some of them see, so only those
  // lock, and the next honest proposer, which did not see it, re-proposes an older value
  // they refuse; repeated, no height ever decides (simulation seed 8685109). Relaying the
  // quorum once restores the assumption for the only votes that move locks. A peer that
  // already holds a vote drops the copy before verifying it.
  SendPol(round, block, kNoReplica);
}

void BftEngine::AdoptLatePolka(uint32_t round) {
  // The relayed polka of a round can arrive after this replica left it. The paper updates
  // validValue only in the current round, but any (value, round) backed by a real polka
  // is a safe re-proposal: receivers check the proof, and a Byzantine proposer could send
  // the same. Adopting the newest one keeps the next proposal acceptable to every replica
  // locked in that round.
  if (decided_ || (valid_round_ != kNoRound && round <= valid_round_)) return;
  auto it = rounds_.find(round);
  if (it == rounds_.end() || !it->second.proposal) return;
  const Block& b = it->second.proposal->block;
  if (it->second.prevotes.CountFor(b.hash) < quorum_ || !Valid(b)) return;
  if (!valid_value_ || valid_value_->hash != b.hash) {
    valid_value_ = b;
    RecordBlock(b);
  }
  valid_round_ = round;
  RecordPol(round, b.hash);
  // Lines 14-16 for a proposer still waiting on its node in the propose step: the valid
  // value goes out now, not the fresh block the replicas locked in `round` would refuse.
  if (step_ == RoundStep::kPropose && IsProposer()) {
    RoundState* rs = RoundFor(round_);
    if (rs != nullptr && !rs->proposal) SendProposal(*valid_value_, valid_round_);
  }
}

void BftEngine::SendPol(uint32_t round, const crypto::Hash256& block, ReplicaId to) {
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return;
  for (const Vote& v : it->second.prevotes.VotesFor(block)) {
    if (to == kNoReplica) {
      Broadcast(v, /*except=*/cur_set_.id(v.voter));  // the voter has its own vote
    } else {
      Send(to, v);
    }
  }
}

void BftEngine::RecordBlock(const Block& block) {
  if (recorded_.count(block.hash) > 0) return;
  uint64_t index = next_record_++;
  recorded_[block.hash] = index;
  pending_records_.push_back(LogRecord{index, EncodeBlockRecord(block)});
}

void BftEngine::Rebroadcast() {
  if (decided_ || sync_target_ || !self_) return;
  auto it = rounds_.find(round_);
  if (it != rounds_.end() && it->second.proposal && it->second.proposal->proposer == *self_ &&
      ticks_ >= next_proposal_resend_) {
    // A proposal can be a whole block: re-sent only to peers that have not prevoted at
    // all this round (a nil prevote means the peer is past its propose step), and with
    // the period doubling after each re-send, so slow links do not pile up copies.
    const RoundState& rs = it->second;
    const Proposal& p = *rs.proposal;
    for (uint32_t r = 0; r < cur_set_.size(); ++r) {
      if (r == *self_ || rs.prevotes.Get(r) != nullptr) continue;
      Send(cur_set_.id(r), p);
      if (p.valid_round != kNoRound) SendPol(p.valid_round, p.block.hash, cur_set_.id(r));
    }
    uint32_t shift = std::min<uint32_t>(proposal_resends_ + 1, 16);
    next_proposal_resend_ = ticks_ + (uint64_t{cfg_.rebroadcast_ticks} << shift);
    ++proposal_resends_;
  }
  // Own votes of every round held, not only the current one: a peer still in an older
  // round needs them to reach that round's quorums and time out of it.
  for (const auto& [r, rs] : rounds_) {
    if (const Vote* v = rs.prevotes.Get(*self_)) Broadcast(*v);
    if (const Vote* v = rs.precommits.Get(*self_)) Broadcast(*v);
  }
}

void BftEngine::Broadcast(const Message& m, ReplicaId except) {
  // To the validators of this height and the next (a joining validator follows the height
  // before its first, so it can vote on time); a replica outside set(height_) sends nothing.
  if (!self_ || peers_.empty()) return;
  Bytes payload = EncodeMessage(m);
  for (ReplicaId r : peers_) {
    if (r == except) continue;
    msgs_.push_back(OutboundMessage{r, payload});
  }
}

void BftEngine::Send(ReplicaId to, const Message& m) {
  msgs_.push_back(OutboundMessage{to, EncodeMessage(m)});
}

}  // namespace cairn::consensus::bft
