#include "tests/consensus/sim/bft_driver.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "base/codec.h"
#include "consensus/rng.h"
#include "crypto/sha256.h"
#include "tests/consensus/sim/byzantine.h"

namespace cairn::consensus::sim {
namespace {

constexpr uint8_t kVoteTag = 2;  // Message := type: u8 body (messages.cpp); 2 is Vote

using bft::BftEngine;
using bft::Message;
using bft::Proposal;
using bft::Vote;
using codec::Writer;

crypto::Hash256 SecretOf(uint64_t run_seed, ReplicaId id) {
  Writer w;
  w.Raw(AsBytes("cairn sim bft test key"));
  w.U64(run_seed);
  w.U32(id);
  return crypto::Sha256Of(std::move(w).Take());
}

crypto::Signature MacOf(const crypto::Hash256& secret, ByteView message) {
  thread_local crypto::Sha256 sha;
  crypto::Hash256 first = sha.Update(secret).Update(message).Finish();
  crypto::Hash256 second = sha.Update(first).Update(secret).Finish();
  std::array<uint8_t, crypto::Signature::kSize> out;
  std::memcpy(out.data(), first.data(), first.kSize);
  std::memcpy(out.data() + first.kSize, second.data(), second.kSize);
  return crypto::Signature(out);
}

std::string Id(ReplicaId r) { return std::to_string(r); }

// The sim block hash is Sha256 of its data (CheckBlock in sim.cpp).
Status SimBlockIdentity(const Block& b) {
  if (crypto::Sha256Of(b.data) != b.hash)
    return Status::Error("sim block: hash does not match data");
  return Status::Ok();
}

std::string Short(const std::optional<crypto::Hash256>& h) {
  return h ? crypto::ShortHex(*h) : "nil";
}

std::string VoteName(const Vote& v) {
  return std::string(v.type == bft::VoteType::kPrevote ? "prevote" : "precommit") + " " +
         std::to_string(v.height) + "/" + std::to_string(v.round);
}

// Invariants of the BFT engine over a run (on top of the harness's agreement, durability and
// liveness over honest replicas):
// - every committed block carries a certificate that verifies for its height and hash;
// - no honest replica ever signs two different votes of one type for one (height, round),
//   nor two proposals for one (height, round), across restarts;
// - what an honest replica persisted covers every vote it sent: a replica reopened from
//   its disk right after a vote went out (sampled) never signs a conflicting one;
// - evidence never names an honest replica, and an honest replica that accepted two
//   conflicting votes of one validator for the height it is deciding (not decided, not
//   waiting for block sync) holds evidence of them;
// - the ProposalValidator contract holds and GetStatus reports the proposer of (h, r).
//
// With a membership plan, also:
// - each certificate verifies against set(H) of its height, so no signature of a validator
//   outside set(H) (a removed one that keeps voting) counts;
// - an honest replica never signs a vote or proposal for a height whose set it is not in;
// - the status of a replica outside set(H) never says it leads.
class BftChecker final : public Checker {
 public:
  BftChecker(const SimConfig& cfg, Counters* counters, std::optional<MembershipPlan> plan = {})
      : seed_(cfg.seed),
        replicas_(cfg.replicas),
        byzantine_(cfg.byzantine),
        counters_(counters),
        verifier_(cfg.seed, cfg.replicas),
        rng_(cfg.seed ^ 0x6a09e667f3bcc909ULL),
        nodes_(cfg.replicas),
        plan_(std::move(plan)) {
    if (plan_) {
      for (const auto& [from, members] : plan_->sets)
        sets_.emplace(from, plan_->SetAt(seed_, from));
    } else {
      sets_.emplace(0, bft::ValidatorSet::Genesis(replicas_));
    }
    byzantine_.resize(replicas_, 0);
    for (uint32_t b : byzantine_) collusion_.members.push_back(b != 0);
  }

  Collusion& collusion() { return collusion_; }

