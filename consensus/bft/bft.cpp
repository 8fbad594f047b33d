// BftEngine: construction, and the intake of messages (signature checks, bounded buffering
// of future rounds and heights, evidence, laggard replies). Restart from stored state is in
// restore.cpp; the Tendermint rules in rules.cpp; the Ready cycle, ticks and proposals in
// ready.cpp.
#include "consensus/bft/bft.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <tuple>
#include <type_traits>

namespace cairn::consensus::bft {
namespace {

Status ValidateConfig(const BftConfig& c) {
  for (const auto& [from, members] : c.validators) {
    if (Result<ValidatorSet> s = ValidatorSet::FromMembers(members); !s) {
      return s.status().Wrap("bft config: the set from height " + std::to_string(from));
    }
  }
  if (!c.validators.empty()) {
    // The sets name the validators; `replicas` is unused.
  } else if (c.replicas == 0 || c.replicas > kMaxValidators) {
    return Status::Error("bft config: replicas must be in [1, " + std::to_string(kMaxValidators) +
                         "]");
  }
  if (c.validators.empty() && c.id >= c.replicas) {
    return Status::Error("bft config: id " + std::to_string(c.id) + " is not below replicas " +
                         std::to_string(c.replicas));
  }
  if (c.propose_timeout_ticks == 0 || c.vote_timeout_ticks == 0) {
    return Status::Error("bft config: timeouts must be at least 1 tick");
  }
  if (c.max_timeout_ticks < std::max(c.propose_timeout_ticks, c.vote_timeout_ticks)) {
    return Status::Error("bft config: max_timeout_ticks is below a base timeout");
  }
  if (c.rebroadcast_ticks == 0) return Status::Error("bft config: rebroadcast_ticks must be >= 1");
  if (c.max_message_bytes < 1024) {
    return Status::Error("bft config: max_message_bytes must be at least 1024");
  }
  return Status::Ok();
}

}  // namespace

BftEngine::BftEngine(const BftConfig& config, const Signer& signer, const Verifier& verifier,
                     ProposalValidator& validator)
    : cfg_(config),
      signer_(signer),
      verifier_(verifier),
      validator_(validator),
      chain_(config.genesis.hash),
      dynamic_(!config.validators.empty()) {
  if (dynamic_) {
    for (const auto& [from, members] : config.validators) {
      schedule_.Put(from, *ValidatorSet::FromMembers(members));  // ValidateConfig checked it
    }
  } else {
    schedule_.Put(0, ValidatorSet::Genesis(config.replicas));
  }
}

BftEngine::~BftEngine() = default;

Result<std::unique_ptr<BftEngine>> BftEngine::Open(const BftConfig& config, const Signer& signer,
                                                   const Verifier& verifier,
                                                   ProposalValidator& validator,
                                                   const DurableState& durable,
                                                   const BlockRef& applied) {
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  if (signer.id() != config.id) {
    return Status::Error("bft config: signer is replica " + std::to_string(signer.id()) +
                         ", config id is " + std::to_string(config.id));
  }
  if (applied.height < config.genesis.height ||
      (applied.height == config.genesis.height && applied.hash != config.genesis.hash)) {
    return Status::Error("bft restart: applied block " + std::to_string(applied.height) +
                         " is not on the genesis chain");
  }
  std::unique_ptr<BftEngine> e(new BftEngine(config, signer, verifier, validator));
  e->last_decided_ = applied;
  if (e->schedule_.At(applied.height + 1) == nullptr) {
    return Status::Error("bft restart: no validator set given for height " +
                         std::to_string(applied.height + 1));
  }
  std::optional<HardState> hs;
  if (durable.hard_state) {
    Result<HardState> decoded = DecodeHardState(*durable.hard_state);
    if (!decoded) return decoded.status().Wrap("bft restart");
    hs = *decoded;
  } else if (!durable.records.empty()) {
    return Status::Error("bft restart: block records without a hard state");
  }
  uint64_t max_index = 0;
  for (const LogRecord& rec : durable.records) max_index = std::max(max_index, rec.index);
  if (hs && max_index >= hs->next_record) {
    return Status::Error("bft restart: record " + std::to_string(max_index) +
                         " is at or above the next record index " +
                         std::to_string(hs->next_record));
  }
  if (hs && hs->height > applied.height + 1) {
    return Status::Error("bft restart: hard state height " + std::to_string(hs->height) +
                         " is above applied height " + std::to_string(applied.height) + " + 1");
  }
  if (hs) {
    e->next_record_ = hs->next_record;
    e->first_record_of_height_ = hs->next_record;
  }
  if (hs && hs->height == applied.height + 1) {
    if (Status s = e->Resume(*hs, durable); !s.ok()) return s.Wrap("bft restart");
    e->handed_hs_ = *hs;
  } else {
    // First boot, or the node applied this height (and maybe more) before the engine
    // persisted the next one: nothing signed at applied + 1 can exist.
    if (max_index > 0) e->pending_discard_ = max_index;
    e->handed_hs_ = e->hard_state();
    e->height_ = applied.height + 1;
    e->RefreshSets();
    e->max_round_seen_.assign(e->cur_set_.size(), -1);
    e->next_height_.assign(e->next_set_.size(), {});
    e->StartRound(0);
  }
  return e;
}

// ---- Intake ----

Status BftEngine::Step(ReplicaId from, ByteView message) {
  if (message.size() > cfg_.max_message_bytes) {
    return Status::Error("bft message from replica " + std::to_string(from) + ": " +
                         std::to_string(message.size()) + " bytes exceeds the limit " +
                         std::to_string(cfg_.max_message_bytes));
  }
  Result<Message> m = DecodeMessage(message);
  if (!m) return m.status().Wrap("from replica " + std::to_string(from));
  return StepMessage(from, *m);
}

Status BftEngine::StepMessage(ReplicaId from, const Message& m) {
  if (from == cfg_.id || !KnownPeer(from)) {
    // With a schedule, a sender outside every held set may be an honest validator removed
    // long ago that still lags behind: nothing it sends can count, so it is dropped unread.
    if (dynamic_ && from != cfg_.id) return Status::Ok();
    return Status::Error("bft " + Describe(m) + " from replica " + std::to_string(from) +
                         ": bad sender");
  }
  Status s;
  if (const auto* p = std::get_if<Proposal>(&m)) {
    s = HandleProposal(from, *p, /*verified=*/false);
  } else if (const auto* v = std::get_if<Vote>(&m)) {
    s = HandleVote(from, *v, /*verified=*/false);
  } else if (const auto* d = std::get_if<Decision>(&m)) {
    s = HandleDecision(from, *d);
  } else if (const auto* e = std::get_if<Evidence>(&m)) {
    s = HandleEvidence(from, *e);
  }
  if (!s.ok()) return s.Wrap("bft " + Describe(m) + " from replica " + std::to_string(from));
  return s;
}

BftEngine::Disposition BftEngine::Classify(uint64_t height) const {
  if (sync_target_) return Disposition::kDrop;  // block sync will overtake it
  if (height < height_) return Disposition::kStale;
  if (height == height_) return deciding() ? Disposition::kCurrent : Disposition::kDrop;
  if (height == height_ + 1) return Disposition::kNextHeight;
  return Disposition::kDrop;  // the peer will answer our votes with a Decision
}

// Signatures are checked against the set of the message's own height.
bool BftEngine::VerifyVote(const Vote& v) const {
  const ValidatorSet* set = SetAt(v.height);
  return set != nullptr && set->Verify(verifier_, v.voter, VoteSignBytes(chain_, v), v.sig);
}

bool BftEngine::VerifyProposal(const Proposal& p) const {
  const ValidatorSet* set = SetAt(p.height);
  return set != nullptr && set->Verify(verifier_, p.proposer, ProposalSignBytes(chain_, p), p.sig);
}

const ValidatorSet* BftEngine::SetAt(uint64_t h) const {
  // With a schedule the node vouches for set(H) only up to decided + 2.
  if (dynamic_ && h > last_decided_.height + 2) return nullptr;
  return schedule_.At(h);
}

bool BftEngine::KnownPeer(ReplicaId from) const { return schedule_.AnyContains(from); }

void BftEngine::RefreshSets() {
  const ValidatorSet* cur = SetAt(height_);
  assert(cur != nullptr);  // Open checks the schedule covers applied + 1; it only grows
  cur_set_ = *cur;
  const ValidatorSet* next = SetAt(height_ + 1);
  next_set_ = next != nullptr ? *next : cur_set_;
  self_ = cur_set_.IndexOf(cfg_.id);
  quorum_ = Quorum(cur_set_.size());
  max_faulty_ = MaxFaulty(cur_set_.size());
  peers_.clear();
  const std::vector<ValidatorInfo>& a = cur_set_.members();
  const std::vector<ValidatorInfo>& b = next_set_.members();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    ReplicaId id;
    if (j == b.size() || (i < a.size() && a[i].id < b[j].id)) {
      id = a[i++].id;
    } else if (i == a.size() || b[j].id < a[i].id) {
      id = b[j++].id;
    } else {
      id = a[i++].id;
      ++j;
    }
    if (id != cfg_.id) peers_.push_back(id);
  }
}

