// BFT engine, mapped to the properties of Tendermint (Buchman, Kwon, Milosevic 2018,
// Algorithm 1) and to the robustness rules of docs/CONSENSUS.md ("BFT"). Engines are driven by
// hand (the test plays the other validators with their real keys) or through a small
// deterministic in-process network.
#include <catch2/catch.hpp>

#include "tests/consensus/bft_harness.h"

namespace cairn::consensus::bft {

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

// Replica t sees v proposed in round 0 of height 1 and a polka for it (its own prevote and
// those of validators 0 and 1): v becomes its valid value, with valid round 0.
void ValidInRound0(Hand& t, const Block& v) {
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 0, v.hash, 0);
  t.Prevote(1, 0, v.hash, 1);
  REQUIRE(t.e().valid_round() == 0);
}

// The proposals the replica under test sent for `round`.
std::vector<Proposal> ProposalsOf(const Hand& t, uint32_t round) {
  std::vector<Proposal> props;
  for (const Message& m : Decoded(t.sent)) {
    if (const auto* p = std::get_if<Proposal>(&m); p && p->round == round) props.push_back(*p);
  }
  return props;
}

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
  ValidInRound0(t, v);
  t.Prevote(1, 1, std::nullopt, 0);
  t.Prevote(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
  CHECK_FALSE(t.e().ProposalWanted());
  std::vector<Proposal> props = ProposalsOf(t, 1);
  REQUIRE(props.size() == 3);  // to each other validator
  CHECK(props[0].valid_round == 0);
  CHECK(props[0].block.hash == v.hash);
  CHECK(props[0].proposer == 2);
  std::vector<Vote> pv = t.Sent(VoteType::kPrevote, 1, 1);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block == v.hash);
}

TEST_CASE("bft: a replica relays a polka it sees to every peer, once", "[consensus][bft]") {
  // A Byzantine voter can tell some replicas "v" and others "nil": the relay lets every
  // honest replica see the polka the first one saw (Tendermint's gossip assumption).
  Hand t(0);
  Block v = MakeBlock(1, "v");
  LockInRound0(t, v);
  auto copies_of = [&](ReplicaId voter) {
    size_t n = 0;
    for (const Message& m : Decoded(t.sent)) {
      const auto* x = std::get_if<Vote>(&m);
      if (x && x->type == VoteType::kPrevote && x->round == 0 && x->voter == voter) ++n;
    }
    return n;
  };
  std::vector<Vote> relayed = t.Relayed(VoteType::kPrevote, 1, 0);
  REQUIRE(relayed.size() == 2);
  for (const Vote& x : relayed) CHECK(x.block == v.hash);
  CHECK(copies_of(1) == 2);  // to each other validator but the voter
  CHECK(copies_of(2) == 2);
  t.Prevote(1, 0, v.hash, 3);  // a fourth prevote does not send the polka again
  CHECK(copies_of(1) == 2);
  CHECK(copies_of(3) == 0);
}

TEST_CASE(
    "bft: a polka that arrives after its round becomes the valid value the replica "
    "re-proposes",
    "[consensus][bft]") {
  Hand t(3);  // proposer of height 1 round 2
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  REQUIRE(t.Sent(VoteType::kPrevote, 1, 0).at(0).block == v.hash);
  t.Prevote(1, 1, std::nullopt, 0);  // f+1 validators in round 1: leave round 0
  t.Prevote(1, 1, std::nullopt, 1);
  REQUIRE(t.e().round() == 1);
  CHECK(t.e().valid_round() == kNoRound);
  // The rest of round 0's polka arrives late (relayed by a replica that saw it).
  t.Prevote(1, 0, v.hash, 1);
  t.Prevote(1, 0, v.hash, 2);
  CHECK(t.e().valid_round() == 0);
  CHECK(t.e().locked_round() == kNoRound);  // locks only move in the current round
  CHECK(t.Relayed(VoteType::kPrevote, 1, 0).size() == 2);
  t.Prevote(1, 2, std::nullopt, 0);
  t.Prevote(1, 2, std::nullopt, 1);
  REQUIRE(t.e().round() == 2);
  std::vector<Proposal> props = ProposalsOf(t, 2);
  REQUIRE_FALSE(props.empty());
  CHECK(props[0].valid_round == 0);
  CHECK(props[0].block.hash == v.hash);
}