  std::string OnPersist(ReplicaId id, const Ready& rd, const Disk& disk,
                        const BlockRef& tip) override {
    for (const Block& b : rd.committed) {
      Result<bft::Certificate> cert = bft::Certificate::Decode(b.certificate);
      if (!cert) {
        return "certificate: replica " + Id(id) + " committed block " + std::to_string(b.height) +
               " with an undecodable certificate: " + cert.error();
      }
      const bft::ValidatorSet& set = SetFor(b.height);
      Status s = bft::VerifyCertificate(*cert, SimGenesis().hash, b.height, b.hash, set, verifier_);
      if (!s.ok()) {
        return "certificate: replica " + Id(id) + " committed block " + std::to_string(b.height) +
               " with a certificate that does not verify against set(" + std::to_string(b.height) +
               "): " + s.message();
      }
      Count("certificates verified");
      if (plan_ && b.height >= plan_->sets.rbegin()->first) {
        Count("certificates verified under the last set of the plan");
      }
    }
    for (const Bytes& encoded : rd.evidence) {
      Result<bft::Evidence> e = bft::Evidence::Decode(encoded);
      if (!e) return "evidence: replica " + Id(id) + " emitted undecodable evidence: " + e.error();
      const bft::ValidatorSet& set = SetFor(e->a.height);
      if (Status s = e->Verify(SimGenesis().hash, set, verifier_); !s.ok()) {
        return "evidence: replica " + Id(id) +
               " emitted evidence that does not verify: " + s.message();
      }
      if (Honest(set.id(e->a.voter))) {
        return "evidence: replica " + Id(id) + " accuses honest replica " + Id(set.id(e->a.voter)) +
               " of signing " + VoteName(e->a) + " for " + Short(e->a.block) + " and " +
               Short(e->b.block);
      }
      if (Honest(id)) Count("evidence at honest replicas");
    }
    if (!Honest(id)) return "";
    bool signed_new = false;
    const Bytes* previous = nullptr;
    for (const OutboundMessage& m : rd.messages) {
      // A broadcast is the same payload to every peer: decode it once.
      if (previous && *previous == m.payload) continue;
      previous = &m.payload;
      Result<Message> msg = bft::DecodeMessage(m.payload);
      if (!msg) return "send: honest replica " + Id(id) + " sends garbage: " + msg.error();
      if (std::string bad = SignedOutsideSet(id, *msg); !bad.empty()) return bad;
      if (const auto* v = std::get_if<Vote>(&*msg); v && Owns(id, v->height, v->voter)) {
        bool fresh = false;
        if (std::string bad = Signed(id, *v, &fresh); !bad.empty()) return bad;
        signed_new |= fresh;
      } else if (const auto* p = std::get_if<Proposal>(&*msg);
                 p && Owns(id, p->height, p->proposer)) {
        auto [it, inserted] = nodes_[id].proposals.emplace(Key{p->height, p->round}, p->block.hash);
        if (!inserted && it->second != p->block.hash) {
          return "double proposal: honest replica " + Id(id) + " proposed " + Short(it->second) +
                 " and " + Short(p->block.hash) + " at " + std::to_string(p->height) + "/" +
                 std::to_string(p->round);
        }
      }
    }
    if (signed_new && rng_.Chance(1, 10)) return ShadowRestart(id, disk, tip);
    return "";
  }

  std::string AfterEvent(ReplicaId id, const Engine& engine,
                         const std::vector<BlockRef>&) override {
    const auto* r = dynamic_cast<const BftReplica*>(&engine);
    if (!r) return "checker: not a BFT replica";
    if (!r->contract_violation().empty()) return "validator contract: " + r->contract_violation();
    if (!Honest(id)) return "";
    const BftEngine& e = r->engine();
    EngineStatus s = e.GetStatus();
    const bft::ValidatorSet& set = SetFor(e.height());
    ReplicaId proposer = set.id(bft::ProposerOf(e.height(), e.round(), set.size()));
    if (s.term != e.round() || s.leader != proposer ||
        (s.role == Role::kLeader) != (proposer == id)) {
      return "status: replica " + Id(id) + " at " + std::to_string(e.height()) + "/" +
             std::to_string(e.round()) + " reports term " + std::to_string(s.term) + ", leader " +
             Id(s.leader) + ", role " + std::string(RoleName(s.role));
    }
    return "";
  }

