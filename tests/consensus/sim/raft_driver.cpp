#include "tests/consensus/sim/raft_driver.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "base/codec.h"
#include "consensus/raft/raft.h"
#include "consensus/rng.h"
#include "consensus/solo/solo.h"

namespace cairn::consensus::sim {
namespace {

using raft::DecodeEntry;
using raft::DecodeHardState;
using raft::RaftEngine;

std::string Id(ReplicaId r) { return r == kNoReplica ? "none" : std::to_string(r); }

std::string Ids(const std::vector<ReplicaId>& ids) {
  std::string s = "{";
  for (ReplicaId r : ids) s += (s.size() > 1 ? "," : "") + std::to_string(r);
  return s + "}";
}

const RaftEngine* AsRaft(const Engine& e);

// Membership runs: the genesis voters are 0..kGenesisVoters-1, the other replicas of the
// simulation join (and members leave) through blocks whose nonce carries a change, as a
// governance transaction would.
constexpr uint32_t kGenesisVoters = 3;
constexpr uint64_t kChangeMagic = 0xC0DEull << 48;
enum class ChangeOp : uint8_t { kNone = 0, kAdd = 1, kRemove = 2 };

std::pair<ChangeOp, ReplicaId> DecodeChange(const Bytes& data) {
  codec::Reader r(data, "sim block");
  crypto::Hash256 parent;
  uint64_t height = 0, nonce = 0;
  uint32_t proposer = 0;
  r.Fixed(&parent, "parent");
  r.U64(&height, "height");
  r.U32(&proposer, "proposer");
  r.U64(&nonce, "nonce");
  if (!r.ok() || (nonce & (0xFFFFull << 48)) != kChangeMagic) return {ChangeOp::kNone, 0};
  auto op = static_cast<ChangeOp>((nonce >> 32) & 0xFF);
  if (op != ChangeOp::kAdd && op != ChangeOp::kRemove) return {ChangeOp::kNone, 0};
  return {op, static_cast<ReplicaId>(nonce & 0xFFFFFFFF)};
}

raft::Membership ApplyChange(raft::Membership m, ChangeOp op, ReplicaId id) {
  std::vector<ReplicaId>& v = m.members;
  auto at = std::lower_bound(v.begin(), v.end(), id);
  if (op == ChangeOp::kAdd && (at == v.end() || *at != id)) {
    v.insert(at, id);
    m.next_id = std::max(m.next_id, id + 1);
  } else if (op == ChangeOp::kRemove && at != v.end() && *at == id) {
    v.erase(at);
  }
  return m;
}

raft::Membership GenesisMembership() {
  raft::Membership m;
  for (ReplicaId r = 0; r < kGenesisVoters; ++r) m.members.push_back(r);
  m.next_id = kGenesisVoters;
  return m;
}

class RaftChecker final : public Checker {
 public:
  RaftChecker(uint32_t replicas, Counters* counters) : nodes_(replicas), counters_(counters) {}

  // ---- Membership runs: shared state the replicas' wrappers report to. ----
  // The member set after block `height` (the node's state), as the first replica to apply
  // it computed it; every later replica must compute the same.
  void RecordSet(ReplicaId id, uint64_t height, const raft::Membership& m) {
    auto [it, inserted] = sets_.emplace(height, m);
    if (!inserted && it->second != m && pending_failure_.empty()) {
      pending_failure_ = "config agreement: replica " + Id(id) + " has members " + Ids(m.members) +
                         " after block " + std::to_string(height) + " where another has " +
                         Ids(it->second.members);
    }
  }
  void Fail(const std::string& what) {
    if (pending_failure_.empty()) pending_failure_ = what;
  }
  raft::Membership SetAt(uint64_t height) const {
    auto it = sets_.upper_bound(height);
    if (it == sets_.begin()) return GenesisMembership();
    return std::prev(it)->second;
  }
  void MarkRemoved(ReplicaId id) { removed_.insert(id); }
  // The member set after the highest block anyone applied.
  raft::Membership Latest() const {
    return sets_.empty() ? GenesisMembership() : sets_.rbegin()->second;
  }

