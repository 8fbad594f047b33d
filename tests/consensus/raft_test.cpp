// Raft engine behaviour beyond the paper's properties: the Ready contract, proposals and
// pipelining, restart from persisted state, compaction with block sync, fast back-off,
// and refusing bad input.
#include <catch2/catch.hpp>

#include "consensus/rng.h"
#include "tests/consensus/raft_cluster.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::raft;
using cairn::consensus::test::ClusterOptions;
using cairn::consensus::test::Envelope;
using cairn::consensus::test::OptionsFor;
using cairn::consensus::test::RaftCluster;
using cairn::consensus::test::TestBlock;

namespace {

RaftConfig Config(ReplicaId id, uint32_t replicas) {
  RaftConfig c;
  c.id = id;
  c.replicas = replicas;
  c.genesis = sim::SimGenesis();
  c.seed = 7 + id;
  return c;
}

std::vector<Message> Decode(const Ready& rd) {
  std::vector<Message> out;
  for (const OutboundMessage& m : rd.messages) out.push_back(*DecodeMessage(m.payload));
  return out;
}

}  // namespace

TEST_CASE("a vote is handed out for persisting in the same Ready that sends it",
          "[consensus][raft]") {
  auto e = RaftEngine::Open(Config(1, 3), DurableState{}, sim::SimGenesis());
  REQUIRE(e.ok());
  RaftEngine& r = **e;
  Message vote;
  vote.type = MsgType::kVote;
  vote.term = 1;
  REQUIRE(r.StepMessage(0, vote).ok());
  Ready rd = r.TakeReady();
  r.Advance();
  REQUIRE(rd.hard_state);
  HardState hs = *DecodeHardState(*rd.hard_state);
  REQUIRE(hs.term == 1);
  REQUIRE(hs.vote == 0);
  std::vector<Message> msgs = Decode(rd);
  REQUIRE(msgs.size() == 1);
  REQUIRE(msgs[0].type == MsgType::kVoteResp);
  REQUIRE_FALSE(msgs[0].reject);

  // A second candidate in the same term is refused: the vote is taken.
  REQUIRE(r.StepMessage(2, vote).ok());
  rd = r.TakeReady();
  r.Advance();
  REQUIRE_FALSE(rd.hard_state);
  REQUIRE(Decode(rd)[0].reject);
}

TEST_CASE("a follower acknowledges entries in the Ready that persists them", "[consensus][raft]") {
  auto e = RaftEngine::Open(Config(1, 3), DurableState{}, sim::SimGenesis());
  RaftEngine& r = **e;
  Message app;
  app.type = MsgType::kApp;
  app.term = 1;
  Entry noop;
  noop.index = 1;
  noop.term = 1;
  app.entries = {noop};
  REQUIRE(r.StepMessage(0, app).ok());
  Ready rd = r.TakeReady();
  r.Advance();
  REQUIRE(rd.append.size() == 1);
  REQUIRE(rd.append[0].index == 1);
  std::vector<Message> msgs = Decode(rd);
  REQUIRE(msgs.size() == 1);
  REQUIRE(msgs[0].type == MsgType::kAppResp);
  REQUIRE(msgs[0].index == 1);
  REQUIRE(r.GetStatus().leader == 0);
}

TEST_CASE("a block entry's record says where its block is: the node stores it once",
          "[consensus][raft]") {
  auto e = RaftEngine::Open(Config(1, 3), DurableState{}, sim::SimGenesis());
  RaftEngine& r = **e;
  Message app;
  app.type = MsgType::kApp;
  app.term = 1;
  Entry noop;
  noop.index = 1;
  noop.term = 1;
  Entry block;
  block.index = 2;
  block.term = 1;
  block.type = EntryType::kBlock;
  block.height = 1;
  block.hash = crypto::Sha256Of(AsBytes("block 1"));
  block.data = Bytes(300, 0x5a);
  block.data[0] = 0x01;
  app.entries = {noop, block};
  REQUIRE(r.StepMessage(0, app).ok());
  Ready rd = r.TakeReady();
  r.Advance();
  REQUIRE(rd.append.size() == 2);
  CHECK_FALSE(rd.append[0].block_hash);  // a no-op carries no block
  const LogRecord& rec = rd.append[1];
  REQUIRE(rec.block_hash == block.hash);
  REQUIRE(rec.block_offset + rec.block_size == rec.data.size());
  CHECK(Bytes(rec.data.begin() + static_cast<ptrdiff_t>(rec.block_offset), rec.data.end()) ==
        block.data);
  CHECK(rec.data == EncodeEntry(block));
}

