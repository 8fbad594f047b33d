// Raft membership changes (etcd's rules, docs/CONSENSUS.md): the seeded simulation with
// changes mixed into every fault schedule, and scenarios for each rule.
#include <catch2/catch.hpp>

#include "tests/consensus/raft_cluster.h"
#include "tests/consensus/sim/raft_driver.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::sim;

TEST_CASE("raft membership changes keep the invariants and liveness over 1000 seeded networks",
          "[consensus][raft][sim][membership]") {
  // 4 or 5 replicas: 0..2 are the genesis voters, the rest join (learner, then voter) while
  // the leaders remove voters, themselves included: 3 -> 4 -> 3 (-> 4 -> 3).
  SeedsSummary s = RunSeeds(RaftMembershipDriver(), 1000, [](uint64_t seed) {
    return ConfigForSeed(seed, {4, 5, 5});
  });
  REQUIRE(s.failures == 0);
  if (s.seeds >= 100) {
    // The changes really happened, under the faults.
    REQUIRE(s.totals.counters["members added"] > 0);
    REQUIRE(s.totals.counters["members removed"] > 0);
    REQUIRE(s.totals.counters["leaders removed"] > 0);
    REQUIRE(s.totals.counters["events with 4 voters"] > 0);
    REQUIRE(s.totals.counters["configs with a learner"] > 0);
    REQUIRE(s.totals.counters["configs without learners"] > 0);
    REQUIRE(s.totals.counters["leadership transfers"] > 0);
    REQUIRE(s.totals.crashes > 0);
    REQUIRE(s.totals.partitions > 0);
    REQUIRE(s.totals.syncs > 0);
  }
}