  std::string OnStep(ReplicaId from, ReplicaId to, ByteView message,
                     const Engine& engine) override {
    if (!Honest(to) || message.empty() || message[0] != kVoteTag) return "";
    Result<Message> msg = bft::DecodeMessage(message);
    if (!msg) return "step: replica " + Id(to) + " accepted an undecodable message";
    const auto* v = std::get_if<Vote>(&*msg);
    if (!v) return "";
    const BftEngine& e = dynamic_cast<const BftReplica&>(engine).engine();
    // A sender outside every set the replica holds is dropped unread, with an ok.
    if (!e.KnownPeer(from)) return "";
    // Only votes for the height being decided, in a recent round the replica has reached:
    // those it must keep (far future and far past rounds may be dropped to bound memory).
    // A replica may drop its own votes coming back from the network without an error.
    // While the height is decided, or a certificate for a later height sent the replica to
    // block sync, it reads no vote of the height at all: Step returns ok for a message it
    // dropped unread, so "accepted" would be wrong (seed 7047238: a replica with a sync
    // target at height 4, still at height 2, was sent both of an equivocator's prevotes).
    if (!e.deciding() || v->height != e.height() || v->round > e.round() ||
        v->round + 16 < e.round() || Owns(to, v->height, v->voter)) {
      return "";
    }
    const bft::ValidatorSet& set = SetFor(v->height);
    if (v->voter >= set.size()) {
      return "step: replica " + Id(to) + " accepted a vote of index " + std::to_string(v->voter) +
             " outside set(" + std::to_string(v->height) + ")";
    }
    auto& seen = nodes_[to].heard;
    if (seen.size() > 4096) seen.erase(seen.begin(), seen.lower_bound({e.height(), 0, 0, 0}));
    auto key = std::make_tuple(v->height, v->round, uint8_t(v->type), v->voter);
    auto it = seen.find(key);
    if (it != seen.end() && it->second == v->block) return "";
    // ...and votes with a bad signature.
    if (!set.Verify(verifier_, v->voter, bft::VoteSignBytes(SimGenesis().hash, *v), v->sig)) {
      return "";
    }
    if (it == seen.end()) {
      seen.emplace(key, v->block);
      return "";
    }
    Count("double votes delivered to honest replicas");
    for (const bft::Evidence& ev : e.evidence()) {
      if (ev.a.voter == v->voter && ev.a.type == v->type && ev.a.height == v->height &&
          ev.a.round == v->round) {
        return "";
      }
    }
    return "evidence: replica " + Id(to) + " accepted " + VoteName(*v) + " of replica " +
           Id(set.id(v->voter)) + " for " + Short(it->second) + " and for " + Short(v->block) +
           " but holds no evidence of it";
  }

  void OnOpen(ReplicaId id) override { nodes_[id].heard.clear(); }

 private:
  using Key = std::pair<uint64_t, uint32_t>;  // (height, round)

  bool Honest(ReplicaId id) const { return id >= byzantine_.size() || byzantine_[id] == 0; }
  // set(h): the plan's, else the genesis set of every replica.
  const bft::ValidatorSet& SetFor(uint64_t h) const {
    auto it = sets_.upper_bound(h);
    return it == sets_.begin() ? it->second : std::prev(it)->second;
  }
  // Whether index `index` of set(h) is replica `id`.
  bool Owns(ReplicaId id, uint64_t h, uint32_t index) const {
    const bft::ValidatorSet& set = SetFor(h);
    return index < set.size() && set.id(index) == id;
  }
  // An honest replica signs votes and proposals only for heights whose set it is in. Its
  // own signature (not the index, which anyone can write) says the message is its own.
  std::string SignedOutsideSet(ReplicaId id, const Message& m) {
    if (!plan_) return "";
    uint64_t h = 0;
    Bytes bytes;
    crypto::Signature sig;
    if (const auto* v = std::get_if<Vote>(&m)) {
      h = v->height;
      bytes = bft::VoteSignBytes(SimGenesis().hash, *v);
      sig = v->sig;
    } else if (const auto* p = std::get_if<Proposal>(&m)) {
      h = p->height;
      bytes = bft::ProposalSignBytes(SimGenesis().hash, *p);
      sig = p->sig;
    } else {
      return "";
    }
    if (SetFor(h).Contains(id) || !verifier_.Verify(id, bytes, sig)) return "";
    return "membership: honest replica " + Id(id) + " signed " + bft::Describe(m) + " for height " +
           std::to_string(h) + ", whose set it is not in";
  }
  void Count(const std::string& what) {
    if (counters_) ++(*counters_)[what];
  }

