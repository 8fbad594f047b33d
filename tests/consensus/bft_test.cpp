// BFT engine, mapped to the properties of Tendermint (Buchman, Kwon, Milosevic 2018,
// Algorithm 1) and to the robustness rules of notes/bft_design.md. Engines are driven by
// hand (the test plays the other validators with their real keys) or through a small
// deterministic in-process network.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "consensus/bft/bft.h"
#include "consensus/bft/state.h"
#include "consensus/rng.h"
#include "crypto/ed25519.h"

namespace cairn::consensus::bft {
namespace {

crypto::KeyPair KeyFor(uint32_t i) {
  crypto::Init();
  crypto::PrivateKey seed;
  seed.data()[0] = static_cast<uint8_t>(i + 1);
  seed.data()[31] = 0x5e;
  return crypto::KeyPair::FromSeed(seed);
}

struct Validators {
  explicit Validators(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      signers.emplace_back(i, KeyFor(i));
      keys.push_back(KeyFor(i).public_key());
    }
    verifier = std::make_unique<Ed25519Verifier>(keys);
  }
  std::vector<Ed25519Signer> signers;
  std::vector<crypto::PublicKey> keys;
  std::unique_ptr<Ed25519Verifier> verifier;
};

const BlockRef kGenesis{0, crypto::Sha256Of(AsBytes("bft test genesis"))};

Block MakeBlock(uint64_t height, const std::string& tag) {
  Block b;
  b.height = height;
  std::string s = "h=" + std::to_string(height) + " " + tag;
  b.data = Bytes(s.begin(), s.end());
  b.hash = crypto::Sha256Of(b.data);
  return b;
}

// Accepts blocks whose hash matches their data and whose data does not say "bad"; counts
// calls that break the engine's side of the ProposalValidator contract. `fail_next` makes
// the next validations fail as a passing local problem would (clock drift, a read error).
class TestValidator final : public ProposalValidator {
 public:
  Status CheckIdentity(const Block& b) override {
    if (crypto::Sha256Of(b.data) != b.hash) return Status::Error("hash mismatch");
    return Status::Ok();
  }
  Status Validate(const Block& b, const BlockRef& parent) override {
    ++calls;
    if (in_commit_ready || parent != applied || b.height != parent.height + 1) ++violations;
    if (crypto::Sha256Of(b.data) != b.hash) {
      ++violations;  // CheckIdentity comes first
      return Status::Error("hash mismatch");
    }
    if (fail_next > 0) {
      --fail_next;
      return Status::Error("passing failure");
    }
    if (AsString(b.data).find("bad") != std::string::npos) return Status::Error("bad block");
    return Status::Ok();
  }
  BlockRef applied = kGenesis;
  bool in_commit_ready = false;
  int fail_next = 0;
  int calls = 0;
  int violations = 0;
};

BftConfig Config(ReplicaId id, uint32_t n) {
  BftConfig c;
  c.id = id;
  c.replicas = n;
  c.genesis = kGenesis;
  return c;
}

// One validator as a node runs it: durable storage, the applied chain and the Ready loop.
struct Replica {
  Replica(const Validators& v, BftConfig config)
      : cfg(config), signer(v.signers[config.id]), verifier(*v.verifier) {
    Open();
  }

  void Open() {
    DurableState d;
    d.hard_state = hard_state;
    for (const auto& [i, data] : records) d.records.push_back(LogRecord{i, data});
    auto e = BftEngine::Open(cfg, signer, verifier, validator, d, Applied());
    REQUIRE(e.ok());
    engine = std::move(*e);
  }

  BlockRef Applied() const {
    return chain.empty() ? kGenesis : BlockRef{chain.back().height, chain.back().hash};
  }

  // Step 1 of a Ready, and the check that it covers every own vote and proposal sent.
  void Persist(const Ready& rd) {
    if (rd.hard_state) hard_state = *rd.hard_state;
    if (rd.truncate_from) records.erase(records.lower_bound(*rd.truncate_from), records.end());
    for (const LogRecord& r : rd.append) records[r.index] = r.data;
    if (rd.discard_through)
      records.erase(records.begin(), records.upper_bound(*rd.discard_through));
    if (rd.messages.empty()) return;
    // A fresh replica that has signed nothing may have no hard state yet.
    Result<HardState> hs = hard_state ? DecodeHardState(*hard_state) : HardState();
    REQUIRE(hs.ok());
    for (const OutboundMessage& m : rd.messages) {
      REQUIRE(m.to != cfg.id);
      Result<Message> msg = DecodeMessage(m.payload);
      REQUIRE(msg.ok());
      if (const auto* v = std::get_if<Vote>(&*msg); v && v->voter == cfg.id) {
        REQUIRE(std::make_pair(v->height, v->round) <= std::make_pair(hs->height, hs->round));
        if (v->height == hs->height) {
          auto own = std::find_if(hs->votes.begin(), hs->votes.end(), [&](const auto& o) {
            return o.round == v->round && o.type == v->type;
          });
          REQUIRE(own != hs->votes.end());
          REQUIRE(own->block == v->block);
          REQUIRE(own->sig == v->sig);
        }
      }
      if (const auto* p = std::get_if<Proposal>(&*msg); p && p->proposer == cfg.id) {
        REQUIRE(std::make_pair(p->height, p->round) <= std::make_pair(hs->height, hs->round));
        if (p->height == hs->height && p->round == hs->round) {
          REQUIRE(hs->proposal);
          REQUIRE(hs->proposal->block == p->block.hash);
          bool stored = false;
          for (const auto& [i, data] : records) {
            Result<Record> rec = DecodeRecord(data, i);
            const Block* b = rec.ok() ? std::get_if<Block>(&*rec) : nullptr;
            stored = stored || (b && b->hash == p->block.hash && b->data == p->block.data);
          }
          REQUIRE(stored);
        }
      }
    }
  }

  // Steps 3 and 4 of a Ready.
  void Apply(const Ready& rd) {
    for (const Block& b : rd.committed) {
      REQUIRE(b.height == Applied().height + 1);
      Result<Certificate> cert = Certificate::Decode(b.certificate);
      REQUIRE(cert.ok());
      REQUIRE(
          VerifyCertificate(*cert, kGenesis.hash, b.height, b.hash, cfg.replicas, verifier).ok());
      chain.push_back(b);
    }
    validator.applied = Applied();
    for (const Bytes& e : rd.evidence) evidence.push_back(e);
    if (rd.sync_to) sync_to = rd.sync_to;
  }

  // Carries out every pending Ready; returns what was sent.
  std::vector<OutboundMessage> Drain() {
    std::vector<OutboundMessage> out;
    while (engine->HasReady()) {
      Ready rd = engine->TakeReady();
      Persist(rd);
      Apply(rd);
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      engine->Advance();
    }
    return out;
  }

  Status Step(ReplicaId from, const Message& m) { return engine->Step(from, EncodeMessage(m)); }