bool BftEngine::IsProposer() const {
  return self_ && ProposerOf(height_, round_, cur_set_.size()) == *self_;
}

Status BftEngine::SetValidators(uint64_t height, std::vector<ValidatorInfo> validators) {
  Result<ValidatorSet> set = ValidatorSet::FromMembers(std::move(validators));
  if (!set) return set.status().Wrap("bft: set of height " + std::to_string(height));
  if (height <= height_) {
    // A height already under way keeps its set. The node feeding it again (after a block
    // sync that ended below the engine's height, say) is fine when it agrees, or when the
    // engine no longer holds it.
    const ValidatorSet* now = SetAt(height);
    if (now == nullptr || *now == *set) return Status::Ok();
    return Status::Error("bft: the set of height " + std::to_string(height) +
                         " cannot change: height " + std::to_string(height_) + " is being decided");
  }
  schedule_.Put(height, std::move(*set));
  dynamic_ = true;
  if (height == height_ + 1 && SetAt(height) != nullptr && !(*SetAt(height) == next_set_)) {
    // Buffered messages of the next height were checked against the set it no longer has.
    next_height_.clear();
    next_height_count_ = 0;
  }
  RefreshSets();
  next_height_.resize(next_set_.size());
  return Status::Ok();
}

Status BftEngine::CheckIdentity(const Block& block) {
  if (Status s = validator_.CheckIdentity(block); !s.ok()) {
    return s.Wrap("block " + std::to_string(block.height) + " " + crypto::ShortHex(block.hash) +
                  " is not the block its hash names");
  }
  return Status::Ok();
}