  std::string OnPersist(ReplicaId id, const Ready& rd, const Disk&, const BlockRef&) override {
    NodeState& n = nodes_[id];
    if (removed_.count(id)) {
      // After applying its own removal a replica answers nothing: no vote, no
      // acknowledgement, no campaign. A leader's last messages (entries, TimeoutNow) are fine.
      for (const OutboundMessage& out : rd.messages) {
        Result<raft::Message> m = raft::DecodeMessage(out.payload);
        if (!m) return "persist: " + m.error();
        using raft::MsgType;
        if (m->type == MsgType::kTimeoutNow) ++(*counters_)["leadership transfers"];
        if (m->type != MsgType::kApp && m->type != MsgType::kHeartbeat &&
            m->type != MsgType::kSnapshot && m->type != MsgType::kTimeoutNow) {
          return "removed replica: replica " + Id(id) + " applied its removal and still sends " +
                 std::string(raft::MsgTypeName(m->type)) + " to " + Id(out.to);
        }
      }
    }
    if (rd.hard_state) {
      Result<raft::HardState> hs = DecodeHardState(*rd.hard_state);
      if (!hs) return "persist: " + hs.error();
      if (hs->term < n.hs.term) {
        return "durability: replica " + Id(id) + " persisted term " + std::to_string(hs->term) +
               " after term " + std::to_string(n.hs.term);
      }
      if (hs->term == n.hs.term && n.hs.vote != kNoReplica && hs->vote != n.hs.vote) {
        return "election safety: replica " + Id(id) + " voted for " + Id(n.hs.vote) + " and " +
               Id(hs->vote) + " in term " + std::to_string(hs->term);
      }
      n.hs = *hs;
      if (hs->vote != kNoReplica) votes_[{id, hs->term}] = hs->vote;
      max_term_ = std::max(max_term_, hs->term);
    }
    if (rd.truncate_from) n.terms.erase(n.terms.lower_bound(*rd.truncate_from), n.terms.end());
    for (const LogRecord& rec : rd.append) {
      Result<raft::Entry> e = DecodeEntry(rec.data, rec.index);
      if (!e) return "persist: " + e.error();
      uint64_t prev_term;
      if (auto it = n.terms.find(rec.index - 1); it != n.terms.end()) {
        prev_term = it->second;
      } else if (rec.index - 1 == n.hs.base.index) {
        prev_term = n.hs.base.term;
      } else {
        return "log matching: replica " + Id(id) + " persisted entry " + Id(rec.index) +
               " without entry " + std::to_string(rec.index - 1);
      }
      // Log Matching by induction: the same (index, term) must mean the same entry and
      // the same term before it, on every replica, forever.
      Seen seen{crypto::Sha256Of(rec.data), prev_term, id};
      auto [it, inserted] = seen_.emplace(std::make_pair(rec.index, e->term), seen);
      if (!inserted && (it->second.digest != seen.digest || it->second.prev_term != prev_term)) {
        return "log matching: replicas " + Id(it->second.replica) + " and " + Id(id) +
               " hold different entries (or histories) at index " + std::to_string(rec.index) +
               " term " + std::to_string(e->term);
      }
      n.terms[rec.index] = e->term;
    }
    if (rd.discard_through) {
      n.terms.erase(n.terms.begin(), n.terms.upper_bound(*rd.discard_through));
    }
    return "";
  }