  BftConfig cfg;
  const Ed25519Signer& signer;
  const Verifier& verifier;
  TestValidator validator;
  std::optional<Bytes> hard_state;
  std::map<uint64_t, Bytes> records;
  std::vector<Block> chain;
  std::vector<Bytes> evidence;
  std::optional<BlockRef> sync_to;
  std::unique_ptr<BftEngine> engine;
};

std::vector<Message> Decoded(const std::vector<OutboundMessage>& out) {
  std::vector<Message> msgs;
  for (const OutboundMessage& m : out) msgs.push_back(*DecodeMessage(m.payload));
  return msgs;
}

// Own votes of `type` in `round` among `out`, deduplicated (broadcasts repeat them).
std::vector<Vote> VotesSent(const std::vector<OutboundMessage>& out, VoteType type, uint64_t height,
                            uint32_t round) {
  std::vector<Vote> votes;
  for (const Message& m : Decoded(out)) {
    const auto* v = std::get_if<Vote>(&m);
    if (v && v->type == type && v->height == height && v->round == round &&
        std::find(votes.begin(), votes.end(), *v) == votes.end()) {
      votes.push_back(*v);
    }
  }
  return votes;
}

// A fixture where the test plays every validator but `id`, signing with their keys.
struct Hand {
  explicit Hand(ReplicaId id, uint32_t n = 4, BftConfig cfg = {}) : v(n) {
    if (cfg.replicas == 1 && n != 1) cfg = Config(id, n);
    cfg.id = id;
    cfg.replicas = n;
    cfg.genesis = kGenesis;
    replica = std::make_unique<Replica>(v, cfg);
    sent = replica->Drain();
  }

  Vote MakeVote(VoteType t, uint64_t h, uint32_t r, std::optional<crypto::Hash256> b,
                ReplicaId who) const {
    Vote x;
    x.type = t;
    x.height = h;
    x.round = r;
    x.block = b;
    return SignVote(kGenesis.hash, x, v.signers[who]);
  }
  Proposal MakeProposal(uint64_t h, uint32_t r, uint32_t vr, const Block& b) const {
    Proposal p;
    p.height = h;
    p.round = r;
    p.valid_round = vr;
    p.block = b;
    p.proposer = ProposerOf(h, r, static_cast<uint32_t>(v.signers.size()));
    p.sig = v.signers[p.proposer].Sign(ProposalSignBytes(kGenesis.hash, p));
    return p;
  }
  Certificate MakeCert(uint64_t h, uint32_t r, const crypto::Hash256& b,
                       std::vector<ReplicaId> who) const {
    Certificate c{h, r, b, {}};
    for (ReplicaId i : who) {
      c.sigs.push_back({i, MakeVote(VoteType::kPrecommit, h, r, b, i).sig});
    }
    return c;
  }

  // Delivers `m` from its signer (or `from`), requires ok, and collects what is sent.
  void Deliver(const Message& m, ReplicaId from = kNoReplica) {
    if (from == kNoReplica) {
      if (const auto* p = std::get_if<Proposal>(&m)) from = p->proposer;
      if (const auto* x = std::get_if<Vote>(&m)) from = x->voter;
    }
    Status s = replica->Step(from, m);
    INFO(Describe(m) << ": " << s.message());
    REQUIRE(s.ok());
    Drain();
  }
  void Prevote(uint64_t h, uint32_t r, std::optional<crypto::Hash256> b, ReplicaId who) {
    Deliver(MakeVote(VoteType::kPrevote, h, r, b, who));
  }
  void Precommit(uint64_t h, uint32_t r, std::optional<crypto::Hash256> b, ReplicaId who) {
    Deliver(MakeVote(VoteType::kPrecommit, h, r, b, who));
  }
  void Drain() {
    auto out = replica->Drain();
    sent.insert(sent.end(), out.begin(), out.end());
  }
  void Tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      replica->engine->Tick();
      Drain();
    }
  }
  std::vector<Vote> Sent(VoteType t, uint64_t h, uint32_t r) const {
    return VotesSent(sent, t, h, r);
  }
  BftEngine& e() { return *replica->engine; }

  Validators v;
  std::unique_ptr<Replica> replica;
  std::vector<OutboundMessage> sent;
};

// A deterministic network of full replicas: FIFO delivery, optional drops, proposals made
// as soon as an engine asks.
struct Net {
  explicit Net(uint32_t n) : v(n) {
    for (ReplicaId i = 0; i < n; ++i)
      replicas.push_back(std::make_unique<Replica>(v, Config(i, n)));
  }

  // Carries out every Ready and proposal until nothing is left or `done` holds (a network
  // that proposes whenever asked never runs out of work by itself).
  void Pump() {
    for (bool again = true; again && !(done && done());) {
      again = false;
      for (auto& r : replicas) {
        while (r->engine->HasReady()) {
          again = true;
          Ready rd = r->engine->TakeReady();
          r->Persist(rd);
          for (const OutboundMessage& m : rd.messages) {
            trace.push_back(*DecodeMessage(m.payload));
            queue.push_back({r->cfg.id, m.to, m.payload});
          }
          if (!rd.committed.empty()) {
            // A node may keep receiving while it applies; the engine must not validate.
            r->validator.in_commit_ready = true;
            DeliverTo(r->cfg.id);
            r->validator.in_commit_ready = false;
          }
          r->Apply(rd);
          r->engine->Advance();
        }
        if (auto slot = r->engine->ProposalWanted()) {
          again = true;
          std::string tag = "by " + std::to_string(r->cfg.id) + " r" +
                            std::to_string(r->engine->round()) +
                            (bad_proposers.count(r->cfg.id) ? " bad" : "");
          REQUIRE(r->engine->Propose(MakeBlock(slot->parent.height + 1, tag)).ok());
        }
      }
    }
  }

  void Deliver(const std::tuple<ReplicaId, ReplicaId, Bytes>& env) {
    auto [from, to, payload] = env;
    if (drop && drop(from, to)) return;
    Status s = replicas[to]->engine->Step(from, payload);
    if (!s.ok()) errors.push_back(s.message());
  }

  // Delivers the queued messages addressed to `to` (keeping the others queued).
  void DeliverTo(ReplicaId to) {
    std::deque<std::tuple<ReplicaId, ReplicaId, Bytes>> rest;
    while (!queue.empty()) {
      auto env = std::move(queue.front());
      queue.pop_front();
      if (std::get<1>(env) == to) {
        Deliver(env);
      } else {
        rest.push_back(std::move(env));
      }
    }
    queue = std::move(rest);
  }

  void Settle() {
    Pump();
    while (!queue.empty() && !(done && done())) {
      auto env = std::move(queue.front());
      queue.pop_front();
      Deliver(env);
      Pump();
    }
  }

  bool RunUntil(std::function<bool()> until, int max_ticks) {
    done = std::move(until);
    for (int t = 0; t <= max_ticks; ++t) {
      Settle();
      if (done()) return true;
      for (auto& r : replicas) r->engine->Tick();
    }
    return false;
  }