template <typename M>
std::optional<Status> BftEngine::RouteElsewhere(ReplicaId from, ReplicaId signer, const M& m,
                                                bool verified) {
  // Signatures are checked only where a message is about to be used.
  auto authentic = [&] {
    if (verified) return true;
    if constexpr (std::is_same_v<M, Proposal>) {
      return VerifyProposal(m);
    } else {
      return VerifyVote(m);
    }
  };
  switch (Classify(m.height)) {
    case Disposition::kDrop:
      return Status::Ok();
    case Disposition::kStale: {
      // Only a peer's own signed message says where it is; verify before paying a Decision.
      const ValidatorSet* set = SetAt(m.height);
      bool own = set != nullptr && signer < set->size() && set->id(signer) == from;
      std::optional<uint64_t> due = own ? DecisionDue(from, m.height) : std::nullopt;
      if (!due) return Status::Ok();
      if (!authentic()) return Status::Error("invalid signature");
      ReplyDecision(from, *due);
      return Status::Ok();
    }
    case Disposition::kNextHeight:
      if (m.round >= kNextHeightRounds) return Status::Ok();
      if (!authentic()) return Status::Error("invalid signature");
      return Buffer(signer, m);
    case Disposition::kCurrent:
      break;
  }
  if (m.round > round_ + kRoundWindow) {
    // Too far ahead to keep; it still counts towards the f+1 round skip.
    if (max_round_seen_[signer] >= static_cast<int64_t>(m.round)) return Status::Ok();
    if (!authentic()) return Status::Error("invalid signature");
    NoteRound(signer, m.round);
    return Status::Ok();
  }
  return std::nullopt;
}

