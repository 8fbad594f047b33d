// The BFT engine with a changing validator set (issue 15, docs/design/membership.md section
// 3): set(H) from Engine::SetValidators governs quorum, proposer rotation and vote checks of
// height H; certificates verify against the set of their height; replicas outside set(H)
// follow without voting; a restart is given the schedule again.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <tuple>

#include "tests/consensus/bft_harness.h"

namespace cairn::consensus::bft {
namespace {

std::vector<ValidatorInfo> SetOf(const Validators& v, std::vector<ReplicaId> ids) {
  std::vector<ValidatorInfo> out;
  for (ReplicaId id : ids) out.push_back(ValidatorInfo{id, v.keys[id]});
  return out;
}

Vote Signed(const Validators& v, ReplicaId signer, VoteType t, uint64_t h, uint32_t r,
            std::optional<crypto::Hash256> b, uint32_t index) {
  Vote x;
  x.type = t;
  x.height = h;
  x.round = r;
  x.block = b;
  x.voter = index;
  x.sig = v.signers[signer].Sign(VoteSignBytes(kGenesis.hash, x));
  return x;
}

Certificate CertOf(const Validators& v, uint64_t h, const crypto::Hash256& b,
                   const std::vector<std::pair<uint32_t, ReplicaId>>& index_and_signer) {
  Certificate c{h, 0, b, {}};
  for (auto [index, signer] : index_and_signer) {
    c.sigs.push_back({index, Signed(v, signer, VoteType::kPrecommit, h, 0, b, index).sig});
  }
  return c;
}

}  // namespace

TEST_CASE("bft membership: a certificate verifies against the set of its own height only",
          "[consensus][bft][membership]") {
  Validators v(5);
  const auto a = SetOf(v, {0, 1, 2, 3});
  const auto b = SetOf(v, {0, 1, 2, 4});  // 3 replaced by 4
  Block blk = MakeBlock(7, "seven");
  // Validator 3 signs under its index in `a`.
  Certificate with3 = CertOf(v, 7, blk.hash, {{1, 1}, {2, 2}, {3, 3}});
  CHECK(VerifyCertificate(with3, kGenesis.hash, 7, blk.hash, a).ok());
  // In `b` index 3 is validator 4: the removed validator's signature does not count.
  Status s = VerifyCertificate(with3, kGenesis.hash, 7, blk.hash, b);
  CHECK(s.message() == "certificate: signature of validator 3 is invalid");
  CHECK(VerifyCertificate(CertOf(v, 7, blk.hash, {{1, 1}, {2, 2}, {3, 4}}), kGenesis.hash, 7,
                          blk.hash, b)
            .ok());
  // An index outside set(H) is refused before any signature.
  Certificate beyond = CertOf(v, 7, blk.hash, {{0, 0}, {1, 1}, {4, 4}});
  CHECK(VerifyCertificate(beyond, kGenesis.hash, 7, blk.hash, b).message() ==
        "certificate: signer 4 is not a validator (4 validators)");
  // The quorum is of |set(H)|: three signatures are not enough for five validators.
  CHECK_FALSE(VerifyCertificate(with3, kGenesis.hash, 7, blk.hash, SetOf(v, {0, 1, 2, 3, 4})).ok());
  // A set that is not sorted by id is no set.
  CHECK_FALSE(VerifyCertificate(with3, kGenesis.hash, 7, blk.hash, SetOf(v, {1, 0, 2, 3})).ok());
}

namespace {

// Replicas 0..4; set(H) is {0,1,2,3} below `change` and {0,1,2,4} from it: the block at
// change - 2 "executed" the replacement. Each node feeds set(h + 2) after applying h.
struct ReplaceNet {
  explicit ReplaceNet(uint64_t change_at) : v(5), change(change_at) {
    for (ReplicaId i = 0; i < 5; ++i) nodes.push_back(std::make_unique<Node>());
    for (ReplicaId i = 0; i < 5; ++i) Open(i);
  }
  std::vector<ReplicaId> Members(uint64_t h) const {
    return h < change ? std::vector<ReplicaId>{0, 1, 2, 3} : std::vector<ReplicaId>{0, 1, 2, 4};
  }
  void Open(ReplicaId i) {
    Node& n = *nodes[i];
    BftConfig cfg = Config(i, 5);
    uint64_t applied = n.chain.empty() ? 0 : n.chain.back().height;
    for (uint64_t h : {applied + 1, applied + 2}) cfg.validators[h] = SetOf(v, Members(h));
    DurableState d;
    d.hard_state = n.hard_state;
    for (const auto& [k, data] : n.records) d.records.push_back(LogRecord{k, data});
    BlockRef tip = n.chain.empty() ? kGenesis : BlockRef{applied, n.chain.back().hash};
    auto e = BftEngine::Open(cfg, v.signers[i], *v.verifier, n.val, d, tip);
    REQUIRE(e.ok());
    n.engine = std::move(*e);
  }
  void Pump() {
    for (bool again = true; again;) {
      again = false;
      for (ReplicaId i = 0; i < nodes.size(); ++i) {
        Node& n = *nodes[i];
        while (n.engine->HasReady()) {
          again = true;
          Ready rd = n.engine->TakeReady();
          if (rd.hard_state) n.hard_state = *rd.hard_state;
          for (const LogRecord& r : rd.append) n.records[r.index] = r.data;
          if (rd.discard_through) {
            n.records.erase(n.records.begin(), n.records.upper_bound(*rd.discard_through));
          }
          for (const OutboundMessage& m : rd.messages) {
            REQUIRE(m.to < nodes.size());
            Message msg = *DecodeMessage(m.payload);
            if (const auto* x = std::get_if<Vote>(&msg)) {
              // Own votes (by signature): only for heights whose set this replica is in.
              bool own = v.verifier->Verify(i, VoteSignBytes(kGenesis.hash, *x), x->sig);
              if (own) {
                auto members = Members(x->height);
                CHECK(std::find(members.begin(), members.end(), i) != members.end());
              }
            }
            queue.push_back({i, m.to, m.payload});
          }
          for (const Block& b : rd.committed) {
            Certificate cert = *Certificate::Decode(b.certificate);
            INFO("block " << b.height << " at replica " << i);
            CHECK(VerifyCertificate(cert, kGenesis.hash, b.height, b.hash,
                                    SetOf(v, Members(b.height)))
                      .ok());
            n.chain.push_back(b);
            n.val.applied = BlockRef{b.height, b.hash};
            // The node learns set(h + 2) by applying h, and tells the engine before Advance.
            REQUIRE(n.engine->SetValidators(b.height + 2, SetOf(v, Members(b.height + 2))).ok());
          }
          n.engine->Advance();
        }
        if (auto slot = n.engine->ProposalWanted()) {
          again = true;
          std::string tag = "by " + std::to_string(i) + " r" + std::to_string(n.engine->round());
          REQUIRE(n.engine->Propose(MakeBlock(slot->parent.height + 1, tag)).ok());
        }
      }
    }
  }
  bool RunUntil(const std::function<bool()>& done, int max_ticks) {
    for (int t = 0; t <= max_ticks; ++t) {
      Pump();
      while (!queue.empty()) {
        auto [from, to, payload] = std::move(queue.front());
        queue.pop_front();
        Status s = nodes[to]->engine->Step(from, payload);
        INFO("replica " << to << " from " << from);
        CHECK(s.ok());
        Pump();
        if (done()) return true;
      }
      if (done()) return true;
      BlockSync();
      for (auto& n : nodes) n->engine->Tick();
    }
    return false;
  }
  // What the node's block sync does for a replica that nobody sends the heights it misses (a
  // validator not yet in the set, or removed): fetch the blocks, feed set(tip + 1) and
  // set(tip + 2), and tell the engine.
  void BlockSync() {
    for (auto& n : nodes) {
      const Node* best = n.get();
      for (auto& o : nodes) {
        if (o->chain.size() > best->chain.size()) best = o.get();
      }
      if (best->chain.size() < n->chain.size() + 2) continue;
      n->chain = best->chain;
      const Block& tip = n->chain.back();
      n->val.applied = BlockRef{tip.height, tip.hash};
      for (uint64_t h : {tip.height + 1, tip.height + 2}) {
        REQUIRE(n->engine->SetValidators(h, SetOf(v, Members(h))).ok());
      }
      REQUIRE(n->engine->SyncCompleted(n->val.applied).ok());
      ++syncs;
    }
  }