  bool AllHave(size_t height) const {
    for (const auto& r : replicas) {
      if (r->chain.size() < height) return false;
    }
    return true;
  }

  void CheckAgreement() const {
    for (const auto& r : replicas) {
      CHECK(r->validator.violations == 0);
      for (size_t i = 0; i < r->chain.size(); ++i) {
        for (const auto& o : replicas) {
          if (i < o->chain.size()) CHECK(o->chain[i].hash == r->chain[i].hash);
        }
      }
    }
  }

  Validators v;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::deque<std::tuple<ReplicaId, ReplicaId, Bytes>> queue;
  std::function<bool(ReplicaId, ReplicaId)> drop;
  std::function<bool()> done;
  std::set<ReplicaId> bad_proposers;
  std::vector<Message> trace;
  std::vector<std::string> errors;
};

}  // namespace

TEST_CASE("bft: happy path decides every height with a valid certificate", "[consensus][bft]") {
  Net net(4);
  REQUIRE(net.RunUntil([&] { return net.AllHave(6); }, 50));
  net.CheckAgreement();
  CHECK(net.errors.empty());
  for (const Block& b : net.replicas[0]->chain) {
    Certificate cert = *Certificate::Decode(b.certificate);
    CHECK(cert.round == 0);  // no faults, no timeouts
    CHECK(VerifyCertificate(cert, kGenesis.hash, b.height, b.hash, 4, *net.v.verifier).ok());
  }
  for (const auto& r : net.replicas) {
    EngineStatus s = r->engine->GetStatus();
    CHECK(s.applied_height == r->chain.size());
  }
}

TEST_CASE("bft: a single validator decides alone", "[consensus][bft]") {
  Net net(1);
  REQUIRE(net.RunUntil([&] { return net.AllHave(3); }, 5));
  CHECK(net.replicas[0]->engine->GetStatus().role == Role::kLeader);
}

TEST_CASE("bft: the proposer rotates with height and round", "[consensus][bft]") {
  Net net(4);
  REQUIRE(net.RunUntil([&] { return net.AllHave(8); }, 50));
  for (const Block& b : net.replicas[2]->chain) {
    std::string want = "by " + std::to_string(ProposerOf(b.height, 0, 4)) + " r0";
    CHECK(AsString(b.data).find(want) != std::string::npos);
  }
  for (const auto& r : net.replicas) {
    EngineStatus s = r->engine->GetStatus();
    CHECK(s.leader == ProposerOf(r->engine->height(), r->engine->round(), 4));
    CHECK((s.role == Role::kLeader) == (s.leader == r->cfg.id));
  }
}

TEST_CASE("bft: an invalid proposal gets nil prevotes and the round changes", "[consensus][bft]") {
  Net net(4);
  net.bad_proposers.insert(ProposerOf(1, 0, 4));
  REQUIRE(net.RunUntil([&] { return net.AllHave(1); }, 500));
  net.CheckAgreement();
  const Block& b = net.replicas[0]->chain[0];
  CHECK(AsString(b.data).find("bad") == std::string::npos);
  CHECK(Certificate::Decode(b.certificate)->round >= 1);
  int round0_prevotes = 0;
  for (const Message& m : net.trace) {
    const auto* v = std::get_if<Vote>(&m);
    if (v && v->type == VoteType::kPrevote && v->height == 1 && v->round == 0) {
      ++round0_prevotes;
      CHECK_FALSE(v->block);
    }
  }
  CHECK(round0_prevotes > 0);
}

namespace {

// Replica 0 of 4 locks on `v` in round 0 of height 1, then moves to round 1.
// Proposers at height 1: round 0 -> 1, round 1 -> 2, round 2 -> 3.
void LockInRound0(Hand& t, const Block& v) {
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  REQUIRE(t.Sent(VoteType::kPrevote, 1, 0).size() == 1);
  t.Prevote(1, 0, v.hash, 1);
  t.Prevote(1, 0, v.hash, 2);
  REQUIRE(t.e().locked_round() == 0);
  REQUIRE(t.e().locked_hash() == v.hash);
  REQUIRE(t.Sent(VoteType::kPrecommit, 1, 0).at(0).block == v.hash);
  t.Precommit(1, 1, std::nullopt, 2);  // f+1 = 2 validators in round 1
  t.Precommit(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
}

}  // namespace

TEST_CASE("bft lock: a locked replica prevotes nil for another block in a later round",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  LockInRound0(t, v);
  t.Deliver(t.MakeProposal(1, 1, kNoRound, w));
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 1);
  REQUIRE(pv.size() == 1);
  CHECK_FALSE(pv[0].block);
  CHECK(t.e().locked_hash() == v.hash);
}

TEST_CASE("bft lock: a polka in a higher round moves the lock", "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  LockInRound0(t, v);
  t.Deliver(t.MakeProposal(1, 1, kNoRound, w));
  for (ReplicaId r : {1u, 2u, 3u}) t.Prevote(1, 1, w.hash, r);
  CHECK(t.e().locked_round() == 1);
  CHECK(t.e().locked_hash() == w.hash);
  CHECK(t.e().valid_round() == 1);
  std::vector<Vote> pc = t.Sent(VoteType::kPrecommit, 1, 1);
  REQUIRE(pc.size() == 1);
  CHECK(pc[0].block == w.hash);
}

TEST_CASE("bft lock: a re-proposal backed by a newer polka gets the locked replica's prevote",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  LockInRound0(t, v);
  t.Prevote(1, 2, std::nullopt, 1);
  t.Prevote(1, 2, std::nullopt, 3);
  REQUIRE(t.e().round() == 2);
  t.Deliver(t.MakeProposal(1, 2, /*vr=*/1, w));
  CHECK(t.Sent(VoteType::kPrevote, 1, 2).empty());  // no polka for w in round 1 yet
  for (ReplicaId r : {1u, 2u, 3u}) t.Prevote(1, 1, w.hash, r);
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 2);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == w.hash);

  // Without a polka the same re-proposal would get nil: a fresh replica locked on v.
  Hand u(0);
  LockInRound0(u, v);
  u.Prevote(1, 2, std::nullopt, 1);
  u.Prevote(1, 2, std::nullopt, 3);
  u.Deliver(u.MakeProposal(1, 2, /*vr=*/0, w));  // claims round 0, where v had the polka
  CHECK(u.Sent(VoteType::kPrevote, 1, 2).empty());
}