Status BftEngine::HandleProposal(ReplicaId from, const Proposal& p, bool verified) {
  // A height whose set this replica does not hold (past the window, or beyond decided + 2)
  // is dropped unread: nothing it says can be checked.
  const ValidatorSet* set = SetAt(p.height);
  if (set == nullptr) return Status::Ok();
  if (p.proposer >= set->size()) return Status::Error("unknown proposer");
  ReplicaId expected = ProposerOf(p.height, p.round, set->size());
  if (p.proposer != expected) {
    return Status::Error("replica " + std::to_string(p.proposer) + " is not the proposer (" +
                         std::to_string(expected) + " is)");
  }
  if (p.block.height != p.height) return Status::Error("block height differs from the height");
  if (p.valid_round != kNoRound && p.valid_round >= p.round) {
    return Status::Error("valid_round is not below the round");
  }
  if (p.block.data.size() > kMaxBlockBytes) return Status::Error("block too large");
  if (set->id(p.proposer) == cfg_.id) return Status::Ok();  // our own, echoed back
  if (std::optional<Status> routed = RouteElsewhere(from, p.proposer, p, verified)) return *routed;
  RoundState* rs = RoundFor(p.round);
  if (rs == nullptr) return Status::Ok();
  if (rs->proposal) {
    if (*rs->proposal == p) return Status::Ok();
    if (!verified && !VerifyProposal(p)) return Status::Error("invalid signature");
    // A second, different proposal by the proposer: keep the first one. Votes decide
    // which block wins; a replica missing the winner learns it from a Decision.
    return Status::Ok();
  }
  if (!verified && !VerifyProposal(p)) return Status::Error("invalid signature");
  // The signature covers the hash only: a Byzantine proposer can sign the hash of a block
  // others hold and attach another body. Stored, that body would stand for the hash all
  // height long (re-proposals and decisions of the real block refused).
  if (!verified) {
    if (Status s = CheckIdentity(p.block); !s.ok()) return s;
  }
  if (const Block* known = KnownBlock(p.block.hash); known && known->data != p.block.data) {
    return Status::Error("block data differs from an earlier block with the same hash");
  }
  rs->proposal = p;
  rs->proposal->block.certificate.clear();
  NoteRound(p.proposer, p.round);
  Evaluate(p.round);
  return Status::Ok();
}

Status BftEngine::HandleVote(ReplicaId from, const Vote& v, bool verified) {
  const ValidatorSet* set = SetAt(v.height);
  if (set == nullptr) return Status::Ok();  // as for proposals
  // Before any signature: an index outside set(height) names no validator of that height.
  if (v.voter >= set->size()) return Status::Error("unknown voter");
  if (v.type != VoteType::kPrevote && v.type != VoteType::kPrecommit) {
    return Status::Error("unknown vote type");
  }
  if (set->id(v.voter) == cfg_.id) return Status::Ok();  // our own, echoed back
  if (std::optional<Status> routed = RouteElsewhere(from, v.voter, v, verified)) return *routed;
  RoundState* rs = RoundFor(v.round);
  if (rs == nullptr) return Status::Ok();
  VoteSet& votes = rs->votes(v.type);
  if (const Vote* existing = votes.Get(v.voter)) {
    if (*existing == v || votes.HasConflicting(v)) return Status::Ok();
    if (!verified && !VerifyVote(v)) return Status::Error("invalid signature");
    if (existing->block == v.block) return Status::Ok();
    AddEvidence(MakeEvidence(*existing, v), kNoReplica, /*relayed=*/false);
    // Count it for its block too, but only for blocks proposed at this height (bounded:
    // one proposal per kept round), which are the only ones a quorum can matter for.
    if (v.block && KnownBlock(*v.block) != nullptr &&
        votes.conflicting() < 4 * static_cast<size_t>(cur_set_.size()) && votes.AddConflicting(v)) {
      Evaluate(v.round);
    }
    return Status::Ok();
  }
  if (!verified && !VerifyVote(v)) return Status::Error("invalid signature");
  votes.Add(v);
  NoteRound(v.voter, v.round);
  Evaluate(v.round);
  return Status::Ok();
}

Status BftEngine::HandleDecision(ReplicaId from, const Decision& d) {
  (void)from;
  uint64_t h = d.block.height;
  if (sync_target_ && h <= sync_target_->height) return Status::Ok();
  if (sync_handed_out_) return Status::Ok();  // a sync is under way; ask again after it
  if (h < height_ || (h == height_ && decided_)) return Status::Ok();
  if (d.block.data.size() > kMaxBlockBytes) return Status::Error("block too large");
  // Beyond decided + 2 the set is unknown: such a laggard catches up by block sync instead.
  const ValidatorSet* set = SetAt(h);
  if (set == nullptr) return Status::Ok();
  if (Status s = VerifyCertificate(d.cert, chain_, h, d.block.hash, *set, verifier_); !s.ok()) {
    return s;
  }
  // A real certificate says nothing about the body next to it.
  if (Status s = CheckIdentity(d.block); !s.ok()) return s;
  if (h > height_) {
    sync_target_ = BlockRef{h, d.block.hash};
    sync_handed_out_ = false;
    return Status::Ok();
  }
  if (const Block* known = KnownBlock(d.block.hash); known && known->data != d.block.data) {
    return Status::Error("block data differs from an earlier block with the same hash");
  }
  Block b = d.block;
  b.certificate.clear();
  if (!Valid(b, /*recheck=*/true)) return Status::Error("certified block fails validation");
  Decide(b, d.cert);
  return Status::Ok();
}