  // Records that honest replica `id` signed `v`; an error if it signed a different one.
  std::string Signed(ReplicaId id, const Vote& v, bool* fresh) {
    auto key = std::make_tuple(v.height, v.round, uint8_t(v.type));
    auto [it, inserted] = nodes_[id].votes.emplace(key, v.block);
    *fresh = inserted;
    if (inserted || it->second == v.block) return "";
    return "double vote: honest replica " + Id(id) + " signed " + VoteName(v) + " for " +
           Short(it->second) + " and for " + Short(v.block);
  }

  // Reopens replica `id` from exactly what it persisted so far (as if it crashed right
  // after sending this Ready) and lets it run alone until its timeouts fired: it must not
  // sign a vote that conflicts with one it already sent.
  std::string ShadowRestart(ReplicaId id, const Disk& disk, const BlockRef& tip) {
    Count("shadow restarts");
    class Accept final : public bft::ProposalValidator {
     public:
      Status CheckIdentity(const Block& b) override { return SimBlockIdentity(b); }
      Status Validate(const Block& b, const BlockRef& parent) override {
        std::string bad = CheckBlock(b, parent);
        return bad.empty() ? Status::Ok() : Status::Error(bad);
      }
    } validator;
    TestSigner signer(seed_, id);
    bft::BftConfig cfg = BftConfigFor(seed_, id, replicas_);
    if (plan_) {
      for (uint64_t h : {tip.height + 1, tip.height + 2}) {
        cfg.validators[h] = plan_->ValidatorsAt(seed_, h);
      }
    }
    auto opened = BftEngine::Open(cfg, signer, verifier_, validator, disk.ToDurable(), tip);
    if (!opened) {
      return "durability: replica " + Id(id) +
             " could not restart from what it persisted: " + opened.error();
    }
    BftEngine& e = **opened;
    uint32_t ticks = cfg.propose_timeout_ticks + 2 * cfg.vote_timeout_ticks +
                     cfg.rebroadcast_ticks + 3 * cfg.max_timeout_ticks / 2;
    for (uint32_t t = 0; t <= ticks; ++t) {
      while (e.HasReady()) {
        Ready rd = e.TakeReady();
        for (const OutboundMessage& m : rd.messages) {
          Result<Message> msg = bft::DecodeMessage(m.payload);
          const auto* v = msg ? std::get_if<Vote>(&*msg) : nullptr;
          if (!v || v->voter != id) continue;
          auto it = nodes_[id].votes.find(std::make_tuple(v->height, v->round, uint8_t(v->type)));
          if (it != nodes_[id].votes.end() && it->second != v->block) {
            return "durability: replica " + Id(id) + " sent " + VoteName(*v) + " for " +
                   Short(it->second) + "; restarted from its disk it signs " + Short(v->block);
          }
        }
        e.Advance();
      }
      e.Tick();
    }
    return "";
  }

  struct NodeState {
    // (height, round, type) -> block of every vote this honest replica signed, ever.
    std::map<std::tuple<uint64_t, uint32_t, uint8_t>, std::optional<crypto::Hash256>> votes;
    std::map<Key, crypto::Hash256> proposals;
    // (height, round, type, voter) -> block of the first vote it accepted since it started.
    std::map<std::tuple<uint64_t, uint32_t, uint8_t, ReplicaId>, std::optional<crypto::Hash256>>
        heard;
  };