TEST_CASE("bft: the next proposer re-proposes the valid value with its valid round",
          "[consensus][bft]") {
  Hand t(2);  // proposer of height 1 round 1
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 0, v.hash, 0);
  t.Prevote(1, 0, v.hash, 1);
  REQUIRE(t.e().valid_round() == 0);
  t.Prevote(1, 1, std::nullopt, 0);
  t.Prevote(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
  CHECK_FALSE(t.e().ProposalWanted());
  std::vector<Proposal> props;
  for (const Message& m : Decoded(t.sent)) {
    if (const auto* p = std::get_if<Proposal>(&m); p && p->round == 1) props.push_back(*p);
  }
  REQUIRE(props.size() == 3);  // to each other validator
  CHECK(props[0].valid_round == 0);
  CHECK(props[0].block.hash == v.hash);
  CHECK(props[0].proposer == 2);
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 1);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == v.hash);
}

TEST_CASE(
    "bft: a re-proposal carries its proof of lock so replicas that missed the polka "
    "accept it",
    "[consensus][bft]") {
  Hand t(2);  // proposer of height 1 round 1
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 0, v.hash, 0);
  t.Prevote(1, 0, v.hash, 1);
  REQUIRE(t.e().valid_round() == 0);
  // Crash and restart before round 1: the proof of lock must survive in the records.
  t.replica->engine.reset();
  t.replica->Open();
  REQUIRE(t.e().valid_round() == 0);
  t.sent.clear();
  t.Precommit(1, 1, std::nullopt, 0);
  t.Precommit(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);

  // Replica 3 saw none of the round-0 prevotes. Give it what replica 2 sent it.
  Hand u(3);
  u.Precommit(1, 1, std::nullopt, 0);
  u.Precommit(1, 1, std::nullopt, 1);
  REQUIRE(u.e().round() == 1);
  std::set<ReplicaId> relayed;
  for (const OutboundMessage& m : t.sent) {
    if (m.to != 3) continue;
    Message msg = *DecodeMessage(m.payload);
    if (const auto* x = std::get_if<Vote>(&msg); x && x->round == 0) relayed.insert(x->voter);
    u.Deliver(msg, 2);
  }
  CHECK(relayed == std::set<ReplicaId>{0, 1, 2});
  std::vector<Vote> pv = u.Sent(VoteType::kPrevote, 1, 1);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == v.hash);
}

TEST_CASE("bft: a proof of lock that includes an equivocator's vote still counts",
          "[consensus][bft]") {
  Hand t(3, 7);  // quorum of 7 is 5
  Block v = MakeBlock(1, "v");
  // Validator 2 equivocates in round 0 and replica 3 gets its nil prevote first.
  t.Prevote(1, 0, std::nullopt, 2);
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  for (ReplicaId r : {0u, 1u, 4u}) t.Prevote(1, 0, v.hash, r);
  REQUIRE(t.e().valid_round() == kNoRound);  // 0, 1, 3, 4: one short
  t.Prevote(1, 0, v.hash, 2);                // relayed with a proof of lock: completes it
  CHECK(t.replica->evidence.size() == 1);
  CHECK(t.e().valid_round() == 0);
  CHECK(t.e().locked_round() == 0);
}

TEST_CASE("bft: own votes of earlier rounds are re-sent, also after a restart",
          "[consensus][bft]") {
  BftConfig cfg = Config(0, 4);
  cfg.rebroadcast_ticks = 3;
  Hand t(0, 4, cfg);
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  REQUIRE(t.Sent(VoteType::kPrevote, 1, 0).size() == 1);
  t.Precommit(1, 1, std::nullopt, 2);
  t.Precommit(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
  t.replica->engine.reset();
  t.replica->Open();
  REQUIRE(t.e().round() == 1);
  t.sent.clear();
  t.Tick(3);
  std::set<ReplicaId> to;
  for (const OutboundMessage& m : t.sent) {
    Message msg = *DecodeMessage(m.payload);
    const auto* x = std::get_if<Vote>(&msg);
    if (x && x->voter == 0 && x->round == 0 && x->type == VoteType::kPrevote) {
      CHECK(x->block == v.hash);
      to.insert(m.to);
    }
  }
  CHECK(to == std::set<ReplicaId>{1, 2, 3});
}

TEST_CASE("bft: timeouts grow with the round and are capped", "[consensus][bft]") {
  BftConfig cfg = Config(0, 4);
  cfg.propose_timeout_ticks = 20;
  cfg.timeout_delta_ticks = 5;
  cfg.max_timeout_ticks = 40;
  Hand t(0, 4, cfg);
  for (uint32_t r : {0u, 1u, 2u, 3u, 4u, 5u, 9u}) {
    if (r > 0) {
      t.Prevote(1, r, std::nullopt, 2);
      t.Prevote(1, r, std::nullopt, 3);
    }
    REQUIRE(t.e().round() == r);
    int ticks = 0;
    while (t.Sent(VoteType::kPrevote, 1, r).empty() && ticks < 100) {
      t.Tick();
      ++ticks;
    }
    INFO("round " << r);
    CHECK(ticks == static_cast<int>(std::min<uint32_t>(20 + 5 * r, 40)));
    CHECK_FALSE(t.Sent(VoteType::kPrevote, 1, r).at(0).block);
  }
}

TEST_CASE("bft: f+1 validators in a higher round make a replica skip to it", "[consensus][bft]") {
  Hand t(0);
  t.Prevote(1, 5, std::nullopt, 3);
  t.Precommit(1, 9, std::nullopt, 3);  // the same validator again: still one
  CHECK(t.e().round() == 0);
  t.Precommit(1, 7, std::nullopt, 2);
  CHECK(t.e().round() == 7);  // the highest round that f+1 = 2 validators reached
}

TEST_CASE("bft: an equivocating voter yields evidence exactly once and broadcast to all",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  t.Prevote(1, 0, v.hash, 1);
  t.sent.clear();
  t.Prevote(1, 0, w.hash, 1);
  REQUIRE(t.replica->evidence.size() == 1);
  Result<Evidence> e = Evidence::Decode(t.replica->evidence[0]);
  REQUIRE(e.ok());
  CHECK(e->Verify(kGenesis.hash, 4, *t.v.verifier).ok());
  CHECK(e->a.voter == 1);
  std::set<ReplicaId> to;
  for (const OutboundMessage& m : t.sent) {
    if (std::holds_alternative<Evidence>(*DecodeMessage(m.payload))) to.insert(m.to);
  }
  CHECK(to == std::set<ReplicaId>{1, 2, 3});
  t.sent.clear();
  t.Prevote(1, 0, w.hash, 1);  // the same conflicting vote again
  CHECK(t.replica->evidence.size() == 1);
  CHECK(t.sent.empty());
  CHECK(t.e().evidence().size() == 1);
}

TEST_CASE("bft: evidence from a peer is verified and recorded and relayed once",
          "[consensus][bft]") {
  Hand t(0);
  Evidence e = MakeEvidence(t.MakeVote(VoteType::kPrecommit, 2, 2, std::nullopt, 3),
                            t.MakeVote(VoteType::kPrecommit, 2, 2, MakeBlock(2, "x").hash, 3));
  Evidence forged = e;
  forged.a.sig.data()[9] ^= 1;
  Status bad = t.replica->Step(2, forged);
  CHECK_FALSE(bad.ok());
  CHECK(bad.message().find("invalid") != std::string::npos);
  t.Deliver(e, 2);
  REQUIRE(t.replica->evidence.size() == 1);
  CHECK(*Evidence::Decode(t.replica->evidence[0]) == e);
  std::set<ReplicaId> to;
  for (const OutboundMessage& m : t.sent) to.insert(m.to);
  CHECK(to == std::set<ReplicaId>{1, 3});
  t.sent.clear();
  t.Deliver(e, 1);
  CHECK(t.replica->evidence.size() == 1);
  CHECK(t.sent.empty());
}

TEST_CASE("bft: a bad signature is an error and leaves the engine unchanged", "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v");
  HardState before = t.e().hard_state();
  std::vector<Message> forged;
  Vote x = t.MakeVote(VoteType::kPrevote, 1, 0, v.hash, 2);
  x.sig.data()[0] ^= 1;
  forged.push_back(x);
  x.round = 500;  // far round
  forged.push_back(x);
  x.round = 0;
  x.height = 2;  // next height
  forged.push_back(x);
  Proposal p = t.MakeProposal(1, 0, kNoRound, v);
  p.sig.data()[3] ^= 1;
  forged.push_back(p);
  Decision d{v, t.MakeCert(1, 0, v.hash, {1, 2, 3})};
  d.cert.sigs[2].sig.data()[1] ^= 1;
  forged.push_back(d);
  for (const Message& m : forged) {
    Status s = t.replica->Step(2, m);
    INFO(Describe(m));
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("invalid") != std::string::npos);
  }
  CHECK(t.e().buffered_messages() == 0);
  CHECK_FALSE(t.e().HasReady());
  CHECK(t.e().hard_state() == before);
  CHECK(t.e().round() == 0);
  // Malformed bytes too.
  CHECK_FALSE(t.e().Step(2, Bytes{2, 1, 2}).ok());
  CHECK_FALSE(t.e().Step(0, EncodeMessage(t.MakeVote(VoteType::kPrevote, 1, 0, v.hash, 2))).ok());
}