namespace {

// BftEngine::EvidenceKey.
std::tuple<ReplicaId, uint64_t, uint32_t, uint8_t> KeyOf(const Evidence& e) {
  return {e.a.voter, e.a.height, e.a.round, static_cast<uint8_t>(e.a.type)};
}

}  // namespace

Status BftEngine::HandleEvidence(ReplicaId from, const Evidence& e) {
  // Cheap checks first: one validator must not fill the store (or make this replica relay)
  // with evidence against itself at arbitrary heights and rounds.
  if (!EvidenceWanted(KeyOf(e), /*relayed=*/true)) return Status::Ok();
  const ValidatorSet* set = SetAt(e.a.height);
  if (set == nullptr) return Status::Ok();
  if (Status s = e.Verify(chain_, *set, verifier_); !s.ok()) return s;
  AddEvidence(e, from, /*relayed=*/true);
  return Status::Ok();
}

bool BftEngine::EvidenceWanted(const EvidenceKey& key, bool relayed) const {
  const auto& [voter, height, round, type] = key;
  if (height > height_ + 1 || height + kEvidenceHeights < height_) return false;
  if (evidence_keys_.count(key) > 0) return false;
  // Evidence from votes this replica accepted itself is bounded by the rounds it keeps.
  if (!relayed) return true;
  auto first = evidence_keys_.lower_bound(EvidenceKey{voter, 0, 0, 0});
  size_t held = 0;
  for (auto it = first; it != evidence_keys_.end() && std::get<0>(*it) == voter; ++it) {
    if (++held >= kEvidencePerValidator) return false;
  }
  return true;
}

void BftEngine::AddEvidence(const Evidence& e, ReplicaId except, bool relayed) {
  EvidenceKey key = KeyOf(e);
  if (!EvidenceWanted(key, relayed)) return;
  evidence_keys_.insert(key);
  if (evidence_.size() >= kMaxEvidence) evidence_.erase(evidence_.begin());
  evidence_.push_back(e);
  pending_evidence_.push_back(e.Encode());
  Broadcast(e, except);
}

Status BftEngine::Buffer(ReplicaId signer, const Message& m) {
  std::vector<Message>& mine = next_height_[signer];
  // Per signer and round: one proposal and one vote of each type, what an honest replica
  // sends. Anything else is an equivocation; for votes it becomes evidence.
  const auto* p = std::get_if<Proposal>(&m);
  const auto* v = std::get_if<Vote>(&m);
  for (const Message& old : mine) {
    if (old == m) return Status::Ok();
    if (const auto* op = std::get_if<Proposal>(&old); p && op && op->round == p->round) {
      return Status::Ok();  // keep the first; votes decide which block wins
    }
    if (const auto* ov = std::get_if<Vote>(&old);
        v && ov && ov->round == v->round && ov->type == v->type) {
      if (ov->block != v->block) AddEvidence(MakeEvidence(*ov, *v), kNoReplica, /*relayed=*/false);
      return Status::Ok();
    }
  }
  if (mine.size() >= 3 * kNextHeightRounds) return Status::Ok();  // rounds are checked too
  if (p) {
    if (Status s = CheckIdentity(p->block); !s.ok()) return s;
  }
  mine.push_back(m);
  ++next_height_count_;
  return Status::Ok();
}