TEST_CASE("bft: a proposer that learns a polka during its propose step re-proposes it",
          "[consensus][bft]") {
  Hand t(2);  // proposer of height 1 round 1
  Block v = MakeBlock(1, "v"), w = MakeBlock(1, "w");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  REQUIRE(t.Sent(VoteType::kPrevote, 1, 0).at(0).block == v.hash);
  t.Prevote(1, 1, std::nullopt, 0);  // f+1 in round 1: t enters it with no valid value
  t.Prevote(1, 1, std::nullopt, 3);
  REQUIRE(t.e().round() == 1);
  REQUIRE(t.e().step() == RoundStep::kPropose);
  REQUIRE(t.e().ProposalWanted());  // waiting on its node (empty mempool, interval not due)
  // The relayed polka of round 0 arrives while t still waits.
  t.Prevote(1, 0, v.hash, 0);
  t.Prevote(1, 0, v.hash, 1);
  REQUIRE(t.e().valid_round() == 0);
  CHECK_FALSE(t.e().ProposalWanted());
  if (t.e().ProposalWanted()) {  // the node would supply a fresh block now
    REQUIRE(t.e().Propose(w).ok());
    t.Drain();
  }
  std::vector<Proposal> props = ProposalsOf(t, 1);
  REQUIRE_FALSE(props.empty());
  CHECK(props[0].block.hash == v.hash);  // a replica locked on v in round 0 accepts it
  CHECK(props[0].valid_round == 0);
}

TEST_CASE("bft: a polka completed during the propose step is adopted when f+1 move the round on",
          "[consensus][bft]") {
  Hand t(3);  // proposer of height 1 round 2
  Block v = MakeBlock(1, "v");
  t.Prevote(1, 1, v.hash, 0);  // f+1 in round 1: t joins it
  t.Prevote(1, 1, v.hash, 1);
  REQUIRE(t.e().round() == 1);
  // Round 1's proposer re-proposes v from round 0, whose polka t never saw: t waits.
  t.Deliver(t.MakeProposal(1, 1, /*vr=*/0, v));
  REQUIRE(t.e().step() == RoundStep::kPropose);
  t.Prevote(1, 1, v.hash, 2);        // a polka for round 1's proposal, but t is in its propose step
  t.Prevote(1, 2, std::nullopt, 0);  // f+1 in round 2 before t's propose timeout
  t.Prevote(1, 2, std::nullopt, 1);
  REQUIRE(t.e().round() == 2);
  CHECK(t.e().valid_round() == 1);
  std::vector<Proposal> props = ProposalsOf(t, 2);
  REQUIRE_FALSE(props.empty());
  CHECK(props[0].block.hash == v.hash);
  CHECK(props[0].valid_round == 1);
}

TEST_CASE("bft: a replica restarted after adopting a late polka re-proposes it with its proof",
          "[consensus][bft]") {
  Hand t(3);  // proposer of height 1 round 2
  Block v = MakeBlock(1, "v");
  t.Deliver(t.MakeProposal(1, 0, kNoRound, v));
  t.Prevote(1, 1, std::nullopt, 0);
  t.Prevote(1, 1, std::nullopt, 1);
  REQUIRE(t.e().round() == 1);
  t.Prevote(1, 0, v.hash, 1);
  t.Prevote(1, 0, v.hash, 2);
  REQUIRE(t.e().valid_round() == 0);
  t.replica->engine.reset();  // a crash after the Ready was persisted
  t.replica->Open();
  CHECK(t.e().valid_round() == 0);
  t.sent.clear();
  t.Drain();
  t.Prevote(1, 2, std::nullopt, 0);
  t.Prevote(1, 2, std::nullopt, 1);
  REQUIRE(t.e().round() == 2);
  std::vector<Proposal> props = ProposalsOf(t, 2);
  REQUIRE_FALSE(props.empty());
  CHECK(props[0].valid_round == 0);
  CHECK(props[0].block.hash == v.hash);
  CHECK(t.Relayed(VoteType::kPrevote, 1, 0).size() >= 2);  // its proof of lock goes with it
}

TEST_CASE(
    "bft: a re-proposal carries its proof of lock so replicas that missed the polka "
    "accept it",
    "[consensus][bft]") {
  Hand t(2);  // proposer of height 1 round 1
  Block v = MakeBlock(1, "v");
  ValidInRound0(t, v);
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

}  // namespace cairn::consensus::bft
