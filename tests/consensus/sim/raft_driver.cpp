#include "tests/consensus/sim/raft_driver.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "consensus/raft/raft.h"
#include "consensus/rng.h"
#include "consensus/solo/solo.h"

namespace cairn::consensus::sim {
namespace {

using raft::DecodeEntry;
using raft::DecodeHardState;
using raft::RaftEngine;

std::string Id(ReplicaId r) { return r == kNoReplica ? "none" : std::to_string(r); }

class RaftChecker final : public Checker {
 public:
  explicit RaftChecker(uint32_t replicas) : nodes_(replicas) {}

  std::string OnPersist(ReplicaId id, const Ready& rd, const Disk&, const BlockRef&) override {
    NodeState& n = nodes_[id];
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
    const auto* r = dynamic_cast<const RaftEngine*>(&engine);
    if (!r) return "checker: not a raft engine";
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
};

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
      break;
  }
  return s;
}

}  // namespace

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
  d.make_checker = [](const SimConfig& cfg, Counters*) {
    return std::make_unique<RaftChecker>(cfg.replicas);
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