void BftEngine::ReplayBuffered() {
  std::vector<std::vector<Message>> buffered;
  buffered.swap(next_height_);
  next_height_.assign(next_set_.size(), {});
  next_height_count_ = 0;
  // Proposals first, so the votes that follow find their block. The buffer was indexed by
  // the set of what is now height_, so r is an index in cur_set_.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t r = 0; r < buffered.size(); ++r) {
      ReplicaId from = r < cur_set_.size() ? cur_set_.id(static_cast<uint32_t>(r)) : kNoReplica;
      for (const Message& m : buffered[r]) {
        if (const auto* p = std::get_if<Proposal>(&m); p && pass == 0) {
          (void)HandleProposal(from, *p, /*verified=*/true);
        } else if (const auto* v = std::get_if<Vote>(&m); v && pass == 1) {
          (void)HandleVote(from, *v, /*verified=*/true);
        }
        if (decided_ || sync_target_) return;
      }
    }
  }
}

RoundState* BftEngine::RoundFor(uint32_t round) {
  auto it = rounds_.find(round);
  if (it != rounds_.end()) return &it->second;
  if (rounds_.size() >= kMaxRoundsKept) {
    // Evict the lowest round that no rule still needs (the current, locked and valid
    // rounds stay). A new round below every evictable one is not worth keeping.
    auto victim = rounds_.begin();
    while (victim != rounds_.end() && (victim->first == round_ || victim->first == locked_round_ ||
                                       victim->first == valid_round_)) {
      ++victim;
    }
    if (victim == rounds_.end() || round < victim->first) return nullptr;
    rounds_.erase(victim);
  }
  return &rounds_.emplace(round, RoundState(cur_set_.size())).first->second;
}

void BftEngine::NoteRound(ReplicaId who, uint32_t round) {
  if (max_round_seen_[who] >= static_cast<int64_t>(round)) return;
  max_round_seen_[who] = round;
  if (round <= round_ || decided_) return;
  // Line 55: f+1 validators are at a round above ours, so at least one honest one is;
  // join the highest round that f+1 of them have reached.
  std::vector<int64_t> ahead;
  for (int64_t r : max_round_seen_) {
    if (r > static_cast<int64_t>(round_)) ahead.push_back(r);
  }
  if (ahead.size() < max_faulty_ + 1) return;
  std::sort(ahead.begin(), ahead.end(), std::greater<>());
  StartRound(static_cast<uint32_t>(ahead[max_faulty_]));
}

std::optional<uint64_t> BftEngine::DecisionDue(ReplicaId to, uint64_t their_height) const {
  if (held_.empty() || !KnownPeer(to)) return std::nullopt;
  auto it = held_.find(their_height);
  if (it == held_.end()) {
    // Below what we still hold: our latest decision makes the peer block-sync.
    if (their_height > held_.begin()->first) return std::nullopt;
    it = std::prev(held_.end());
  }
  // A message sent in the same tick as our decision is the normal flow, not a laggard.
  // (The clock moves on while idle too: IdleTick.)
  if (ticks_ == it->second.decided_at_tick) return std::nullopt;
  // A Decision can be a whole block for a 150-byte vote: at most one per peer per
  // rebroadcast period over all heights, and the same height again only after a few.
  auto found = last_reply_.find(to);
  if (found == last_reply_.end()) return it->first;
  const Reply& last = found->second;
  if (last.sent && ticks_ - last.last_tick < cfg_.rebroadcast_ticks) return std::nullopt;
  for (const auto& [height, tick] : last.recent) {
    if (height == it->first &&
        ticks_ - tick < uint64_t{kDecisionResendPeriods} * cfg_.rebroadcast_ticks) {
      return std::nullopt;
    }
  }
  return it->first;
}

void BftEngine::ReplyDecision(ReplicaId to, uint64_t height) {
  auto it = held_.find(height);
  if (it == held_.end()) return;
  Reply& last = last_reply_[to];
  last.sent = true;
  last.last_tick = ticks_;
  auto same = std::find_if(last.recent.begin(), last.recent.end(),
                           [&](const auto& r) { return r.first == height; });
  if (same != last.recent.end()) last.recent.erase(same);
  if (last.recent.size() >= kReplyMemory) last.recent.erase(last.recent.begin());
  last.recent.emplace_back(height, ticks_);
  Send(to, it->second.decision);
}

const Block* BftEngine::KnownBlock(const crypto::Hash256& hash) const {
  if (locked_value_ && locked_value_->hash == hash) return &*locked_value_;
  if (valid_value_ && valid_value_->hash == hash) return &*valid_value_;
  for (const auto& [r, rs] : rounds_) {
    if (rs.proposal && rs.proposal->block.hash == hash) return &rs.proposal->block;
  }
  return nullptr;
}

}  // namespace cairn::consensus::bft