  uint64_t seed_;
  uint32_t replicas_;
  std::vector<uint32_t> byzantine_;
  Counters* counters_;
  TestVerifier verifier_;
  Rng rng_;
  std::vector<NodeState> nodes_;
  Collusion collusion_;
  std::optional<MembershipPlan> plan_;
  std::map<uint64_t, bft::ValidatorSet> sets_;  // the plan's sets by effective height
};

uint32_t RandomBehaviour(Rng& r, bool may_be_silent = true) {
  if (may_be_silent && r.Chance(1, 6)) return kSilent;
  uint32_t mask = 0;
  while (mask == 0) {
    for (uint32_t bit : {kEquivocate, kDoubleVote, kInvalidBlocks, kReplay, kForge}) {
      if (r.Chance(1, 2)) mask |= bit;
    }
  }
  return mask;
}

}  // namespace

TestSigner::TestSigner(uint64_t run_seed, ReplicaId id)
    : id_(id), secret_(SecretOf(run_seed, id)) {}

crypto::Signature TestSigner::Sign(ByteView message) const { return MacOf(secret_, message); }

TestVerifier::TestVerifier(uint64_t run_seed, uint32_t replicas) {
  for (ReplicaId i = 0; i < replicas; ++i) {
    secrets_.push_back(SecretOf(run_seed, i));
    keys_.push_back(TestKeyOf(run_seed, i));
  }
}

bool TestVerifier::Verify(ReplicaId signer, ByteView message, const crypto::Signature& sig) const {
  return signer < secrets_.size() && MacOf(secrets_[signer], message) == sig;
}

bool TestVerifier::VerifyKey(const crypto::PublicKey& key, ByteView message,
                             const crypto::Signature& sig) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return MacOf(secrets_[i], message) == sig;
  }
  return false;
}

crypto::PublicKey TestKeyOf(uint64_t run_seed, ReplicaId id) {
  Writer w;
  w.Raw(AsBytes("cairn sim bft test public key"));
  w.Fixed(SecretOf(run_seed, id));
  crypto::Hash256 h = crypto::Sha256Of(std::move(w).Take());
  std::array<uint8_t, 32> b;
  std::memcpy(b.data(), h.data(), b.size());
  return crypto::PublicKey(b);
}

// ---- membership plans

std::vector<ReplicaId> MembershipPlan::MembersAt(uint64_t height) const {
  auto it = sets.upper_bound(height);
  return it == sets.begin() ? sets.begin()->second : std::prev(it)->second;
}

std::vector<ValidatorInfo> MembershipPlan::ValidatorsAt(uint64_t run_seed, uint64_t height) const {
  std::vector<ValidatorInfo> out;
  for (ReplicaId id : MembersAt(height)) out.push_back(ValidatorInfo{id, TestKeyOf(run_seed, id)});
  return out;
}

bft::ValidatorSet MembershipPlan::SetAt(uint64_t run_seed, uint64_t height) const {
  return *bft::ValidatorSet::FromMembers(ValidatorsAt(run_seed, height));
}

uint32_t MembershipPlan::Universe() const {
  uint32_t n = 0;
  for (const auto& [h, members] : sets) {
    for (ReplicaId id : members) n = std::max(n, id + 1);
  }
  return n;
}

MembershipPlan MembershipPlanForSeed(uint64_t seed) {
  Rng r(seed * 0x2545f4914f6cdd1dULL + 29);
  // The first change is carried by a block in [2, 6], the second once the first governs
  // (the executor serialises changes: docs/design/membership.md section 1).
  uint64_t first = r.Range(2, 6) + 2;
  uint64_t second = first + r.Range(2, 5);
  MembershipPlan p;
  switch (r.Uniform(3)) {
    case 0:
      p.name = "grow 4->5->7 at " + std::to_string(first) + "," + std::to_string(second);
      p.sets = {{1, {0, 1, 2, 3}}, {first, {0, 1, 2, 3, 4}}, {second, {0, 1, 2, 3, 4, 5, 6}}};
      break;
    case 1:
      p.name = "shrink 7->6->4 at " + std::to_string(first) + "," + std::to_string(second);
      p.sets = {{1, {0, 1, 2, 3, 4, 5, 6}}, {first, {0, 1, 2, 3, 4, 5}}, {second, {0, 1, 2, 3}}};
      break;
    default:
      p.name = "replace n3 by n4 at " + std::to_string(first);
      p.sets = {{1, {0, 1, 2, 3}}, {first, {0, 1, 2, 4}}};
      break;
  }
  return p;
}