TEST_CASE("bft: stale messages are ignored without error", "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v");
  t.Deliver(Decision{v, t.MakeCert(1, 0, v.hash, {1, 2, 3})}, 1);
  REQUIRE(t.replica->chain.size() == 1);
  REQUIRE(t.e().height() == 2);
  size_t sent = t.sent.size();
  t.Prevote(1, 0, v.hash, 2);
  t.Precommit(1, 3, std::nullopt, 3);
  t.Deliver(t.MakeProposal(1, 0, kNoRound, MakeBlock(1, "other")));
  t.Deliver(Decision{v, t.MakeCert(1, 0, v.hash, {1, 2, 3})}, 1);
  CHECK(t.replica->chain.size() == 1);
  CHECK(t.sent.size() == sent);  // same tick as the decision: no laggard reply yet
  t.Tick();
  t.Prevote(1, 0, v.hash, 2);  // now replica 2 looks behind: it gets the decision
  bool replied = false;
  for (const OutboundMessage& m : t.sent) {
    auto msg = DecodeMessage(m.payload);
    replied = replied || (m.to == 2 && std::holds_alternative<Decision>(*msg));
  }
  CHECK(replied);
}

TEST_CASE("bft restart: a replica that crashed after persisting keeps its votes and lock",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  auto crash_and_restart = [&] {
    // Persist the pending Ready but crash before sending anything.
    if (t.e().HasReady()) t.replica->Persist(t.e().TakeReady());
    t.replica->engine.reset();
    t.replica->Open();
  };
  REQUIRE(t.replica->Step(1, t.MakeProposal(1, 0, kNoRound, v)).ok());
  crash_and_restart();
  t.sent.clear();
  t.Drain();
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 0);
  REQUIRE(pv.size() == 1);  // the persisted prevote is re-sent, identical
  CHECK(pv[0].block == v.hash);
  // The proposer re-sends its proposal (the restarted replica did not persist it), then
  // equivocates with another block for the same round: no second prevote.
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Deliver(t.MakeProposal(1, 0, kNoRound, w));
  CHECK(t.Sent(VoteType::kPrevote, 1, 0).size() == 1);

  REQUIRE(t.replica->Step(1, t.MakeVote(VoteType::kPrevote, 1, 0, v.hash, 1)).ok());
  REQUIRE(t.replica->Step(2, t.MakeVote(VoteType::kPrevote, 1, 0, v.hash, 2)).ok());
  crash_and_restart();
  CHECK(t.e().locked_round() == 0);
  CHECK(t.e().locked_hash() == v.hash);
  t.sent.clear();
  t.Drain();
  REQUIRE(t.Sent(VoteType::kPrecommit, 1, 0).size() == 1);
  CHECK(t.Sent(VoteType::kPrecommit, 1, 0)[0].block == v.hash);
  t.Prevote(1, 1, std::nullopt, 2);
  t.Prevote(1, 1, std::nullopt, 3);
  t.Deliver(t.MakeProposal(1, 1, kNoRound, w));
  REQUIRE(t.Sent(VoteType::kPrevote, 1, 1).size() == 1);
  CHECK_FALSE(t.Sent(VoteType::kPrevote, 1, 1)[0].block);
}

TEST_CASE("bft restart: stored state that is corrupt or inconsistent is refused",
          "[consensus][bft]") {
  Validators v(4);
  Ed25519Signer& signer = v.signers[0];
  TestValidator val;
  BftConfig cfg = Config(0, 4);
  auto open = [&](DurableState d, BlockRef applied) {
    return BftEngine::Open(cfg, signer, *v.verifier, val, d, applied);
  };
  DurableState d;
  d.hard_state = Bytes{1, 2, 3};
  CHECK(open(d, kGenesis).error().find("bft hard state") != std::string::npos);
  HardState hs;
  hs.height = 5;
  d.hard_state = EncodeHardState(hs);
  CHECK(open(d, kGenesis).error().find("above applied height") != std::string::npos);
  hs.height = 1;
  hs.locked_round = 0;
  hs.locked_hash = MakeBlock(1, "l").hash;
  d.hard_state = EncodeHardState(hs);
  CHECK(open(d, kGenesis).error().find("missing") != std::string::npos);
  DurableState orphan;
  orphan.records.push_back(LogRecord{1, EncodeBlockRecord(MakeBlock(1, "x"))});
  CHECK_FALSE(open(orphan, kGenesis).ok());
  BftConfig bad = cfg;
  bad.id = 4;
  CHECK_FALSE(BftEngine::Open(bad, signer, *v.verifier, val, {}, kGenesis).ok());
}

