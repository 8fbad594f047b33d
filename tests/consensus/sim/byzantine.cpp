#include "tests/consensus/sim/byzantine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace cairn::consensus::sim {
namespace {

using bft::EncodeMessage;
using bft::Message;
using bft::Proposal;
using bft::Vote;

constexpr size_t kRecent = 24;
constexpr size_t kSample = 24;

}  // namespace

std::string BehaviourNames(uint32_t mask) {
  if (mask == 0) return "honest";
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kEquivocate, "equivocate"}, {kDoubleVote, "double-vote"}, {kInvalidBlocks, "invalid-blocks"},
      {kReplay, "replay"},         {kSilent, "silent"},          {kForge, "forge"},
      {kZombie, "zombie"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (mask & bit) out += (out.empty() ? "" : "+") + std::string(name);
  }
  return out;
}

ByzantineReplica::ByzantineReplica(const OpenArgs& a, Collusion* collusion,
                                   std::optional<MembershipPlan> plan)
    : BftReplica(a, std::move(plan)),
      behaviour_((a.byzantine & kSilent) ? kSilent : a.byzantine),
      rng_(a.node_seed ^ 0xbb67ae8584caa73bULL),
      collusion_(collusion ? collusion : &own_) {
  if (!collusion) {
    own_.members.assign(a.replicas, false);
    own_.members[a.id] = true;
  }
}

Result<std::unique_ptr<BftReplica>> ByzantineReplica::Open(const OpenArgs& a, Collusion* collusion,
                                                           std::optional<MembershipPlan> plan) {
  std::unique_ptr<ByzantineReplica> r(new ByzantineReplica(a, collusion, std::move(plan)));
  if (Status s = r->OpenEngine(a); !s.ok()) return s;
  return std::unique_ptr<BftReplica>(std::move(r));
}

Status ByzantineReplica::Step(ReplicaId from, ByteView message) {
  if (behaviour_ & kReplay) Remember(message);
  if (behaviour_ & kDoubleVote) {
    Result<Message> m = bft::DecodeMessage(message);
    if (m && std::holds_alternative<Proposal>(*m)) {
      last_block_seen_ = std::get<Proposal>(*m).block.hash;
    }
  }
  return BftReplica::Step(from, message);
}

Ready ByzantineReplica::TakeReady() {
  Ready rd = BftReplica::TakeReady();
  if (behaviour_ == kSilent) {
    if (!rd.messages.empty()) Count("byzantine: messages withheld", rd.messages.size());
    rd.messages.clear();
    return rd;
  }
  std::vector<OutboundMessage> out;
  for (OutboundMessage& m : rd.messages) {
    Result<Message> msg = bft::DecodeMessage(m.payload);
    if (!msg) {
      out.push_back(std::move(m));
      continue;
    }
    Rewrite(m.to, *msg, std::move(m.payload), out);
  }
  if ((behaviour_ & kForge) && rng_.Chance(1, 4)) AddForgery(out);
  if (behaviour_ & kZombie) AddZombieVotes(out);
  if (behaviour_ & kReplay) {
    if (!out.empty() && rng_.Chance(1, 3)) Remember(out[rng_.Uniform(out.size())].payload);
    AddReplays(out);
  }
  rd.messages = std::move(out);
  return rd;
}

void ByzantineReplica::Rewrite(ReplicaId to, const Message& m, Bytes payload,
                               std::vector<OutboundMessage>& out) {
  if (const auto* p = std::get_if<Proposal>(&m);
      p && IndexAt(p->height) == p->proposer && (behaviour_ & (kEquivocate | kInvalidBlocks))) {
    return RewriteProposal(to, *p, std::move(payload), out);
  }
  if (const auto* v = std::get_if<Vote>(&m);
      v && IndexAt(v->height) == v->voter && (behaviour_ & (kEquivocate | kDoubleVote))) {
    return RewriteVote(to, *v, std::move(payload), out);
  }
  if (const auto* d = std::get_if<bft::Decision>(&m);
      d && (behaviour_ & kInvalidBlocks) && rng_.Chance(1, 2)) {
    // A real certificate with another body: a laggard must not take the body for the block.
    bft::Decision bad = *d;
    bad.block.data = OtherBody(d->block);
    Count("byzantine: other bodies under a real hash");
    out.push_back(OutboundMessage{to, EncodeMessage(bad)});
    return;
  }
  out.push_back(OutboundMessage{to, std::move(payload)});
}

