// BFT engine robustness: the attacks an adversarial review found (a body that is not the
// block its hash names, Decision amplification, evidence and buffer floods, rebroadcast
// overload, validation verdicts), each shown to fail before its fix.
#include <catch2/catch.hpp>

#include "tests/consensus/bft_harness.h"

namespace cairn::consensus::bft {

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