TEST_CASE("bft: a laggard decides from the Decision a peer sends it", "[consensus][bft]") {
  Net net(4);
  bool cut = true;
  net.drop = [&](ReplicaId from, ReplicaId to) { return cut && (from == 3 || to == 3); };
  REQUIRE(net.RunUntil(
      [&] { return net.replicas[0]->chain.size() >= 3 && net.replicas[1]->chain.size() >= 3; },
      2000));
  CHECK(net.replicas[3]->chain.empty());
  cut = false;
  size_t target = net.replicas[0]->chain.size();
  REQUIRE(net.RunUntil([&] { return net.replicas[3]->chain.size() >= target; }, 2000));
  net.CheckAgreement();
  CHECK(net.errors.empty());
}

TEST_CASE("bft: a Decision above the next height requests block sync", "[consensus][bft]") {
  Hand t(0);
  Block b3 = MakeBlock(3, "three");
  Decision d{b3, t.MakeCert(3, 1, b3.hash, {1, 2, 3})};
  Decision forged = d;
  forged.cert.sigs.pop_back();
  CHECK_FALSE(t.replica->Step(1, forged).ok());
  t.Deliver(d, 1);
  REQUIRE(t.replica->sync_to);
  CHECK(*t.replica->sync_to == BlockRef{3, b3.hash});
  CHECK_FALSE(t.e().ProposalWanted());
  CHECK_FALSE(t.e().SyncCompleted(BlockRef{2, MakeBlock(2, "x").hash}).ok());
  CHECK_FALSE(t.e().SyncCompleted(BlockRef{3, MakeBlock(3, "x").hash}).ok());
  t.replica->chain = {MakeBlock(1, "a"), MakeBlock(2, "b"), b3};
  t.replica->validator.applied = BlockRef{3, b3.hash};
  REQUIRE(t.e().SyncCompleted(BlockRef{3, b3.hash}).ok());
  CHECK(t.e().height() == 4);
  CHECK(t.e().round() == 0);
  t.Drain();
  // And without a request: the node applied certified blocks by itself.
  t.replica->validator.applied = BlockRef{6, MakeBlock(6, "f").hash};
  REQUIRE(t.e().SyncCompleted(t.replica->validator.applied).ok());
  CHECK(t.e().height() == 7);
  CHECK(t.e().GetStatus().applied_height == 6);
  CHECK_FALSE(t.e().SyncCompleted(BlockRef{5, MakeBlock(5, "e").hash}).ok());
}

TEST_CASE("bft: a flood of far-future votes from one Byzantine voter keeps memory bounded",
          "[consensus][bft]") {
  Hand t(0);
  uint64_t seed = 0xf100d;
  Rng rng(seed);
  INFO("seed " << seed);
  std::vector<uint32_t> rounds;
  for (uint32_t r = 1; r <= 100000; ++r) rounds.push_back(r);
  for (size_t i = rounds.size() - 1; i > 0; --i) std::swap(rounds[i], rounds[rng.Uniform(i + 1)]);
  for (uint32_t r : rounds) {
    VoteType type = (r % 2 == 0) ? VoteType::kPrevote : VoteType::kPrecommit;
    REQUIRE(t.replica->Step(3, t.MakeVote(type, 1, r, std::nullopt, 3)).ok());
  }
  for (uint32_t r = 0; r < 1000; ++r) {  // and for the next height
    REQUIRE(t.replica->Step(3, t.MakeVote(VoteType::kPrevote, 2, r, std::nullopt, 3)).ok());
  }
  t.Drain();
  CHECK(t.e().round() == 0);  // one validator alone cannot move the round
  size_t bound = BftEngine::kRoundWindow + 1 + 3 * BftEngine::kNextHeightRounds;
  CHECK(t.e().buffered_messages() <= bound);
  // The network still decides once the honest validators speak.
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 0, v.hash, 1);
  t.Prevote(1, 0, v.hash, 2);
  t.Precommit(1, 0, v.hash, 1);
  t.Precommit(1, 0, v.hash, 2);
  CHECK(t.replica->chain.size() == 1);
}

TEST_CASE("bft: messages for the next height are buffered and used after the decision",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v");
  Block w = MakeBlock(2, "w");  // parent-agnostic test blocks
  t.Deliver(t.MakeProposal(2, 0, kNoRound, w));
  t.Prevote(2, 0, w.hash, 2);
  t.Prevote(2, 0, w.hash, 3);
  CHECK(t.e().buffered_messages() == 3);
  CHECK(t.replica->validator.calls == 0);
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 0, v.hash, 1);
  t.Prevote(1, 0, v.hash, 2);
  t.Precommit(1, 0, v.hash, 1);
  t.Precommit(1, 0, v.hash, 3);
  REQUIRE(t.replica->chain.size() == 1);
  CHECK(t.e().height() == 2);
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 2, 0);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == w.hash);
  std::vector<Vote> pc = t.Sent(VoteType::kPrecommit, 2, 0);
  REQUIRE(pc.size() == 1);  // the buffered prevotes completed the polka
  CHECK(pc[0].block == w.hash);
  CHECK(t.replica->validator.violations == 0);
}

// ---- Findings of the adversarial review (notes/bft_review.md) ----

namespace {

// `body` under the hash of `b`: what a Byzantine proposer can sign, since signatures and
// votes cover the hash only.
Block WithBody(Block b, const std::string& body) {
  b.data = Bytes(body.begin(), body.end());
  return b;
}

size_t DecisionsTo(const std::vector<OutboundMessage>& out, ReplicaId to) {
  size_t n = 0;
  for (const OutboundMessage& m : out) {
    if (m.to == to && std::holds_alternative<Decision>(*DecodeMessage(m.payload))) ++n;
  }
  return n;
}

size_t ProposalsTo(const std::vector<OutboundMessage>& out, ReplicaId to) {
  size_t n = 0;
  for (const OutboundMessage& m : out) {
    if (m.to == to && std::holds_alternative<Proposal>(*DecodeMessage(m.payload))) ++n;
  }
  return n;
}

// Replica 0 of 4 decides height 1 (block b, proposed by 1) and moves to height 2.
void DecideHeight1(Hand& t, const Block& b) {
  t.Deliver(t.MakeProposal(1, 0, kNoRound, b));
  t.Prevote(1, 0, b.hash, 1);
  t.Prevote(1, 0, b.hash, 2);
  t.Precommit(1, 0, b.hash, 1);
  t.Precommit(1, 0, b.hash, 2);
  REQUIRE(t.replica->chain.size() == 1);
  REQUIRE(t.e().height() == 2);
}

}  // namespace