void ByzantineReplica::RewriteProposal(ReplicaId to, const Proposal& p, Bytes,
                                       std::vector<OutboundMessage>& out) {
  if (behaviour_ & kEquivocate) {
    const Collusion::Split& split = SplitFor(p);
    const auto& [a, b] = equivocations_.at(Key{p.height, p.round});
    out.push_back(OutboundMessage{to, EncodeMessage(split.gets_b[to] ? b : a)});
    return;
  }
  if (PoisonFor(p, to)) {
    // The signature covers the hash only, so the honest proposal with another body still
    // carries a valid signature.
    Proposal q = p;
    q.block.data = OtherBody(p.block);
    Count("byzantine: other bodies under a real hash");
    out.push_back(OutboundMessage{to, EncodeMessage(q)});
    return;
  }
  if (poisoned_.at(Key{p.height, p.round}).empty()) {
    out.push_back(OutboundMessage{to, EncodeMessage(InvalidFor(p))});
    return;
  }
  out.push_back(OutboundMessage{to, EncodeMessage(p)});
}

bool ByzantineReplica::PoisonFor(const Proposal& p, ReplicaId to) {
  auto [it, fresh] = poisoned_.try_emplace(Key{p.height, p.round});
  if (fresh && rng_.Chance(1, 3)) {
    // Some validators (at least one) get the other body; empty: no poisoning this round.
    it->second.assign(replicas(), false);
    for (ReplicaId i = 0; i < replicas(); ++i) it->second[i] = i != id() && rng_.Chance(1, 2);
    ReplicaId sure = RandomPeer();
    it->second[sure] = true;
  }
  return !it->second.empty() && it->second[to];
}

Bytes ByzantineReplica::OtherBody(const Block& b) {
  Bytes body;
  if (rng_.Chance(1, 2)) {
    std::optional<BlockRef> parent = BlockParent(b);
    body =
        MakeBlock(parent ? *parent : BlockRef{b.height - 1, RandomHash()}, id(), rng_.Next()).data;
  } else {
    body.resize(rng_.Uniform(80));
    for (uint8_t& byte : body) byte = static_cast<uint8_t>(rng_.Next());
  }
  if (body == b.data) body.push_back(0);
  return body;
}

const Collusion::Split& ByzantineReplica::SplitFor(const Proposal& p) {
  Key key{p.height, p.round};
  Collusion::Split& split = collusion_->splits[key];
  if (equivocations_.count(key)) return split;
  Proposal a = p;
  if ((behaviour_ & kInvalidBlocks) && rng_.Chance(1, 2)) a = InvalidFor(p);
  Proposal b = p;
  std::optional<BlockRef> parent = BlockParent(p.block);
  b.block = MakeBlock(parent ? *parent : BlockRef{p.height - 1, RandomHash()}, id(), rng_.Next());
  b = Signed(std::move(b));
  Count("byzantine: equivocating proposals");
  split.a = a.block.hash;
  split.b = b.block.hash;
  equivocations_.emplace(key, std::make_pair(std::move(a), std::move(b)));
  if (split.gets_b.empty()) {
    // Half the honest validators (in random order) get B, so that with f+1 colluders both
    // halves can reach a quorum; colluders get A.
    std::vector<ReplicaId> honest;
    for (ReplicaId i = 0; i < replicas(); ++i) {
      if (!collusion_->members[i]) honest.push_back(i);
    }
    for (size_t i = honest.size(); i > 1; --i) std::swap(honest[i - 1], honest[rng_.Uniform(i)]);
    split.gets_b.assign(replicas(), false);
    for (size_t i = 0; i < honest.size() / 2; ++i) split.gets_b[honest[i]] = true;
  }
  return split;
}

const Proposal& ByzantineReplica::InvalidFor(const Proposal& p) {
  Key key{p.height, p.round};
  if (auto it = invalid_.find(key); it != invalid_.end()) return it->second;
  Proposal q = p;
  std::optional<BlockRef> parent = BlockParent(p.block);
  BlockRef good_parent = parent ? *parent : BlockRef{p.height - 1, RandomHash()};
  switch (rng_.Uniform(5)) {
    case 0:  // on a parent that is not the committed block
      q.block = MakeBlock(BlockRef{p.height - 1, RandomHash()}, id(), rng_.Next());
      break;
    case 1: {  // not a block at all
      q.block.data.resize(rng_.Uniform(80));
      for (uint8_t& byte : q.block.data) byte = static_cast<uint8_t>(rng_.Next());
      q.block.hash = crypto::Sha256Of(q.block.data);
      break;
    }
    case 2:  // well formed, but its contents say another height
      q.block = MakeBlock(BlockRef{p.height, good_parent.hash}, id(), rng_.Next());
      q.block.height = p.height;
      break;
    case 3:  // the claimed hash does not commit to the contents ("bad state root")
      q.block = MakeBlock(good_parent, id(), rng_.Next());
      q.block.hash = RandomHash();
      break;
    default:  // a block for another height than the proposal's
      q.block = MakeBlock(BlockRef{p.height, RandomHash()}, id(), rng_.Next());
      break;
  }
  Count("byzantine: invalid proposals");
  return invalid_.emplace(key, Signed(std::move(q))).first->second;
}