TEST_CASE("only the leader takes proposals and followers name the leader", "[consensus][raft]") {
  RaftCluster c(OptionsFor(3));
  c.Campaign(0);
  REQUIRE(c.node(1).GetStatus().leader == 0);
  REQUIRE_FALSE(c.node(1).ProposalWanted());
  Status s = c.Propose(1);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message() == "raft: not the leader (leader is 0)");

  std::optional<ProposalSlot> slot = c.node(0).ProposalWanted();
  REQUIRE(slot);
  REQUIRE(slot->parent == sim::SimGenesis());
  Block wrong = TestBlock(slot->parent, "x");
  wrong.height = 5;
  REQUIRE(c.node(0).Propose(wrong).message() == "raft: proposed height 5, expected 1");
  REQUIRE(c.Propose(0).ok());
  c.Stabilize();
  for (ReplicaId r = 0; r < 3; ++r) {
    EngineStatus st = c.node(r).GetStatus();
    REQUIRE(st.commit_height == 1);
    REQUIRE(st.applied_height == 1);
    REQUIRE(st.last_log_height == 1);
    REQUIRE(st.term == 1);
    REQUIRE(st.role == (r == 0 ? Role::kLeader : Role::kFollower));
  }
}

TEST_CASE("the leader pipelines at most K uncommitted blocks", "[consensus][raft][pipeline]") {
  ClusterOptions o = OptionsFor(3);
  o.max_uncommitted_blocks = 3;
  RaftCluster c(o);
  c.Campaign(0);
  // Hold back every acknowledgement so nothing commits.
  c.drop = [](const Envelope& e) { return e.msg.type == MsgType::kAppResp; };
  BlockRef parent = sim::SimGenesis();
  for (int k = 0; k < 3; ++k) {
    std::optional<ProposalSlot> slot = c.node(0).ProposalWanted();
    REQUIRE(slot);
    REQUIRE(slot->parent == parent);  // builds on the uncommitted block before it
    REQUIRE(slot->parent_committed == (k == 0));
    Block b = TestBlock(slot->parent, "p" + std::to_string(k));
    parent = BlockRef{b.height, b.hash};
    REQUIRE(c.node(0).Propose(b).ok());
    c.Process(0);
    c.Stabilize();
  }
  REQUIRE_FALSE(c.node(0).ProposalWanted());
  REQUIRE(c.Propose(0).message() == "raft: pipeline full (3 uncommitted blocks)");
  REQUIRE(c.node(1).log().last_height() == 3);  // the followers hold all three

  c.drop = nullptr;
  c.TickAll();
  c.Stabilize();
  REQUIRE(c.ledger(0).size() == 3);
  REQUIRE(c.node(0).ProposalWanted());
}