TEST_CASE("bft: a proposal whose body is not the block its hash names is refused",
          "[consensus][bft]") {
  Hand t(0);
  Block real = MakeBlock(1, "real");
  Block fake = WithBody(real, "garbage");
  Status s = t.replica->Step(1, t.MakeProposal(1, 0, kNoRound, fake));
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("is not the block its hash names") != std::string::npos);
  CHECK(t.e().buffered_messages() == 0);
  CHECK(t.replica->validator.calls == 0);
  // The real body under the same signed hash is then taken and prevoted.
  t.Deliver(t.MakeProposal(1, 0, kNoRound, real));
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 0);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == real.hash);
  // Same for the next height's buffer, and for the node's own proposals.
  Block next = MakeBlock(2, "next");
  CHECK_FALSE(t.replica->Step(2, t.MakeProposal(2, 0, kNoRound, WithBody(next, "junk"))).ok());
  CHECK(t.e().buffered_messages() == 2);  // round 0's proposal and own prevote
  Hand u(1);
  REQUIRE(u.e().ProposalWanted());
  CHECK_FALSE(u.e().Propose(WithBody(MakeBlock(1, "mine"), "other")).ok());
  CHECK(u.e().ProposalWanted());
}

TEST_CASE("bft: a certified Decision with another body is refused and poisons nothing",
          "[consensus][bft]") {
  Hand t(0);
  Block real = MakeBlock(1, "real");
  Certificate cert = t.MakeCert(1, 0, real.hash, {1, 2, 3});
  for (const char* body : {"garbage", "h=1 another well formed block"}) {
    Status s = t.replica->Step(1, Decision{WithBody(real, body), cert});
    INFO(body);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("is not the block its hash names") != std::string::npos);
  }
  CHECK(t.replica->chain.empty());
  t.Deliver(Decision{real, cert}, 2);
  REQUIRE(t.replica->chain.size() == 1);
  CHECK(t.replica->chain[0].data == real.data);
  CHECK(t.replica->validator.violations == 0);
}

TEST_CASE("bft: a Byzantine proposer showing one validator another body cannot halt the chain",
          "[consensus][bft]") {
  // n = 4, validator 1 (proposer of height 1 round 0) is Byzantine and silent but for what
  // it injects: the real block to 2 and 3 (who lock on it with its prevote), the same signed
  // hash with a garbage body to 0. Were 0 to keep the garbage as the block of that hash, it
  // would refuse every re-proposal of the real block and no quorum could form again.
  Net net(4);
  const ReplicaId byz = 1;
  net.drop = [&](ReplicaId from, ReplicaId to) { return from == byz || to == byz; };
  Block real = MakeBlock(1, "real");
  Hand keys(0);  // for the Byzantine's signatures
  auto inject = [&](ReplicaId to, const Message& m) {
    Status s = net.replicas[to]->engine->Step(byz, EncodeMessage(m));
    if (!s.ok()) net.errors.push_back(s.message());
  };
  inject(0, keys.MakeProposal(1, 0, kNoRound, WithBody(real, "garbage")));
  inject(2, keys.MakeProposal(1, 0, kNoRound, real));
  inject(3, keys.MakeProposal(1, 0, kNoRound, real));
  for (ReplicaId to : {0u, 2u, 3u}) {
    inject(to, keys.MakeVote(VoteType::kPrevote, 1, 0, real.hash, byz));
  }
  bool decided = net.RunUntil(
      [&] {
        for (ReplicaId i : {0u, 2u, 3u}) {
          if (net.replicas[i]->chain.empty()) return false;
        }
        return true;
      },
      3000);
  INFO("rounds: " << net.replicas[0]->engine->round() << " " << net.replicas[2]->engine->round());
  REQUIRE(decided);
  CHECK(net.replicas[0]->chain[0].hash == real.hash);
  CHECK(net.replicas[0]->chain[0].data == real.data);
  bool refused = false;
  for (const std::string& e : net.errors) {
    CHECK(e.find("block data differs") == std::string::npos);
    refused = refused || e.find("is not the block its hash names") != std::string::npos;
  }
  CHECK(refused);
  for (ReplicaId i : {0u, 2u, 3u}) CHECK(net.replicas[i]->validator.violations == 0);
}

TEST_CASE("bft: laggard replies need the peer's own valid signature and are rate limited",
          "[consensus][bft]") {
  BftConfig cfg = Config(0, 4);
  cfg.rebroadcast_ticks = 5;
  Hand t(0, 4, cfg);
  DecideHeight1(t, MakeBlock(1, "one"));
  Block two = MakeBlock(2, "two");
  t.Deliver(t.MakeProposal(2, 0, kNoRound, two));
  t.Prevote(2, 0, two.hash, 1);
  t.Prevote(2, 0, two.hash, 2);
  t.Precommit(2, 0, two.hash, 1);
  t.Precommit(2, 0, two.hash, 2);
  REQUIRE(t.replica->chain.size() == 2);
  t.Tick();
  t.sent.clear();
  // Unsigned 150-byte votes for old heights, alternating: no Decision for any of them.
  for (int i = 0; i < 40; ++i) {
    Vote junk;
    junk.type = VoteType::kPrevote;
    junk.height = 1 + (i % 2);
    junk.voter = 3;
    (void)t.replica->Step(3, junk);
    t.Drain();
  }
  CHECK(DecisionsTo(t.sent, 3) == 0);
  // Another validator's vote relayed by 3 says nothing about where 3 is.
  t.Deliver(t.MakeVote(VoteType::kPrevote, 1, 0, MakeBlock(1, "one").hash, 2), 3);
  CHECK(DecisionsTo(t.sent, 3) == 0);
  // Signed by 3 itself: one Decision per rebroadcast period, whatever the heights.
  for (int i = 0; i < 40; ++i) {
    t.Deliver(t.MakeVote(VoteType::kPrevote, 1 + (i % 2), 0, std::nullopt, 3));
  }
  CHECK(DecisionsTo(t.sent, 3) == 1);
  t.Tick(5);
  for (int i = 0; i < 40; ++i) {
    t.Deliver(t.MakeVote(VoteType::kPrevote, 1 + (i % 2), 0, std::nullopt, 3));
  }
  CHECK(DecisionsTo(t.sent, 3) == 2);
  // The two heights now sent are not sent again before kDecisionResendPeriods periods.
  t.Tick(5);
  for (int i = 0; i < 40; ++i) {
    t.Deliver(t.MakeVote(VoteType::kPrevote, 1 + (i % 2), 0, std::nullopt, 3));
  }
  CHECK(DecisionsTo(t.sent, 3) == 2);
  t.Tick(5 * BftEngine::kDecisionResendPeriods);
  t.Deliver(t.MakeVote(VoteType::kPrevote, 1, 0, std::nullopt, 3));
  CHECK(DecisionsTo(t.sent, 3) == 3);
  CHECK(DecisionsTo(t.sent, 1) + DecisionsTo(t.sent, 2) == 0);
}