  std::string AfterEvent(ReplicaId id, const Engine& engine,
                         const std::vector<BlockRef>& chain) override {
    if (!pending_failure_.empty()) return pending_failure_;
    const RaftEngine* r = AsRaft(engine);
    if (!r) return "checker: not a raft engine";
    if (r->conf_index() != 0) {
      // Every replica applies the same configs at the same log indices.
      auto [it, inserted] = confs_.emplace(r->conf_index(), r->conf());
      if (inserted) {
        ++(*counters_)[r->conf().learners.empty() ? "configs without learners"
                                                  : "configs with a learner"];
      }
      if (!inserted && it->second != r->conf()) {
        return "config agreement: replica " + Id(id) + " applied voters " + Ids(r->conf().voters) +
               " learners " + Ids(r->conf().learners) + " at index " +
               std::to_string(r->conf_index()) + " where another applied voters " +
               Ids(it->second.voters) + " learners " + Ids(it->second.learners);
      }
    }
    // A block committed while the highest term anyone had reached was M must be in the
    // log of every leader of a term above M (Leader Completeness).
    while (chain_max_term_.size() < chain.size()) chain_max_term_.push_back(max_term_);
    max_term_ = std::max(max_term_, r->term());
    NodeState& n = nodes_[id];
    const raft::RaftLog& log = r->log();
    // State Machine Safety at the log level: a committed index holds the same entry (same
    // term, by Log Matching) on every replica that ever commits it.
    uint64_t commit = r->commit_index();
    for (uint64_t i = std::max(n.checked_commit + 1, log.first_index()); i <= commit; ++i) {
      if (std::string bad = Committed(id, i, *log.Term(i)); !bad.empty()) return bad;
    }
    n.checked_commit = std::max(n.checked_commit, commit);
    if (commit >= log.first_index()) {
      if (std::string bad = Committed(id, commit, *log.Term(commit)); !bad.empty()) return bad;
    }
    if (r->role() != Role::kLeader) return "";
    if (n.leader_term != r->term()) {
      n.leader_term = r->term();
      // The votes that won: each from a voter of the winner's applied config (never a
      // learner, never a replica that applied its removal: those send no grants), enough
      // of them, and each a vote that voter persisted for the winner in this term.
      const raft::ConfState& conf = r->conf();
      const std::vector<ReplicaId>& won = r->won_with();
      if (won.size() < conf.voters.size() / 2 + 1) {
        return "quorum: replica " + Id(id) + " leads term " + std::to_string(r->term()) +
               " with votes " + Ids(won) + " of voters " + Ids(conf.voters);
      }
      for (ReplicaId w : won) {
        if (!std::binary_search(conf.voters.begin(), conf.voters.end(), w)) {
          return "learners never vote: replica " + Id(id) + " counted the vote of " + Id(w) +
                 " in term " + std::to_string(r->term()) + ", not among its voters " +
                 Ids(conf.voters);
        }
        if (w == id) continue;
        auto v = votes_.find({w, r->term()});
        if (v == votes_.end() || v->second != id) {
          return "election safety: replica " + Id(id) + " counted a vote of " + Id(w) +
                 " in term " + std::to_string(r->term()) + " that " + Id(w) + " never persisted";
        }
      }
      uint64_t genesis = chain.front().height;
      for (size_t k = 1; k < chain.size(); ++k) {
        if (chain_max_term_[k] >= r->term()) break;
        uint64_t h = genesis + k;
        if (h <= log.base().block.height) continue;
        if (h > log.last_height() ||
            log.BlockAt(log.LastIndexWithHeight(h, log.last_index())) != chain[k]) {
          return "leader completeness: replica " + Id(id) + " leads term " +
                 std::to_string(r->term()) + " without committed block " + std::to_string(h);
        }
      }
    } else if (log.last_index() < n.leader_last_index ||
               (n.leader_last_index >= log.base().index &&
                log.Term(n.leader_last_index) != n.leader_last_term)) {
      return "leader append-only: replica " + Id(id) + " changed its log at index " +
             std::to_string(n.leader_last_index) + " while leading term " +
             std::to_string(r->term());
    }
    n.leader_last_index = log.last_index();
    n.leader_last_term = log.last_term();
    return "";
  }

 private:
  std::string Committed(ReplicaId id, uint64_t index, uint64_t term) {
    auto [it, inserted] = committed_.emplace(index, std::make_pair(term, id));
    if (inserted || it->second.first == term) return "";
    return "state machine safety: replica " + Id(id) + " has committed term " +
           std::to_string(term) + " at index " + std::to_string(index) + " where replica " +
           Id(it->second.second) + " committed term " + std::to_string(it->second.first);
  }