TEST_CASE("fast back-off skips a whole conflicting term per round trip", "[consensus][raft]") {
  ClusterOptions o = OptionsFor(3);
  o.max_uncommitted_blocks = 64;
  RaftCluster c(o);
  c.Campaign(0);
  REQUIRE(c.Propose(0, "common").ok());
  c.Stabilize();
  // Replica 0 keeps leading term 1 alone: 40 entries nobody else gets.
  c.Isolate(0);
  for (int k = 0; k < 40; ++k) REQUIRE(c.Propose(0, "stale " + std::to_string(k)).ok());
  // Replicas 1 and 2 move on in term 2 with 30 entries of their own...
  c.Campaign(1);
  REQUIRE(c.node(1).role() == Role::kLeader);
  for (int k = 0; k < 30; ++k) REQUIRE(c.Propose(1, "new " + std::to_string(k)).ok());
  c.Stabilize();
  // ...and 2 takes over in term 3, so its first probe to 0 starts at its long log's end.
  c.Campaign(2);
  REQUIRE(c.node(2).role() == Role::kLeader);
  size_t before = c.delivered().size();
  c.HealAll();
  c.Tick(2);
  c.Stabilize();
  size_t rejects = 0;
  for (size_t k = before; k < c.delivered().size(); ++k) {
    const Envelope& e = c.delivered()[k];
    if (e.from == 0 && e.msg.type == MsgType::kAppResp && e.msg.reject) ++rejects;
  }
  // Stepping back one entry per rejection would take 31 round trips; the term hint
  // jumps over all of term 2 at once.
  REQUIRE(rejects == 1);
  REQUIRE(c.node(0).log().last_index() == c.node(2).log().last_index());
  REQUIRE(c.node(0).log().last_term() == c.node(2).term());
}

TEST_CASE("a cluster restarted from persisted state keeps its blocks and carries on",
          "[consensus][raft][restart]") {
  RaftCluster c(OptionsFor(3));
  c.Campaign(0);
  for (int k = 0; k < 5; ++k) {
    REQUIRE(c.Propose(0, std::to_string(k)).ok());
    c.Stabilize();
  }
  std::vector<Block> before = c.ledger(0);
  uint64_t term = c.node(0).term();
  for (ReplicaId r = 0; r < 3; ++r) c.Crash(r);
  for (ReplicaId r = 0; r < 3; ++r) REQUIRE(c.Restart(r).ok());
  for (ReplicaId r = 0; r < 3; ++r) {
    REQUIRE(c.node(r).term() == term);
    REQUIRE(c.node(r).GetStatus().commit_height >= 4);  // the last commit may be unsent
    REQUIRE(c.node(r).GetStatus().applied_height == c.tip(r).height);
  }
  c.Campaign(2);
  REQUIRE(c.node(2).role() == Role::kLeader);
  REQUIRE(c.Propose(2, "after restart").ok());
  c.Stabilize();
  for (ReplicaId r = 0; r < 3; ++r) {
    REQUIRE(c.ledger(r).size() == 6);
    REQUIRE(std::equal(before.begin(), before.end(), c.ledger(r).begin()));
  }
}

TEST_CASE("committed blocks not yet applied are handed out again after a restart",
          "[consensus][raft][restart]") {
  RaftCluster c(OptionsFor(1));
  c.Campaign(0);
  for (int k = 0; k < 3; ++k) REQUIRE(c.Propose(0, std::to_string(k)).ok());
  REQUIRE(c.ledger(0).size() == 3);
  // The node crashed after persisting but before applying blocks 2 and 3.
  BlockRef applied{1, c.ledger(0)[0].hash};
  auto e = RaftEngine::Open(Config(0, 1), c.disk(0).ToDurable(), applied);
  REQUIRE(e.ok());
  Ready rd = (*e)->TakeReady();
  REQUIRE(rd.committed.size() == 2);
  REQUIRE(rd.committed[0] == c.ledger(0)[1]);
  REQUIRE(rd.committed[1] == c.ledger(0)[2]);
}