namespace {

using namespace cairn::consensus::raft;
using cairn::consensus::test::ClusterOptions;
using cairn::consensus::test::Envelope;
using cairn::consensus::test::RaftCluster;

ClusterOptions MembershipOptions(uint32_t slots) {
  ClusterOptions o;
  o.replicas = slots;
  o.genesis_voters = 3;
  return o;
}

std::vector<ReplicaId> V(std::initializer_list<ReplicaId> ids) { return ids; }

// Heartbeats until every live member knows the leader's commit index (and applied it).
void Settle(RaftCluster& c, int rounds = 3) {
  for (int k = 0; k < rounds; ++k) {
    ReplicaId leader = c.Leader();
    if (leader != kNoReplica) c.Tick(leader);
    c.Stabilize();
  }
}

// 3 -> 4: adds replica 3, waits for its promotion. Returns with voters {0,1,2,3}.
void GrowToFour(RaftCluster& c, ReplicaId leader) {
  REQUIRE(c.ProposeChange(leader, "add:3").ok());
  c.Stabilize();
  Settle(c);
  // The member added at h governs h + 2: it is promoted only once a block above h is in the
  // log, so that no leader it could become proposes h + 1.
  for (ReplicaId i = 0; i < 4; ++i) REQUIRE(c.node(i).conf().voters == V({0, 1, 2}));
  REQUIRE(c.Propose(leader).ok());
  c.Stabilize();
  Settle(c);
  for (ReplicaId i = 0; i < 4; ++i) {
    INFO("replica " << i);
    REQUIRE(c.node(i).conf().voters == V({0, 1, 2, 3}));
    REQUIRE(c.node(i).conf().learners.empty());
  }
}

bool SentAfter(const RaftCluster& c, size_t from_delivery, ReplicaId sender, MsgType type) {
  for (size_t k = from_delivery; k < c.delivered().size(); ++k) {
    const Envelope& e = c.delivered()[k];
    if (e.from == sender && e.msg.type == type) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("3 -> 4: a new member joins as a learner and is promoted once caught up",
          "[consensus][raft][membership]") {
  RaftCluster c(MembershipOptions(4));
  c.Campaign(0);
  REQUIRE(c.Leader() == 0);
  REQUIRE(c.Propose(0).ok());
  c.Stabilize();
  // Replica 3 is no member yet: nobody sends it anything and it never campaigns.
  for (int t = 0; t < 40; ++t) c.Tick(3);
  REQUIRE(c.node(3).term() == 0);
  REQUIRE(c.ledger(3).empty());

  // Hold back what goes to replica 3 to watch it as a learner first.
  bool hold = true;
  c.drop = [&](const Envelope& e) { return hold && e.to == 3; };
  REQUIRE(c.ProposeChange(0, "add:3").ok());
  // One change in flight: the leader proposes nothing until it applied the change.
  REQUIRE_FALSE(c.node(0).ProposalWanted());
  REQUIRE(c.Propose(0).message().find("is not applied yet") != std::string::npos);
  c.Stabilize();
  Settle(c);
  for (ReplicaId i = 0; i < 3; ++i) {
    REQUIRE(c.node(i).conf().voters == V({0, 1, 2}));
    REQUIRE(c.node(i).conf().learners == V({3}));
  }
  REQUIRE(c.node(0).ProposalWanted());

  // A learner's vote never counts: with 0 cut off and 1 down, 2 cannot win with 3's vote.
  c.Crash(1);
  c.Isolate(0);
  hold = false;
  c.Campaign(2);
  REQUIRE(c.node(2).role() != Role::kLeader);
  REQUIRE(c.node(2).conf().voters == V({0, 1, 2}));

  // Healed: 0 leads again, 3 catches up and is promoted with no block and no governance.
  c.HealAll();
  REQUIRE(c.Restart(1).ok());
  // Without pre-vote, 2 (a candidate of a later term) deposes 0 in time; tick until the
  // cluster agrees on a leader of the highest term.
  for (int t = 0; t < 60; ++t) {
    c.TickAll();
    c.Stabilize();
  }
  ReplicaId leader = c.Leader();
  REQUIRE(leader != kNoReplica);
  REQUIRE(leader != 3);
  for (int k = 0; k < 3; ++k) Settle(c);
  // Caught up, but no block above the one that added it yet: still a learner.
  REQUIRE(c.node(leader).conf().learners == V({3}));
  REQUIRE(c.Propose(leader).ok());
  c.Stabilize();
  for (int k = 0; k < 3; ++k) Settle(c);
  for (ReplicaId i = 0; i < 4; ++i) {
    INFO("replica " << i << " role " << RoleName(c.node(i).role()) << " term " << c.node(i).term()
                    << " commit " << c.node(i).commit_index() << " last "
                    << c.node(i).log().last_index() << " leader " << leader << " term "
                    << c.node(leader).term() << " commit " << c.node(leader).commit_index());
    REQUIRE(c.node(i).conf().voters == V({0, 1, 2, 3}));
    REQUIRE(c.node(i).conf_index() == c.node(leader).conf_index());
  }
  // Now 3 counts: with two voters down, 3 is part of every quorum of {0,1,2,3}.
  ReplicaId down = leader == 1 ? 2 : 1;
  c.Crash(down);
  REQUIRE(c.Propose(leader).ok());
  c.Stabilize();
  Settle(c);
  REQUIRE(c.ledger(3).size() == c.ledger(leader).size());
  REQUIRE(c.node(leader).log().HeightAt(c.node(leader).commit_index()) == c.ledger(leader).size());
}

TEST_CASE("one change in flight: a new leader proposes nothing until it applied its log",
          "[consensus][raft][membership]") {
  for (bool membership : {false, true}) {
    INFO("membership " << membership);
    ClusterOptions o = MembershipOptions(3);
    if (!membership) o.genesis_voters = 0;
    RaftCluster c(o);
    c.Campaign(0);
    // A block reaches 1 and 2 but commits nowhere; then 1 takes over, and its no-op is not
    // acknowledged: its log is not all applied.
    c.drop = [](const Envelope& e) { return e.msg.type == MsgType::kAppResp; };
    REQUIRE(c.Propose(0).ok());
    c.Stabilize();
    c.Isolate(0);
    c.Campaign(1);
    REQUIRE(c.node(1).role() == Role::kLeader);
    // Without membership changes the leader pipelines at once, as it always did; with them
    // it waits (etcd's pendingConfIndex = lastIndex), since an unapplied block may change
    // the members.
    REQUIRE(c.node(1).ProposalWanted().has_value() == !membership);
    c.drop = nullptr;
    for (int k = 0; k < 3; ++k) {
      c.Tick(1);
      c.Stabilize();
    }
    REQUIRE(c.node(1).ProposalWanted().has_value());
  }
}

TEST_CASE("4 -> 3: a removed leader stops proposing, hands over with TimeoutNow, steps down",
          "[consensus][raft][membership]") {
  RaftCluster c(MembershipOptions(4));
  c.Campaign(0);
  GrowToFour(c, 0);
  uint64_t term = c.node(0).term();
  size_t mark = c.delivered().size();
  REQUIRE(c.ProposeChange(0, "remove:0").ok());
  c.Stabilize();
  Settle(c);
  REQUIRE(c.node(0).removed());
  REQUIRE(c.node(0).role() == Role::kFollower);
  REQUIRE_FALSE(c.node(0).ProposalWanted());
  REQUIRE(SentAfter(c, mark, 0, MsgType::kTimeoutNow));
  // The transfer elected a new leader in the next term, without waiting for a timeout.
  ReplicaId leader = c.Leader();
  REQUIRE(leader != kNoReplica);
  REQUIRE(leader != 0);
  REQUIRE(c.node(leader).term() == term + 1);
  REQUIRE(c.node(leader).conf().voters == V({1, 2, 3}));
  // From its removal on, 0 answers nothing: no vote, no acknowledgement.
  size_t after = c.delivered().size();
  for (int t = 0; t < 40; ++t) c.Tick(0);
  c.Stabilize();
  REQUIRE(c.node(0).term() == term);
  for (MsgType t : {MsgType::kAppResp, MsgType::kHeartbeatResp, MsgType::kVote, MsgType::kPreVote,
                    MsgType::kVoteResp}) {
    REQUIRE_FALSE(SentAfter(c, after, 0, t));
  }
  // The three carry on, and the old leader's ledger stops at its removal.
  size_t stopped = c.ledger(0).size();
  for (int k = 0; k < 3; ++k) {
    REQUIRE(c.Propose(leader).ok());
    c.Stabilize();
  }
  Settle(c);
  REQUIRE(c.ledger(0).size() == stopped);
  for (ReplicaId i : {1u, 2u, 3u}) REQUIRE(c.ledger(i).size() == stopped + 3);
}

TEST_CASE("a replaced member: the new one counts, the removed one does not",
          "[consensus][raft][membership]") {
  RaftCluster c(MembershipOptions(4));
  c.Campaign(0);
  GrowToFour(c, 0);
  REQUIRE(c.ProposeChange(0, "remove:1").ok());
  c.Stabilize();
  Settle(c);
  REQUIRE(c.node(1).removed());
  REQUIRE(c.node(0).conf().voters == V({0, 2, 3}));
  // A removed follower never campaigns and refuses to vote.
  uint64_t term = c.node(1).term();
  for (int t = 0; t < 40; ++t) c.Tick(1);
  REQUIRE(c.node(1).term() == term);
  Message vote;
  vote.type = MsgType::kVote;
  vote.term = term + 5;
  vote.index = 1000;
  vote.log_term = term + 5;
  REQUIRE(c.node(1).StepMessage(2, vote).ok());
  REQUIRE_FALSE(c.node(1).HasReady());
  // With 2 down, {0, 3} are a quorum of {0, 2, 3}: 3 counts and 1 is not needed.
  c.Crash(2);
  c.Crash(1);
  size_t before = c.ledger(0).size();
  REQUIRE(c.Propose(0).ok());
  c.Stabilize();
  REQUIRE(c.ledger(0).size() == before + 1);
  REQUIRE(c.ledger(3).size() == before + 1);
}

TEST_CASE("promotions survive restarts and reach a replica that block-syncs past them",
          "[consensus][raft][membership]") {
  RaftCluster c(MembershipOptions(5));
  c.Campaign(0);
  GrowToFour(c, 0);
  // Restart everyone: the promotion is in the hard state (or replayed from the log).
  for (ReplicaId i = 0; i < 4; ++i) {
    c.Crash(i);
    REQUIRE(c.Restart(i).ok());
    REQUIRE(c.node(i).conf().voters == V({0, 1, 2, 3}));
  }
  for (int t = 0; t < 60 && c.Leader() == kNoReplica; ++t) {
    c.TickAll();
    c.Stabilize();
  }
  ReplicaId leader = c.Leader();
  REQUIRE(leader != kNoReplica);
  for (int k = 0; k < 3; ++k) {
    REQUIRE(c.Propose(leader).ok());
    c.Stabilize();
  }
  Settle(c);
  // The leader compacts away the promote entry; replica 4 then joins from a snapshot.
  REQUIRE(c.node(leader).Compact(c.tip(leader).height).ok());
  c.Process(leader);
  REQUIRE(c.ProposeChange(leader, "add:4").ok());
  c.Stabilize();
  Settle(c, 6);
  REQUIRE(c.Propose(leader).ok());  // the block above the addition, which lets 4 be promoted
  c.Stabilize();
  Settle(c, 6);
  REQUIRE(c.syncs() > 0);
  for (ReplicaId i = 0; i < 5; ++i) {
    INFO("replica " << i);
    REQUIRE(c.node(i).conf() == c.node(leader).conf());
  }
  REQUIRE(c.node(4).conf().voters == V({0, 1, 2, 3, 4}));
  // Version 2 hard state with the promotions, and it decodes back.
  Result<HardState> hs = DecodeHardState(*c.disk(4).hard_state);
  REQUIRE(hs.ok());
  REQUIRE(hs->promoted.size() == 2);
}

TEST_CASE("without membership the engine refuses config changes", "[consensus][raft][membership]") {
  RaftCluster c(test::OptionsFor(3));
  c.Campaign(0);
  Membership m{{0, 1}, 3};
  REQUIRE(c.node(0).ApplyConfig(m, 1).message() == "raft: membership changes are not enabled");
  REQUIRE(c.ProposeChange(0, "add:3").message() == "raft: membership changes are not enabled");
  REQUIRE(c.node(0).conf().voters == V({0, 1, 2}));
}

TEST_CASE("membership encodings: promote entries, TimeoutNow, transfer votes, promotions",
          "[consensus][raft][membership][codec]") {
  Entry e;
  e.index = 7;
  e.term = 3;
  e.type = EntryType::kPromote;
  e.height = 5;
  e.member = 9;
  Result<Entry> back = DecodeEntry(EncodeEntry(e), 7);
  REQUIRE(back.ok());
  REQUIRE(*back == e);

  // A hard state without promotions keeps its version-1 bytes; with them it is version 2.
  HardState hs{4, 1, 10, LogBase{2, 1, BlockRef{2, e.hash}}, {}};
  REQUIRE(EncodeHardState(hs)[0] == 1);
  hs.promoted = {{5, 3}, {9, 4}};
  Bytes enc = EncodeHardState(hs);
  REQUIRE(enc[0] == 2);
  REQUIRE(*DecodeHardState(enc) == hs);
  hs.promoted = {{9, 3}, {9, 4}};
  REQUIRE(DecodeHardState(EncodeHardState(hs)).error().find("does not increase") !=
          std::string::npos);

  Message vote;
  vote.type = MsgType::kVote;
  vote.term = 5;
  vote.index = 9;
  vote.log_term = 4;
  Bytes plain = EncodeMessage(vote);
  vote.transfer = true;
  Bytes transfer = EncodeMessage(vote);
  REQUIRE(transfer.size() == plain.size() + 1);
  REQUIRE(DecodeMessage(transfer)->transfer);
  REQUIRE_FALSE(DecodeMessage(plain)->transfer);

  Message tn;
  tn.type = MsgType::kTimeoutNow;
  tn.term = 6;
  REQUIRE(*DecodeMessage(EncodeMessage(tn)) == tn);

  Message snap;
  snap.type = MsgType::kSnapshot;
  snap.term = 6;
  snap.snapshot = LogBase{20, 5, BlockRef{12, e.hash}};
  snap.promoted = {{8, 3}};
  REQUIRE(*DecodeMessage(EncodeMessage(snap)) == snap);
  snap.promoted = {{21, 3}};
  REQUIRE(DecodeMessage(EncodeMessage(snap)).error().find("beyond the snapshot") !=
          std::string::npos);
}

TEST_CASE("ApplyConfig refuses a malformed member set and ignores an unchanged one",
          "[consensus][raft][membership]") {
  RaftCluster c(MembershipOptions(4));
  c.Campaign(0);
  RaftEngine& e = c.node(0);
  REQUIRE(e.ApplyConfig(Membership{{1, 0, 2}, 3}, 0).message() ==
          "raft: members must be sorted, unique and below next_id");
  REQUIRE(e.ApplyConfig(Membership{{0, 1, 2, 3}, 3}, 0).message() ==
          "raft: members must be sorted, unique and below next_id");
  REQUIRE(e.ApplyConfig(Membership{{0, 1}, 2}, 0).message() ==
          "raft: next member id went back from 3 to 2");
  REQUIRE(e.ApplyConfig(Membership{{0, 1, 2}, 3}, 0).ok());
  REQUIRE(e.conf().voters == V({0, 1, 2}));
  REQUIRE(e.conf_index() == 0);
  REQUIRE(e.role() == Role::kLeader);
}