TEST_CASE("bft: evidence is kept once per step, near the current height, few per validator",
          "[consensus][bft]") {
  Hand t(0);
  auto evidence = [&](ReplicaId who, uint64_t h, uint32_t r, const std::string& tag) {
    return MakeEvidence(t.MakeVote(VoteType::kPrevote, h, r, std::nullopt, who),
                        t.MakeVote(VoteType::kPrevote, h, r, MakeBlock(h, tag).hash, who));
  };
  // Far from the current height (1): dropped, not relayed.
  for (uint64_t h : {3ull, 1000ull, 1'000'000ull}) t.Deliver(evidence(1, h, 0, "x"), 2);
  CHECK(t.e().evidence().empty());
  CHECK(t.sent.empty());
  // One piece per (validator, height, round, type), however many conflicting pairs.
  t.Deliver(evidence(1, 1, 0, "x"), 2);
  t.Deliver(evidence(1, 1, 0, "y"), 2);
  CHECK(t.e().evidence().size() == 1);
  // At most kEvidencePerValidator against one validator.
  for (uint32_t r = 1; r < 100; ++r) t.Deliver(evidence(1, 1 + r % 2, r, "x"), 2);
  CHECK(t.e().evidence().size() == BftEngine::kEvidencePerValidator);
  CHECK(t.replica->evidence.size() == BftEngine::kEvidencePerValidator);
  // ...which leaves room for another validator's real equivocation.
  t.Prevote(1, 0, std::nullopt, 3);
  t.Prevote(1, 0, MakeBlock(1, "y").hash, 3);
  bool recorded = false;
  for (const Evidence& e : t.e().evidence()) recorded = recorded || e.a.voter == 3;
  CHECK(recorded);
  // Old heights leave the window as the chain moves on.
  DecideHeight1(t, MakeBlock(1, "one"));
  t.Deliver(evidence(2, 1, 5, "x"), 1);
  CHECK(t.e().evidence().size() == BftEngine::kEvidencePerValidator + 2);
}

TEST_CASE("bft: the next-height buffer keeps one proposal per round and one vote per step",
          "[consensus][bft]") {
  Hand t(0);
  REQUIRE(ProposerOf(2, 0, 4) == 2);
  for (int i = 0; i < 20; ++i) {
    t.Deliver(t.MakeProposal(2, 0, kNoRound, MakeBlock(2, "w" + std::to_string(i))));
  }
  CHECK(t.e().buffered_messages() == 1);
  // A conflicting vote for the next height is evidence, not another buffered message.
  t.Prevote(2, 0, MakeBlock(2, "w0").hash, 3);
  t.Prevote(2, 0, MakeBlock(2, "w1").hash, 3);
  t.Prevote(2, 0, std::nullopt, 3);
  CHECK(t.e().buffered_messages() == 2);
  REQUIRE(t.e().evidence().size() == 1);
  CHECK(t.e().evidence()[0].a.voter == 3);
  CHECK(t.e().evidence()[0].a.height == 2);
  // The first proposal and vote are what the next height uses.
  DecideHeight1(t, MakeBlock(1, "one"));
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 2, 0);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == MakeBlock(2, "w0").hash);
}

TEST_CASE("bft: IdleTick keeps answering laggards without running the round's timers",
          "[consensus][bft]") {
  Hand t(0);
  DecideHeight1(t, MakeBlock(1, "one"));
  REQUIRE(t.e().Idle());  // a node with an empty mempool calls IdleTick() now
  Block one = MakeBlock(1, "one");
  t.sent.clear();
  // Replica 3 missed the precommits and keeps sending its prevote for height 1.
  t.Prevote(1, 0, one.hash, 3);
  CHECK(DecisionsTo(t.sent, 3) == 0);  // the decision's own tick: normal flow
  t.e().IdleTick();
  t.Drain();
  t.Prevote(1, 0, one.hash, 3);
  CHECK(DecisionsTo(t.sent, 3) == 1);
  // No timer ran: a thousand idle ticks later, nothing was signed at height 2.
  for (int i = 0; i < 1000; ++i) t.e().IdleTick();
  t.Drain();
  CHECK(t.e().Idle());
  CHECK(t.e().round() == 0);
  CHECK(t.Sent(VoteType::kPrevote, 2, 0).empty());
  // Tick() runs them again.
  t.Tick(static_cast<int>(t.e().config().propose_timeout_ticks));
  CHECK(t.Sent(VoteType::kPrevote, 2, 0).size() == 1);
}

TEST_CASE("bft: an own proposal is re-sent only to peers that have not prevoted, backing off",
          "[consensus][bft]") {
  BftConfig cfg = Config(1, 4);
  cfg.rebroadcast_ticks = 2;
  cfg.propose_timeout_ticks = cfg.vote_timeout_ticks = cfg.max_timeout_ticks = 200;
  Hand t(1, 4, cfg);  // proposer of height 1 round 0
  Block b = MakeBlock(1, "mine");
  REQUIRE(t.e().Propose(b).ok());
  t.Drain();
  t.Prevote(1, 0, b.hash, 0);
  t.Prevote(1, 0, std::nullopt, 2);  // past its propose step: the block is of no use to it
  REQUIRE(t.e().round() == 0);
  t.sent.clear();
  t.Tick(60);  // 30 rebroadcast periods
  CHECK(ProposalsTo(t.sent, 0) == 0);
  CHECK(ProposalsTo(t.sent, 2) == 0);
  // Replica 3 is still waiting: re-sent after 1, 3, 7, 15 periods (the first re-send
  // comes one period after the round started, which the Hand's Drain already covered).
  size_t to3 = ProposalsTo(t.sent, 3);
  CHECK(to3 >= 3);
  CHECK(to3 <= 4);
  // Own votes are still re-sent every period.
  size_t own_prevotes = 0;
  for (const Message& m : Decoded(t.sent)) {
    if (const auto* v = std::get_if<Vote>(&m); v && v->voter == 1) ++own_prevotes;
  }
  CHECK(own_prevotes >= 3 * 29);
}

TEST_CASE("bft: a validation failure is asked again in a later round and for a Decision",
          "[consensus][bft]") {
  Hand t(0);
  Block v = MakeBlock(1, "v");
  t.replica->validator.fail_next = 1;
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  std::vector<Vote> pv0 = t.Sent(VoteType::kPrevote, 1, 0);
  REQUIRE(pv0.size() == 1);
  CHECK_FALSE(pv0[0].block);
  // The next proposer proposes the same block: validated again, now it passes.
  t.Prevote(1, 1, std::nullopt, 2);
  t.Prevote(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
  t.Deliver(t.MakeProposal(1, 1, kNoRound, v));
  std::vector<Vote> pv1 = t.Sent(VoteType::kPrevote, 1, 1);
  REQUIRE(pv1.size() == 1);
  CHECK(pv1[0].block == v.hash);

  // A certified block that failed once is accepted when its Decision comes again.
  Hand u(0);
  Certificate cert = u.MakeCert(1, 0, v.hash, {1, 2, 3});
  u.replica->validator.fail_next = 1;
  CHECK_FALSE(u.replica->Step(1, Decision{v, cert}).ok());
  CHECK(u.replica->chain.empty());
  u.Deliver(Decision{v, cert}, 2);
  CHECK(u.replica->chain.size() == 1);
}

}  // namespace cairn::consensus::bft