TEST_CASE("restart refuses stored state that is corrupt or disagrees with the ledger",
          "[consensus][raft][restart]") {
  RaftCluster c(OptionsFor(1));
  c.Campaign(0);
  for (int k = 0; k < 3; ++k) REQUIRE(c.Propose(0, std::to_string(k)).ok());
  DurableState good = c.disk(0).ToDurable();
  BlockRef tip = c.tip(0);
  REQUIRE(RaftEngine::Open(Config(0, 1), good, tip).ok());

  DurableState gap = good;
  gap.records.erase(gap.records.begin() + 1);
  REQUIRE(RaftEngine::Open(Config(0, 1), gap, tip).error() ==
          "raft restart: record 3 after 1 leaves a gap");

  DurableState bad_hs = good;
  bad_hs.hard_state->pop_back();
  REQUIRE(RaftEngine::Open(Config(0, 1), bad_hs, tip)
              .error()
              .find("raft hard state: base hash: truncated") == 0);

  DurableState no_hs = good;
  no_hs.hard_state.reset();
  REQUIRE_FALSE(RaftEngine::Open(Config(0, 1), no_hs, tip).ok());

  // A ledger ahead of the stored commit (blocks applied through sync or a leader's push) is
  // fine: the engine hands out from its commit and the node skips what it holds.
  BlockRef ahead{tip.height + 1, tip.hash};
  auto reopened = RaftEngine::Open(Config(0, 1), good, ahead);
  REQUIRE(reopened.ok());
  CHECK(reopened.value()->GetStatus().applied_height == tip.height);
  BlockRef forked{tip.height, crypto::Sha256Of(AsBytes("other"))};
  REQUIRE(RaftEngine::Open(Config(0, 1), good, forked).error() ==
          "raft restart: ledger block 3 differs from the committed log");

  RaftConfig bad = Config(3, 3);
  REQUIRE(RaftEngine::Open(bad, DurableState{}, sim::SimGenesis()).error() ==
          "raft config: id 3 is not below replicas 3");
}

TEST_CASE("a follower behind the leader's compacted log block-syncs and rejoins",
          "[consensus][raft][compaction]") {
  RaftCluster c(OptionsFor(3));
  c.Campaign(0);
  c.Isolate(2);
  for (int k = 0; k < 6; ++k) {
    REQUIRE(c.Propose(0, std::to_string(k)).ok());
    c.Stabilize();
  }
  REQUIRE(c.node(0).Compact(5).ok());
  REQUIRE(c.node(1).Compact(4).ok());
  c.Process(0);
  c.Process(1);
  REQUIRE(c.node(0).log().base().block.height == 5);
  REQUIRE(c.node(0).log().first_index() > 2);
  // The dropped records are released for deletion (records up to the base).
  REQUIRE(c.disk(0).records.begin()->first == c.node(0).log().first_index());

  c.HealAll();
  c.TickAll();
  c.Stabilize();
  REQUIRE(c.syncs() == 1);
  REQUIRE(c.tip(2) == c.tip(0));
  REQUIRE(c.Propose(0, "after sync").ok());
  c.Stabilize();
  REQUIRE(c.ledger(2).size() == 7);
  REQUIRE(c.ledger(2).back() == c.ledger(0).back());

  // A restart after compaction reads the base from the hard state.
  c.Crash(0);
  REQUIRE(c.Restart(0).ok());
  REQUIRE(c.node(0).log().base().block.height == 5);
  REQUIRE(c.node(0).GetStatus().applied_height == 7);
}