void ByzantineReplica::RewriteVote(ReplicaId to, const Vote& v, Bytes payload,
                                   std::vector<OutboundMessage>& out) {
  Key key{v.height, v.round};
  auto split = collusion_->splits.find(key);
  if (split != collusion_->splits.end() && !split->second.gets_b.empty()) {
    // A colluder equivocated this round: vote for whichever block this peer was shown.
    Vote w = v;
    w.block = split->second.gets_b[to] ? split->second.b : split->second.a;
    if (w.block == v.block) {
      out.push_back(OutboundMessage{to, std::move(payload)});
    } else {
      Count("byzantine: split votes");
      out.push_back(OutboundMessage{to, EncodeMessage(SignAs(w))});
    }
    return;
  }
  if (!(behaviour_ & kDoubleVote)) {
    out.push_back(OutboundMessage{to, std::move(payload)});
    return;
  }
  auto [it, fresh] = double_votes_.try_emplace(std::make_pair(key, uint8_t(v.type)));
  DoubleVote& dv = it->second;
  if (fresh) {
    Vote other = v;
    if (v.block && rng_.Chance(1, 2)) {
      other.block.reset();
    } else if (last_block_seen_ && last_block_seen_ != v.block && rng_.Chance(1, 2)) {
      other.block = last_block_seen_;
    } else {
      other.block = RandomHash();
    }
    dv.other = SignAs(other);
    dv.mode = static_cast<int>(rng_.Uniform(3));
    dv.target = RandomPeer();
    Count("byzantine: double votes");
  }
  Bytes other = EncodeMessage(dv.other);
  switch (dv.mode) {
    case 0:  // each peer sees one of the two
      out.push_back(
          OutboundMessage{to, (to + v.round) % 2 ? std::move(other) : std::move(payload)});
      break;
    case 1:  // every peer sees both
      out.push_back(OutboundMessage{to, std::move(payload)});
      out.push_back(OutboundMessage{to, std::move(other)});
      break;
    default:  // one peer sees both
      out.push_back(OutboundMessage{to, std::move(payload)});
      if (to == dv.target) out.push_back(OutboundMessage{to, std::move(other)});
      break;
  }
}

void ByzantineReplica::AddForgery(std::vector<OutboundMessage>& out) {
  ReplicaId to = RandomPeer();
  const bft::BftEngine& e = engine();
  Vote v;
  v.type = rng_.Chance(1, 2) ? bft::VoteType::kPrevote : bft::VoteType::kPrecommit;
  v.height = e.height();
  v.round = e.round();
  if (rng_.Chance(1, 2)) v.block = last_block_seen_ ? *last_block_seen_ : RandomHash();
  // Indices are read in set(height): "another validator" is another index of it.
  const uint32_t size = SetSize(v.height);
  std::optional<uint32_t> index = IndexAt(v.height);
  const uint32_t own = index ? *index : static_cast<uint32_t>(rng_.Uniform(size));
  auto other = [&] {
    return size < 2 ? own : (own + 1 + static_cast<uint32_t>(rng_.Uniform(size - 1))) % size;
  };
  v.voter = own;
  Bytes payload;
  switch (rng_.Uniform(5)) {
    case 0: {  // a vote in another validator's name, signed with this one's key
      v.voter = other();
      v.sig = signer().Sign(bft::VoteSignBytes(chain(), v));
      payload = EncodeMessage(v);
      break;
    }
    case 1: {  // an own vote with a corrupted signature
      v = SignAs(v);
      v.sig.data()[rng_.Uniform(v.sig.kSize)] ^= static_cast<uint8_t>(1 + rng_.Uniform(255));
      payload = EncodeMessage(v);
      break;
    }
    case 2: {  // evidence against another validator, made of votes it never signed
      bft::Evidence ev;
      ev.a = v;
      ev.a.voter = other();
      ev.a.sig = signer().Sign(bft::VoteSignBytes(chain(), ev.a));
      ev.b = ev.a;
      ev.b.block = ev.a.block ? std::nullopt : std::optional<crypto::Hash256>(RandomHash());
      ev.b.sig = signer().Sign(bft::VoteSignBytes(chain(), ev.b));
      if (bft::EncodeMessage(ev.b) < bft::EncodeMessage(ev.a)) std::swap(ev.a, ev.b);
      payload = EncodeMessage(ev);
      break;
    }
    case 3: {  // a valid own vote, truncated
      payload = EncodeMessage(SignAs(v));
      payload.resize(rng_.Uniform(payload.size()));
      break;
    }
    default: {  // noise
      payload.resize(rng_.Uniform(120));
      for (uint8_t& byte : payload) byte = static_cast<uint8_t>(rng_.Next());
      break;
    }
  }
  Count("byzantine: forged messages");
  out.push_back(OutboundMessage{to, std::move(payload)});
}