bft::BftConfig BftConfigFor(uint64_t run_seed, ReplicaId id, uint32_t replicas) {
  Rng r(run_seed ^ 0x3c6ef372fe94f82bULL);
  bft::BftConfig c;
  c.id = id;
  c.replicas = replicas;
  c.genesis = SimGenesis();
  // Messages take up to 4 ticks in the slow schedules and a proposer waits ~2 ticks for
  // transactions: short timeouts that grow with the round, capped low enough that after
  // the faults stop a few rounds with Byzantine proposers fit in the liveness phase.
  c.propose_timeout_ticks = static_cast<uint32_t>(r.Range(6, 10));
  c.vote_timeout_ticks = static_cast<uint32_t>(r.Range(3, 6));
  c.timeout_delta_ticks = static_cast<uint32_t>(r.Range(1, 3));
  c.max_timeout_ticks = static_cast<uint32_t>(r.Range(25, 40));
  c.rebroadcast_ticks = static_cast<uint32_t>(r.Range(3, 8));
  return c;
}

// ---- BftReplica

class BftReplica::Validator final : public bft::ProposalValidator {
 public:
  explicit Validator(BftReplica* owner) : owner_(owner) {}

  Status CheckIdentity(const Block& block) override {
    Status s = SimBlockIdentity(block);
    if (!s.ok()) owner_->Count("bodies refused for their hash");
    return s;
  }

  Status Validate(const Block& block, const BlockRef& parent) override {
    BftReplica& r = *owner_;
    if (parent != r.applied_ && r.contract_violation_.empty()) {
      r.contract_violation_ = "replica " + Id(r.id_) + " was asked to validate block " +
                              std::to_string(block.height) + " on parent " +
                              std::to_string(parent.height) + "/" + Short(parent.hash) +
                              " while its applied tip is " + std::to_string(r.applied_.height) +
                              "/" + Short(r.applied_.hash);
    }
    if (std::string bad = CheckBlock(block, parent); !bad.empty()) {
      r.Count("invalid blocks refused");
      return Status::Error("sim block: " + bad);
    }
    return Status::Ok();
  }

 private:
  BftReplica* owner_;
};

BftReplica::BftReplica(const OpenArgs& a, std::optional<MembershipPlan> plan)
    : id_(a.id),
      replicas_(a.replicas),
      run_seed_(a.run_seed),
      plan_(std::move(plan)),
      chain_(SimGenesis().hash),
      counters_(a.counters),
      signer_(a.run_seed, a.id),
      verifier_(a.run_seed, a.replicas),
      validator_(std::make_unique<Validator>(this)),
      applied_(a.applied) {}

BftReplica::~BftReplica() = default;

Status BftReplica::OpenEngine(const OpenArgs& a) {
  bft::BftConfig cfg = BftConfigFor(a.run_seed, a.id, a.replicas);
  if (plan_) {
    // What a node computes from its state after the applied block: set(applied + 1) and
    // set(applied + 2).
    for (uint64_t h : {a.applied.height + 1, a.applied.height + 2}) {
      cfg.validators[h] = plan_->ValidatorsAt(a.run_seed, h);
    }
  }
  auto opened = BftEngine::Open(cfg, signer_, verifier_, *validator_, a.durable, a.applied);
  if (!opened) return opened.status();
  engine_ = std::move(*opened);
  return Status::Ok();
}

Result<std::unique_ptr<BftReplica>> BftReplica::Open(const OpenArgs& a,
                                                     std::optional<MembershipPlan> plan) {
  std::unique_ptr<BftReplica> r(new BftReplica(a, std::move(plan)));
  if (Status s = r->OpenEngine(a); !s.ok()) return s;
  return r;
}

void BftReplica::Count(const std::string& what, uint64_t n) {
  if (counters_) (*counters_)[what] += n;
}

void BftReplica::Tick() { engine_->Tick(); }
Status BftReplica::Step(ReplicaId from, ByteView message) { return engine_->Step(from, message); }
std::optional<ProposalSlot> BftReplica::ProposalWanted() const { return engine_->ProposalWanted(); }
Status BftReplica::Propose(Block block) { return engine_->Propose(std::move(block)); }
Status BftReplica::Compact(uint64_t height) { return engine_->Compact(height); }
bool BftReplica::HasReady() const { return engine_->HasReady(); }
EngineStatus BftReplica::GetStatus() const { return engine_->GetStatus(); }

