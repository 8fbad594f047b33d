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
class BftChecker final : public Checker {
 public:
  BftChecker(const SimConfig& cfg, Counters* counters)
      : seed_(cfg.seed),
        replicas_(cfg.replicas),
        byzantine_(cfg.byzantine),
        counters_(counters),
        verifier_(cfg.seed, cfg.replicas),
        rng_(cfg.seed ^ 0x6a09e667f3bcc909ULL),
        nodes_(cfg.replicas) {
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
      Status s =
          bft::VerifyCertificate(*cert, SimGenesis().hash, b.height, b.hash, replicas_, verifier_);
      if (!s.ok()) {
        return "certificate: replica " + Id(id) + " committed block " + std::to_string(b.height) +
               " with a certificate that does not verify: " + s.message();
      }
      Count("certificates verified");
    }
    for (const Bytes& encoded : rd.evidence) {
      Result<bft::Evidence> e = bft::Evidence::Decode(encoded);
      if (!e) return "evidence: replica " + Id(id) + " emitted undecodable evidence: " + e.error();
      if (Status s = e->Verify(SimGenesis().hash, replicas_, verifier_); !s.ok()) {
        return "evidence: replica " + Id(id) +
               " emitted evidence that does not verify: " + s.message();
      }
      if (Honest(e->a.voter)) {
        return "evidence: replica " + Id(id) + " accuses honest replica " + Id(e->a.voter) +
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
      if (const auto* v = std::get_if<Vote>(&*msg); v && v->voter == id) {
        bool fresh = false;
        if (std::string bad = Signed(id, *v, &fresh); !bad.empty()) return bad;
        signed_new |= fresh;
      } else if (const auto* p = std::get_if<Proposal>(&*msg); p && p->proposer == id) {
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
    ReplicaId proposer = bft::ProposerOf(e.height(), e.round(), replicas_);
    if (s.term != e.round() || s.leader != proposer ||
        (s.role == Role::kLeader) != (proposer == id)) {
      return "status: replica " + Id(id) + " at " + std::to_string(e.height()) + "/" +
             std::to_string(e.round()) + " reports term " + std::to_string(s.term) + ", leader " +
             Id(s.leader) + ", role " + std::string(RoleName(s.role));
    }
    return "";
  }

  std::string OnStep(ReplicaId, ReplicaId to, ByteView message, const Engine& engine) override {
    if (!Honest(to) || message.empty() || message[0] != kVoteTag) return "";
    Result<Message> msg = bft::DecodeMessage(message);
    if (!msg) return "step: replica " + Id(to) + " accepted an undecodable message";
    const auto* v = std::get_if<Vote>(&*msg);
    if (!v) return "";
    const BftEngine& e = dynamic_cast<const BftReplica&>(engine).engine();
    // Only votes for the height being decided, in a recent round the replica has reached:
    // those it must keep (far future and far past rounds may be dropped to bound memory).
    // A replica may drop its own votes coming back from the network without an error.
    // While the height is decided, or a certificate for a later height sent the replica to
    // block sync, it reads no vote of the height at all: Step returns ok for a message it
    // dropped unread, so "accepted" would be wrong (seed 7047238: a replica with a sync
    // target at height 4, still at height 2, was sent both of an equivocator's prevotes).
    if (!e.deciding() || v->height != e.height() || v->round > e.round() ||
        v->round + 16 < e.round() || v->voter == to) {
      return "";
    }
    auto& seen = nodes_[to].heard;
    if (seen.size() > 4096) seen.erase(seen.begin(), seen.lower_bound({e.height(), 0, 0, 0}));
    auto key = std::make_tuple(v->height, v->round, uint8_t(v->type), v->voter);
    auto it = seen.find(key);
    if (it != seen.end() && it->second == v->block) return "";
    // ...and votes with a bad signature.
    if (!verifier_.Verify(v->voter, bft::VoteSignBytes(SimGenesis().hash, *v), v->sig)) return "";
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
           Id(v->voter) + " for " + Short(it->second) + " and for " + Short(v->block) +
           " but holds no evidence of it";
  }

  void OnOpen(ReplicaId id) override { nodes_[id].heard.clear(); }

 private:
  using Key = std::pair<uint64_t, uint32_t>;  // (height, round)

  bool Honest(ReplicaId id) const { return id >= byzantine_.size() || byzantine_[id] == 0; }
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
};

uint32_t RandomBehaviour(Rng& r) {
  if (r.Chance(1, 6)) return kSilent;
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
  for (ReplicaId i = 0; i < replicas; ++i) secrets_.push_back(SecretOf(run_seed, i));
}

bool TestVerifier::Verify(ReplicaId signer, ByteView message, const crypto::Signature& sig) const {
  return signer < secrets_.size() && MacOf(secrets_[signer], message) == sig;
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

BftReplica::BftReplica(const OpenArgs& a)
    : id_(a.id),
      replicas_(a.replicas),
      chain_(SimGenesis().hash),
      counters_(a.counters),
      signer_(a.run_seed, a.id),
      verifier_(a.run_seed, a.replicas),
      validator_(std::make_unique<Validator>(this)),
      applied_(a.applied) {}

BftReplica::~BftReplica() = default;

Status BftReplica::OpenEngine(const OpenArgs& a) {
  auto opened = BftEngine::Open(BftConfigFor(a.run_seed, a.id, a.replicas), signer_, verifier_,
                                *validator_, a.durable, a.applied);
  if (!opened) return opened.status();
  engine_ = std::move(*opened);
  return Status::Ok();
}

Result<std::unique_ptr<BftReplica>> BftReplica::Open(const OpenArgs& a) {
  std::unique_ptr<BftReplica> r(new BftReplica(a));
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

Status BftReplica::SyncCompleted(const BlockRef& tip) {
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
  if (applying_) applied_ = *applying_;
  applying_.reset();
  engine_->Advance();
}

// ---- driver and seed mix

EngineDriver BftDriver() {
  EngineDriver d;
  d.name = "bft";
  d.one_leader_per_term = false;  // the "term" is the round, which restarts every height
  d.sync_may_wait = true;
  d.ledger_sync_ticks = 40;
  d.open = [](const OpenArgs& a) -> Result<std::unique_ptr<Engine>> {
    Result<std::unique_ptr<BftReplica>> r = Status::Error("unopened");
    if (a.byzantine != 0) {
      auto* checker = dynamic_cast<BftChecker*>(a.checker);
      r = ByzantineReplica::Open(a, checker ? &checker->collusion() : nullptr);
    } else {
      r = BftReplica::Open(a);
    }
    if (!r) return r.status();
    return std::unique_ptr<Engine>(std::move(*r));
  };
  d.describe = [](ByteView payload) -> std::string {
    Result<Message> m = bft::DecodeMessage(payload);
    return m ? bft::Describe(*m) : "undecodable: " + m.error();
  };
  d.make_checker = [](const SimConfig& cfg, Counters* counters) {
    return std::make_unique<BftChecker>(cfg, counters);
  };
  return d;
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