  struct Seen {
    crypto::Hash256 digest;
    uint64_t prev_term;
    ReplicaId replica;
  };
  struct NodeState {
    raft::HardState hs;                  // as persisted
    std::map<uint64_t, uint64_t> terms;  // persisted entries: index -> term
    uint64_t leader_term = 0;
    uint64_t leader_last_index = 0;
    uint64_t leader_last_term = 0;
    uint64_t checked_commit = 0;
  };
  std::vector<NodeState> nodes_;
  std::map<std::pair<uint64_t, uint64_t>, Seen> seen_;
  std::map<uint64_t, std::pair<uint64_t, ReplicaId>> committed_;  // index -> (term, who)
  std::vector<uint64_t> chain_max_term_;
  uint64_t max_term_ = 0;
  // Membership runs.
  std::map<uint64_t, raft::Membership> sets_;                  // height -> set after it
  std::map<uint64_t, raft::ConfState> confs_;                  // conf index -> config
  std::map<std::pair<ReplicaId, uint64_t>, ReplicaId> votes_;  // (replica, term) -> vote
  std::set<ReplicaId> removed_;
  std::string pending_failure_;
  Counters* counters_;
};

// A replica of a membership run: the Raft engine plus what the node would do around it:
// execute each applied block's change and report the new member set (ApplyConfig), and,
// as leader, sometimes turn a proposal into a change (add the next replica while there are
// at most 3 voters and no learner; remove the leader itself or another voter while there
// are 4), the way an admin quorum's governance transaction would.
class MemberRaft final : public Engine {
 public:
  MemberRaft(std::unique_ptr<RaftEngine> inner, RaftChecker* checker, Counters* counters,
             uint32_t slots, raft::Membership set, uint64_t seed)
      : inner_(std::move(inner)),
        checker_(checker),
        counters_(counters),
        slots_(slots),
        set_(std::move(set)),
        rng_(seed) {
    if (inner_->removed()) checker_->MarkRemoved(inner_->config().id);
  }

  const RaftEngine& inner() const { return *inner_; }
  // Not a member of the newest committed set: not added yet, or removed (a removed replica
  // need not ever learn it: the leader stops sending to it once it applied the removal).
  bool Outside() const {
    const auto& m = checker_->Latest().members;
    return !std::binary_search(m.begin(), m.end(), inner_->config().id);
  }

  void Tick() override { inner_->Tick(); }
  Status Step(ReplicaId from, ByteView message) override { return inner_->Step(from, message); }
  std::optional<ProposalSlot> ProposalWanted() const override { return inner_->ProposalWanted(); }
  Status Propose(Block block) override {
    auto [op, who] = ChooseChange();
    if (op == ChangeOp::kNone) return inner_->Propose(std::move(block));
    std::optional<BlockRef> parent = BlockParent(block);
    if (!parent) return Status::Error("sim: malformed proposal");
    uint64_t nonce = kChangeMagic | (uint64_t{static_cast<uint8_t>(op)} << 32) | who;
    Block changed = MakeBlock(*parent, inner_->config().id, nonce);
    ++(*counters_)[op == ChangeOp::kAdd ? "members added" : "members removed"];
    if (op == ChangeOp::kRemove && who == inner_->config().id) ++(*counters_)["leaders removed"];
    return inner_->ProposeBlock(std::move(changed), /*changes_config=*/true);
  }
  Status SyncCompleted(const BlockRef& tip) override {
    if (Status s = inner_->SyncCompleted(tip); !s.ok()) return s;
    // Block sync executed the blocks up to tip: the node reports the set it ends with.
    set_ = checker_->SetAt(tip.height);
    if (Status s = inner_->ApplyConfig(set_, tip.height); !s.ok()) return s;
    if (inner_->removed()) checker_->MarkRemoved(inner_->config().id);
    return Status::Ok();
  }
  Status Compact(uint64_t height) override { return inner_->Compact(height); }
  bool HasReady() const override { return inner_->HasReady(); }
  Ready TakeReady() override {
    Ready rd = inner_->TakeReady();
    applying_ = rd.committed;
    return rd;
  }
  void Advance() override {
    // The node executed each block: a change-carrying one changes the member set.
    for (const Block& b : applying_) {
      auto [op, who] = DecodeChange(b.data);
      if (op != ChangeOp::kNone) {
        set_ = ApplyChange(set_, op, who);
        if (Status s = inner_->ApplyConfig(set_, b.height); !s.ok()) {
          checker_->Fail("apply config: replica " + Id(inner_->config().id) + ": " + s.message());
        }
      }
      checker_->RecordSet(inner_->config().id, b.height, set_);
    }
    applying_.clear();
    inner_->Advance();
    if (inner_->removed()) checker_->MarkRemoved(inner_->config().id);
    if (inner_->conf().voters.size() >= 4) ++(*counters_)["events with 4 voters"];
  }
  EngineStatus GetStatus() const override { return inner_->GetStatus(); }