TEST_CASE("a follower that crashed mid block-sync asks again on restart",
          "[consensus][raft][compaction]") {
  RaftCluster c(OptionsFor(3));
  c.Campaign(0);
  c.Isolate(2);
  for (int k = 0; k < 4; ++k) {
    REQUIRE(c.Propose(0, std::to_string(k)).ok());
    c.Stabilize();
  }
  REQUIRE(c.node(0).Compact(4).ok());
  c.Process(0);
  // Deliver the snapshot to a standalone copy of replica 2 and crash it before syncing.
  auto r2 = RaftEngine::Open(Config(2, 3), c.disk(2).ToDurable(), c.tip(2));
  REQUIRE(r2.ok());
  Message snap;
  snap.type = MsgType::kSnapshot;
  snap.term = c.node(0).term();
  snap.snapshot = c.node(0).log().base();
  REQUIRE((*r2)->StepMessage(0, snap).ok());
  Ready rd = (*r2)->TakeReady();
  (*r2)->Advance();
  REQUIRE(rd.sync_to == snap.snapshot.block);
  REQUIRE(rd.committed.empty());
  REQUIRE(rd.truncate_from);  // its old records go

  sim::Disk disk;
  disk.hard_state = rd.hard_state;
  auto again = RaftEngine::Open(Config(2, 3), disk.ToDurable(), c.tip(2));
  REQUIRE(again.ok());
  Ready first = (*again)->TakeReady();
  REQUIRE(first.sync_to == snap.snapshot.block);
  BlockRef wrong{snap.snapshot.block.height - 1, snap.snapshot.block.hash};
  REQUIRE_FALSE((*again)->SyncCompleted(wrong).ok());
  REQUIRE((*again)->SyncCompleted(snap.snapshot.block).ok());
}

TEST_CASE("Step refuses bad senders and malformed messages and keeps working",
          "[consensus][raft]") {
  RaftCluster c(OptionsFor(3));
  c.Campaign(0);
  RaftEngine& f = c.node(1);
  Message hb;
  hb.type = MsgType::kHeartbeat;
  hb.term = f.term();
  REQUIRE(f.StepMessage(1, hb).message() == "raft Heartbeat from replica 1: bad sender");
  REQUIRE(f.StepMessage(9, hb).message() == "raft Heartbeat from replica 9: bad sender");
  hb.term = 0;
  REQUIRE(f.StepMessage(0, hb).message() == "raft Heartbeat from replica 0: term 0");

  Message app;
  app.type = MsgType::kApp;
  app.term = f.term();
  app.index = f.log().last_index();
  app.log_term = f.log().last_term();
  Entry e;
  e.index = app.index + 1;
  e.term = f.term();
  e.type = EntryType::kBlock;
  e.height = 7;  // does not follow the follower's height 0
  app.entries = {e};
  Status s = f.StepMessage(0, app);
  REQUIRE(s.message() == "raft App from replica 0: entry 2 has height 7, expected 1");

  Bytes garbage = {1, 1, 1};
  REQUIRE(f.Step(0, garbage).message() ==
          "from replica 0: raft message: term: truncated: needs 8 bytes, 1 left at offset 2");

  // Feed random and mutated messages to every replica: errors are fine, crashes (and
  // sanitizer reports) are not.
  Rng rng(99);
  for (int k = 0; k < 3000; ++k) {
    Message m;
    m.type = static_cast<MsgType>(rng.Range(1, 9));
    m.term = rng.Range(0, 4);
    m.index = rng.Range(0, 6);
    m.log_term = rng.Range(0, 4);
    m.commit = rng.Range(0, 6);
    m.reject = rng.Chance(1, 2);
    m.reject_hint = rng.Range(0, 6);
    m.hint_term = rng.Range(0, 4);
    for (uint64_t i = 0, n = rng.Uniform(3); i < n; ++i) {
      Entry en;
      en.index = m.index + 1 + i;
      en.term = rng.Range(0, 4);
      en.type = rng.Chance(1, 2) ? EntryType::kBlock : EntryType::kNoop;
      en.height = rng.Range(0, 3);
      m.entries.push_back(en);
    }
    m.snapshot = LogBase{rng.Range(0, 6), rng.Range(0, 4), BlockRef{rng.Range(0, 3), {}}};
    Bytes enc = EncodeMessage(m);
    if (rng.Chance(1, 3)) enc[rng.Uniform(enc.size())] ^= static_cast<uint8_t>(rng.Next());
    ReplicaId to = static_cast<ReplicaId>(rng.Uniform(3));
    (void)c.node(to).Step(static_cast<ReplicaId>(rng.Uniform(4)), enc);
    while (c.node(to).HasReady()) {
      c.node(to).TakeReady();
      c.node(to).Advance();
    }
  }
}