  struct Node {
    std::unique_ptr<BftEngine> engine;
    TestValidator val;
    std::optional<Bytes> hard_state;
    std::map<uint64_t, Bytes> records;
    std::vector<Block> chain;
  };
  Validators v;
  uint64_t change;
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<std::tuple<ReplicaId, ReplicaId, Bytes>> queue;
  int syncs = 0;
};

}  // namespace

TEST_CASE(
    "bft membership: a network that replaces a validator keeps deciding, with quorum, proposer "
    "and votes of set(H)",
    "[consensus][bft][membership]") {
  ReplaceNet net(/*change_at=*/4);
  auto all_have = [&](size_t h) {
    return [&net, h] {
      for (ReplicaId i : {0, 1, 2, 4}) {
        if (net.nodes[i]->chain.size() < h) return false;
      }
      return true;
    };
  };
  REQUIRE(net.RunUntil(all_have(9), 300));
  // The joiner caught up by block sync, then decided from its first height on.
  CHECK(net.syncs > 0);
  for (ReplicaId i : {0, 1, 2, 4}) {
    const auto& chain = net.nodes[i]->chain;
    for (size_t k = 0; k < chain.size(); ++k) {
      CHECK(chain[k].hash == net.nodes[0]->chain[k].hash);
      const uint64_t h = chain[k].height;
      // Round 0 everywhere on a clean network: the proposer is set(H)[(H + 0) mod 4].
      ReplicaId proposer = net.Members(h)[h % 4];
      CHECK(AsString(chain[k].data).find("by " + std::to_string(proposer) + " r0") !=
            std::string::npos);
    }
    CHECK(net.nodes[i]->val.violations == 0);
  }
  const BftEngine& e = *net.nodes[0]->engine;
  EngineStatus s = e.GetStatus();
  CHECK(s.leader == net.Members(e.height())[ProposerOf(e.height(), e.round(), 4)]);
  CHECK(e.validators().size() == 4);
  CHECK_FALSE(net.nodes[3]->engine->own_index().has_value());  // removed: follows, never votes
  CHECK(net.nodes[4]->engine->own_index() == 3u);

  // A restart is given the schedule again and carries on.
  net.Open(4);
  net.Open(1);
  size_t before = net.nodes[0]->chain.size();
  REQUIRE(net.RunUntil(all_have(before + 2), 300));
}

TEST_CASE(
    "bft membership: votes outside set(H) are refused before their signature, and a removed "
    "validator's votes do not count",
    "[consensus][bft][membership]") {
  Validators v(5);
  TestValidator val;
  BlockRef applied{2, MakeBlock(2, "two").hash};
  val.applied = applied;
  BftConfig cfg = Config(0, 5);
  cfg.validators = {{3, SetOf(v, {0, 1, 2, 4})}};  // one entry covers heights 3 and 4
  auto opened = BftEngine::Open(cfg, v.signers[0], *v.verifier, val, DurableState{}, applied);
  REQUIRE(opened.ok());
  BftEngine& e = **opened;
  CHECK(e.height() == 3);
  CHECK(e.own_index() == 0u);
  // (3 + 0) mod 4 = index 3, which is member 4 now.
  CHECK(e.GetStatus().leader == 4);

  Block b3 = MakeBlock(3, "three");
  // Validator 3, removed, signs under its old index 3 (member 4's now): a bad signature.
  Vote zombie = Signed(v, 3, VoteType::kPrecommit, 3, 0, b3.hash, 3);
  CHECK(e.StepMessage(4, zombie).message().find("invalid signature") != std::string::npos);
  // An index outside set(3): refused unverified.
  Vote beyond = Signed(v, 4, VoteType::kPrecommit, 3, 0, b3.hash, 4);
  CHECK(e.StepMessage(4, beyond).message().find("unknown voter") != std::string::npos);
  // The removed validator as a sender: outside every set held, dropped unread.
  CHECK(e.StepMessage(3, Signed(v, 3, VoteType::kPrecommit, 3, 0, b3.hash, 3)).ok());
  CHECK(e.buffered_messages() == 0);

  // The set of the height being decided cannot change; the same set again is fine.
  CHECK_FALSE(e.SetValidators(3, SetOf(v, {0, 1, 2, 3})).ok());
  CHECK(e.SetValidators(3, SetOf(v, {0, 1, 2, 4})).ok());
  CHECK_FALSE(e.SetValidators(5, SetOf(v, {2, 1})).ok());
  CHECK_FALSE(e.SetValidators(5, {}).ok());

  // A quorum of set(3) decides: the proposal of member 4 (index 3), precommits of 1, 2, 4.
  Proposal p;
  p.height = 3;
  p.round = 0;
  p.block = b3;
  p.proposer = 3;
  p.sig = v.signers[4].Sign(ProposalSignBytes(kGenesis.hash, p));
  REQUIRE(e.StepMessage(4, p).ok());
  for (auto [index, signer] : {std::pair<uint32_t, ReplicaId>{1, 1}, {2, 2}, {3, 4}}) {
    REQUIRE(
        e.StepMessage(signer, Signed(v, signer, VoteType::kPrecommit, 3, 0, b3.hash, index)).ok());
  }
  REQUIRE(e.HasReady());
  Ready rd = e.TakeReady();
  REQUIRE(rd.committed.size() == 1);
  Certificate cert = *Certificate::Decode(rd.committed[0].certificate);
  CHECK(VerifyCertificate(cert, kGenesis.hash, 3, b3.hash, SetOf(v, {0, 1, 2, 4})).ok());
  CHECK_FALSE(VerifyCertificate(cert, kGenesis.hash, 3, b3.hash, SetOf(v, {0, 1, 2, 3})).ok());
}

TEST_CASE("bft membership: a restart needs the schedule of applied + 1 and keeps own votes",
          "[consensus][bft][membership]") {
  Validators v(5);
  BftConfig cfg = Config(0, 5);
  cfg.validators = {{1, SetOf(v, {0, 1, 2, 4})}};
  Replica r(v, cfg);
  // Member 1 (index (1 + 0) mod 4 = 1) proposes height 1 round 0; replica 0 prevotes it.
  Block b1 = MakeBlock(1, "one");
  Proposal p;
  p.height = 1;
  p.block = b1;
  p.proposer = 1;
  p.sig = v.signers[1].Sign(ProposalSignBytes(kGenesis.hash, p));
  REQUIRE(r.Step(1, p).ok());
  r.Drain();
  HardState hs = *DecodeHardState(*r.hard_state);
  REQUIRE(hs.votes.size() == 1);
  CHECK(hs.votes[0].block == b1.hash);
  // Reopened with the same schedule: the prevote is back.
  r.Open();
  CHECK(r.engine->hard_state() == hs);
  // Without a set for applied + 1, or with one this replica is not in while it holds votes.
  BftConfig none = cfg;
  none.validators = {{5, SetOf(v, {0, 1, 2, 4})}};
  CHECK_FALSE(BftEngine::Open(none, r.signer, r.verifier, r.validator,
                              DurableState{r.hard_state, {}}, kGenesis)
                  .ok());
  BftConfig outside = cfg;
  outside.validators = {{1, SetOf(v, {1, 2, 3, 4})}};
  DurableState d;
  d.hard_state = r.hard_state;
  for (const auto& [i, data] : r.records) d.records.push_back(LogRecord{i, data});
  auto refused = BftEngine::Open(outside, r.signer, r.verifier, r.validator, d, kGenesis);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("not a validator") != std::string::npos);
}

}  // namespace cairn::consensus::bft