void BftReplica::FeedSet(uint64_t height) {
  if (!plan_) return;
  Status s = engine_->SetValidators(height, plan_->ValidatorsAt(run_seed_, height));
  if (!s.ok() && contract_violation_.empty()) {
    contract_violation_ =
        "replica " + Id(id_) + " refused set(" + std::to_string(height) + "): " + s.message();
  }
}

std::optional<uint32_t> BftReplica::IndexAt(uint64_t height) const {
  if (!plan_) return id_;
  std::vector<ReplicaId> m = plan_->MembersAt(height);
  auto it = std::find(m.begin(), m.end(), id_);
  if (it == m.end()) return std::nullopt;
  return static_cast<uint32_t>(it - m.begin());
}

uint32_t BftReplica::SetSize(uint64_t height) const {
  return plan_ ? static_cast<uint32_t>(plan_->MembersAt(height).size()) : replicas_;
}

ReplicaId BftReplica::MemberAt(uint64_t height, uint32_t index) const {
  return plan_ ? plan_->MembersAt(height)[index] : index;
}

Status BftReplica::SyncCompleted(const BlockRef& tip) {
  // The node applied blocks up to tip: it knows set(tip + 1) and set(tip + 2).
  FeedSet(tip.height + 1);
  FeedSet(tip.height + 2);
  Status s = engine_->SyncCompleted(tip);
  if (s.ok()) applied_ = tip;
  return s;
}

Ready BftReplica::TakeReady() {
  Ready rd = engine_->TakeReady();
  if (!rd.committed.empty())
    applying_ = BlockRef{rd.committed.back().height, rd.committed.back().hash};
  return rd;
}

void BftReplica::Advance() {
  // The node applied the Ready's blocks before calling Advance(), and the engine may
  // validate the next height's buffered proposals inside it.
  if (applying_) {
    applied_ = *applying_;
    // Applying block h told the node set(h + 2); the engine hears it before it moves on.
    FeedSet(applying_->height + 2);
  }
  applying_.reset();
  engine_->Advance();
}

// ---- driver and seed mix

namespace {

EngineDriver MakeBftDriver(bool membership) {
  EngineDriver d;
  d.name = membership ? "bft-membership" : "bft";
  d.one_leader_per_term = false;  // the "term" is the round, which restarts every height
  d.sync_may_wait = true;
  d.ledger_sync_ticks = 40;
  d.open = [membership](const OpenArgs& a) -> Result<std::unique_ptr<Engine>> {
    std::optional<MembershipPlan> plan;
    if (membership) plan = MembershipPlanForSeed(a.run_seed);
    Result<std::unique_ptr<BftReplica>> r = Status::Error("unopened");
    if (a.byzantine != 0) {
      auto* checker = dynamic_cast<BftChecker*>(a.checker);
      r = ByzantineReplica::Open(a, checker ? &checker->collusion() : nullptr, std::move(plan));
    } else {
      r = BftReplica::Open(a, std::move(plan));
    }
    if (!r) return r.status();
    return std::unique_ptr<Engine>(std::move(*r));
  };
  d.describe = [](ByteView payload) -> std::string {
    Result<Message> m = bft::DecodeMessage(payload);
    return m ? bft::Describe(*m) : "undecodable: " + m.error();
  };
  d.make_checker = [membership](const SimConfig& cfg, Counters* counters) {
    std::optional<MembershipPlan> plan;
    if (membership) plan = MembershipPlanForSeed(cfg.seed);
    return std::make_unique<BftChecker>(cfg, counters, std::move(plan));
  };
  return d;
}

}  // namespace

EngineDriver BftDriver() { return MakeBftDriver(/*membership=*/false); }
EngineDriver BftMembershipDriver() { return MakeBftDriver(/*membership=*/true); }

