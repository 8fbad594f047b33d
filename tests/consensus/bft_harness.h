// The BFT engine's unit-test harness: deterministic validator keys, a scriptable
// ProposalValidator, replicas with their durable state, `Hand` (the test plays the other
// validators with their real keys) and `Net` (a small deterministic in-process network).
// Shared by bft_test.cpp (the paper's properties) and bft_robustness_test.cpp (attacks).
// Not thread-safe.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
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
#include "tests/kit/keys.h"

namespace cairn::consensus::bft {

// Validator i's key (testkit::TestKey, family 0x5e; numbered from 1).
inline crypto::KeyPair KeyFor(uint32_t i) { return testkit::TestKey(i + 1, /*family=*/0x5e); }

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

inline Block MakeBlock(uint64_t height, const std::string& tag) {
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

inline BftConfig Config(ReplicaId id, uint32_t n) {
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

inline std::vector<Message> Decoded(const std::vector<OutboundMessage>& out) {
  std::vector<Message> msgs;
  for (const OutboundMessage& m : out) msgs.push_back(*DecodeMessage(m.payload));
  return msgs;
}

// Own votes of `type` in `round` among `out`, deduplicated (broadcasts repeat them).
inline std::vector<Vote> VotesSent(const std::vector<OutboundMessage>& out, VoteType type,
                                   uint64_t height, uint32_t round) {
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
    self = id;
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
  // The votes the replica under test signed (it also relays others' polkas).
  std::vector<Vote> Sent(VoteType t, uint64_t h, uint32_t r) const {
    std::vector<Vote> own;
    for (const Vote& x : VotesSent(sent, t, h, r)) {
      if (x.voter == self) own.push_back(x);
    }
    return own;
  }
  // Others' votes the replica under test sent on (polka relays, proofs of lock).
  std::vector<Vote> Relayed(VoteType t, uint64_t h, uint32_t r) const {
    std::vector<Vote> others;
    for (const Vote& x : VotesSent(sent, t, h, r)) {
      if (x.voter != self) others.push_back(x);
    }
    return others;
  }
  BftEngine& e() { return *replica->engine; }

  Validators v;
  std::unique_ptr<Replica> replica;
  ReplicaId self = 0;
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

}  // namespace cairn::consensus::bft