 private:
  std::pair<ChangeOp, ReplicaId> ChooseChange() {
    if (!rng_.Chance(1, 4)) return {ChangeOp::kNone, 0};
    const raft::ConfState& c = inner_->conf();
    if (!c.learners.empty()) return {ChangeOp::kNone, 0};
    if (set_.next_id < slots_ && c.voters.size() <= 3) return {ChangeOp::kAdd, set_.next_id};
    if (c.voters.size() < 4) return {ChangeOp::kNone, 0};
    ReplicaId self = inner_->config().id;
    if (rng_.Chance(1, 2)) return {ChangeOp::kRemove, self};
    std::vector<ReplicaId> others;
    for (ReplicaId v : c.voters) {
      if (v != self) others.push_back(v);
    }
    return {ChangeOp::kRemove, others[rng_.Uniform(others.size())]};
  }

  std::unique_ptr<RaftEngine> inner_;
  RaftChecker* checker_;
  Counters* counters_;
  uint32_t slots_;
  raft::Membership set_;  // the member set after the last block this replica applied
  Rng rng_;
  std::vector<Block> applying_;
};

const RaftEngine* AsRaft(const Engine& e) {
  if (const auto* m = dynamic_cast<const MemberRaft*>(&e)) return &m->inner();
  return dynamic_cast<const RaftEngine*>(&e);
}

std::string DescribeRaft(ByteView payload) {
  Result<raft::Message> m = raft::DecodeMessage(payload);
  if (!m) return "undecodable: " + m.error();
  std::string s = std::string(raft::MsgTypeName(m->type)) + " term=" + std::to_string(m->term);
  switch (m->type) {
    case raft::MsgType::kApp:
      s += " prev=" + std::to_string(m->index) + "/" + std::to_string(m->log_term) +
           " commit=" + std::to_string(m->commit) + " entries=" + std::to_string(m->entries.size());
      break;
    case raft::MsgType::kAppResp:
      s += " index=" + std::to_string(m->index);
      if (m->reject)
        s += " reject hint=" + std::to_string(m->reject_hint) + "/" + std::to_string(m->hint_term);
      break;
    case raft::MsgType::kVote:
    case raft::MsgType::kPreVote:
      s += " last=" + std::to_string(m->index) + "/" + std::to_string(m->log_term);
      break;
    case raft::MsgType::kVoteResp:
    case raft::MsgType::kPreVoteResp:
      s += m->reject ? " reject" : " grant";
      break;
    case raft::MsgType::kHeartbeat:
      s += " commit=" + std::to_string(m->commit);
      break;
    case raft::MsgType::kSnapshot:
      s += " base=" + std::to_string(m->snapshot.index) +
           " height=" + std::to_string(m->snapshot.block.height);
      break;
    case raft::MsgType::kHeartbeatResp:
    case raft::MsgType::kTimeoutNow:
      break;
  }
  if (m->transfer) s += " transfer";
  for (const raft::Entry& e : m->entries) {
    if (e.type == raft::EntryType::kPromote) s += " promote(" + std::to_string(e.member) + ")";
  }
  return s;
}

raft::RaftConfig ConfigFor(const OpenArgs& a) {
  Rng r(a.run_seed ^ 0x2545f4914f6cdd1dULL);
  raft::RaftConfig c;
  c.id = a.id;
  c.replicas = a.replicas;
  c.genesis = SimGenesis();
  c.seed = a.node_seed;
  c.election_ticks = 10;
  c.heartbeat_ticks = static_cast<uint32_t>(r.Range(1, 2));
  c.pre_vote = r.Chance(9, 10);
  c.check_quorum = r.Chance(9, 10);
  c.max_uncommitted_blocks = static_cast<uint32_t>(r.Range(1, 4));
  c.max_inflight_msgs = static_cast<uint32_t>(r.Range(1, 8));
  c.max_msg_bytes = r.Range(1, 200);  // sim blocks are 52 bytes: 1 to 4 per message
  return c;
}

}  // namespace

EngineDriver RaftMembershipDriver() {
  EngineDriver d;
  d.name = "raft-membership";
  d.open = [](const OpenArgs& a) -> Result<std::unique_ptr<Engine>> {
    auto* checker = dynamic_cast<RaftChecker*>(a.checker);
    if (!checker) return Status::Error("raft-membership: no checker");
    raft::RaftConfig c = ConfigFor(a);
    c.replicas = kGenesisVoters;
    raft::Membership set = checker->SetAt(a.applied.height);
    c.membership = set;
    auto opened = RaftEngine::Open(c, a.durable, a.applied);
    if (!opened) return opened.status();
    return std::unique_ptr<Engine>(std::make_unique<MemberRaft>(
        std::move(*opened), checker, a.counters, a.replicas, std::move(set), a.node_seed ^ 0x5eed));
  };
  d.describe = DescribeRaft;
  d.make_checker = [](const SimConfig& cfg, Counters* counters) {
    return std::make_unique<RaftChecker>(cfg.replicas, counters);
  };
  d.outside = [](const Engine& e) {
    const auto* m = dynamic_cast<const MemberRaft*>(&e);
    return m && m->Outside();
  };
  return d;
}

EngineDriver RaftDriver() {
  EngineDriver d;
  d.name = "raft";
  d.open = [](const OpenArgs& a) -> Result<std::unique_ptr<Engine>> {
    Rng r(a.run_seed ^ 0x2545f4914f6cdd1dULL);
    raft::RaftConfig c;
    c.id = a.id;
    c.replicas = a.replicas;
    c.genesis = SimGenesis();
    c.seed = a.node_seed;
    c.election_ticks = 10;
    c.heartbeat_ticks = static_cast<uint32_t>(r.Range(1, 2));
    c.pre_vote = r.Chance(9, 10);
    c.check_quorum = r.Chance(9, 10);
    c.max_uncommitted_blocks = static_cast<uint32_t>(r.Range(1, 4));
    c.max_inflight_msgs = static_cast<uint32_t>(r.Range(1, 8));
    c.max_msg_bytes = r.Range(1, 200);  // sim blocks are 52 bytes: 1 to 4 per message
    auto opened = RaftEngine::Open(c, a.durable, a.applied);
    if (!opened) return opened.status();
    return std::unique_ptr<Engine>(std::move(*opened));
  };
  d.describe = DescribeRaft;
  d.make_checker = [](const SimConfig& cfg, Counters* counters) {
    return std::make_unique<RaftChecker>(cfg.replicas, counters);
  };
  return d;
}

EngineDriver SoloDriver() {
  EngineDriver d;
  d.name = "solo";
  d.open = [](const OpenArgs& a) -> Result<std::unique_ptr<Engine>> {
    return std::unique_ptr<Engine>(std::make_unique<solo::SoloEngine>(a.applied));
  };
  return d;
}

}  // namespace cairn::consensus::sim