SimConfig BftMembershipConfigForSeed(uint64_t seed) {
  MembershipPlan plan = MembershipPlanForSeed(seed);
  const uint32_t n = plan.Universe();
  SimConfig c = ConfigForSeed(seed, {n});
  c.fault_ticks = c.fault_ticks * 3 / 4;
  c.byzantine.assign(n, 0);
  Rng r(seed * 0xd1342543de82ef95ULL + 11);
  auto zombie = [&] { return kZombie | RandomBehaviour(r, /*may_be_silent=*/false); };
  auto any_of_first_four = [&] { return static_cast<ReplicaId>(r.Uniform(4)); };
  // Every choice keeps at most f = (|set(H)| - 1) / 3 Byzantine validators in every set(H).
  const std::vector<ReplicaId> last = plan.sets.rbegin()->second;
  switch (r.Uniform(4)) {
    case 0:
      break;  // all honest
    case 1:
      if (n == 7 && last.size() == 7) {  // grow: the added validator is Byzantine
        c.byzantine[4] = RandomBehaviour(r);
      } else if (n == 7) {  // shrink: the first removed validator keeps voting
        c.byzantine[6] = zombie();
      } else {  // replace: the removed one keeps voting, the added one is Byzantine
        c.byzantine[3] = zombie();
        c.byzantine[4] = RandomBehaviour(r);
      }
      break;
    case 2:
      if (n == 7 && last.size() == 7) {  // grow: one of the first four, one of the last two
        c.byzantine[any_of_first_four()] = RandomBehaviour(r);
        c.byzantine[5 + r.Uniform(2)] = RandomBehaviour(r);
      } else if (n == 7) {  // shrink: both removed validators keep voting
        c.byzantine[5] = zombie();
        c.byzantine[6] = zombie();
      } else {  // replace: colluders, the removed one double-voting for the added one's splits
        c.byzantine[3] = kZombie | kDoubleVote;
        c.byzantine[4] = kEquivocate | kDoubleVote;
      }
      break;
    default:
      if (n == 7 && last.size() == 7) {
        c.byzantine[any_of_first_four()] = RandomBehaviour(r);
      } else if (n == 7) {  // shrink: a zombie and one that stays
        c.byzantine[6] = zombie();
        c.byzantine[any_of_first_four()] = RandomBehaviour(r);
      } else {
        c.byzantine[3] = zombie();
      }
      break;
  }
  std::string names;
  for (ReplicaId id = 0; id < n; ++id) {
    if (c.byzantine[id]) names += " n" + Id(id) + ":" + BehaviourNames(c.byzantine[id]);
  }
  c.faults.name += ", " + plan.name + (names.empty() ? " (all honest)" : ", byzantine" + names);
  // Joining and removed validators follow by block sync (ledger_sync_ticks) when they fall
  // behind, and rounds with Byzantine proposers cost a propose timeout each.
  c.liveness_ticks = 800;
  return c;
}

SimConfig BftConfigForSeed(uint64_t seed) {
  SimConfig c = ConfigForSeed(seed, {1, 4, 4, 4, 7, 7});
  // Shorter faulty phases than Raft's: a BFT height costs n^2 signed messages, and 1,000
  // seeds must also run under the sanitizers.
  c.fault_ticks = c.fault_ticks * 3 / 4;
  Rng r(seed * 0xd1342543de82ef95ULL + 7);
  // Mostly as many Byzantine replicas as the engine must survive; sometimes fewer.
  uint32_t f = bft::MaxFaulty(c.replicas);
  uint32_t count = r.Chance(1, 8) ? static_cast<uint32_t>(r.Uniform(f + 1)) : f;
  c.byzantine.assign(c.replicas, 0);
  std::string names;
  for (uint32_t k = 0; k < count; ++k) {
    ReplicaId id;
    do {
      id = static_cast<ReplicaId>(r.Uniform(c.replicas));
    } while (c.byzantine[id] != 0);
    c.byzantine[id] = RandomBehaviour(r);
  }
  for (ReplicaId id = 0; id < c.replicas; ++id) {
    if (c.byzantine[id]) names += " n" + Id(id) + ":" + BehaviourNames(c.byzantine[id]);
  }
  c.faults.name += names.empty() ? " (all honest)" : " byzantine" + names;
  // Rounds whose proposer is Byzantine cost a propose timeout each.
  c.liveness_ticks = 600;
  return c;
}

}  // namespace cairn::consensus::sim