void ByzantineReplica::Remember(ByteView message) {
  Bytes copy(message.begin(), message.end());
  ++heard_count_;
  if (sample_.size() < kSample) {
    sample_.push_back(copy);
  } else if (uint64_t j = rng_.Uniform(heard_count_); j < kSample) {
    sample_[j] = copy;
  }
  recent_.push_back(std::move(copy));
  if (recent_.size() > kRecent) recent_.pop_front();
}

void ByzantineReplica::AddReplays(std::vector<OutboundMessage>& out) {
  if (recent_.empty()) return;
  for (uint64_t k = rng_.Uniform(3); k > 0; --k) {
    const Bytes& m = rng_.Chance(1, 2) ? recent_[rng_.Uniform(recent_.size())]
                                       : sample_[rng_.Uniform(sample_.size())];
    out.push_back(OutboundMessage{RandomPeer(), m});
    Count("byzantine: replayed messages");
  }
}

bft::Vote ByzantineReplica::SignAs(Vote v) const {
  v.sig = signer().Sign(bft::VoteSignBytes(chain(), v));
  return v;
}

void ByzantineReplica::AddZombieVotes(std::vector<OutboundMessage>& out) {
  const bft::BftEngine& e = engine();
  const uint64_t h = e.height();
  if (!plan() || IndexAt(h)) return;  // still a validator: nothing to fake
  // The index it held in the last set it was in, before h.
  std::optional<uint32_t> last_index;
  for (const auto& [from, members] : plan()->sets) {
    if (from > h) break;
    auto it = std::find(members.begin(), members.end(), id());
    if (it != members.end()) last_index = static_cast<uint32_t>(it - members.begin());
  }
  if (!last_index || !rng_.Chance(1, 2)) return;  // never a validator yet, or resting
  // Its old index if the new set still has one (another member's now), else any index.
  const uint32_t size = SetSize(h);
  Vote v;
  v.height = h;
  v.round = e.round();
  v.voter = *last_index < size ? *last_index : static_cast<uint32_t>(rng_.Uniform(size));
  auto split = collusion_->splits.find(Key{h, v.round});
  for (uint32_t i = 0; i < size; ++i) {
    ReplicaId to = MemberAt(h, i);
    if (to == id()) continue;
    if (split != collusion_->splits.end() && !split->second.gets_b.empty()) {
      // For whichever block a colluding proposer showed this validator: counted, these
      // votes would make both halves of an equivocation reach a quorum.
      v.block = split->second.gets_b[to] ? split->second.b : split->second.a;
    } else {
      v.block = rng_.Chance(1, 2) ? std::nullopt : last_block_seen_;
    }
    for (bft::VoteType type : {bft::VoteType::kPrevote, bft::VoteType::kPrecommit}) {
      v.type = type;
      out.push_back(OutboundMessage{to, EncodeMessage(SignAs(v))});
      Count("byzantine: votes after removal");
    }
  }
}

Proposal ByzantineReplica::Signed(Proposal p) const {
  p.sig = signer().Sign(bft::ProposalSignBytes(chain(), p));
  return p;
}

ReplicaId ByzantineReplica::RandomPeer() {
  return (id() + 1 + static_cast<ReplicaId>(rng_.Uniform(replicas() - 1))) % replicas();
}

crypto::Hash256 ByzantineReplica::RandomHash() {
  std::array<uint8_t, crypto::Hash256::kSize> b;
  for (size_t i = 0; i < b.size(); i += 8) {
    uint64_t x = rng_.Next();
    std::memcpy(b.data() + i, &x, 8);
  }
  return crypto::Hash256(b);
}

}  // namespace cairn::consensus::sim
