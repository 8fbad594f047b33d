#include "tests/consensus/raft_cluster.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>

namespace cairn::consensus::test {

Block TestBlock(const BlockRef& parent, const std::string& payload) {
  Block b;
  b.height = parent.height + 1;
  b.data.assign(parent.hash.view().begin(), parent.hash.view().end());
  Bytes p(payload.begin(), payload.end());
  b.data.insert(b.data.end(), p.begin(), p.end());
  b.hash = crypto::Sha256Of(b.data);
  return b;
}

RaftCluster::RaftCluster(const ClusterOptions& o) : opts_(o), nodes_(o.replicas) {
  for (ReplicaId i = 0; i < o.replicas; ++i) {
    nodes_[i].tip = sim::SimGenesis();
    REQUIRE(Restart(i).ok());
  }
}

namespace {

// The change a block's payload (after the 32-byte parent hash) carries, applied to `m`;
// nullopt for a block that changes nothing.
std::optional<raft::Membership> ChangeOf(const Block& b, raft::Membership m) {
  std::string payload(b.data.begin() + 32, b.data.end());
  bool add = payload.rfind("add:", 0) == 0;
  bool remove = payload.rfind("remove:", 0) == 0;
  if (!add && !remove) return std::nullopt;
  ReplicaId id = static_cast<ReplicaId>(std::stoul(payload.substr(add ? 4 : 7)));
  auto at = std::lower_bound(m.members.begin(), m.members.end(), id);
  if (add && (at == m.members.end() || *at != id)) {
    m.members.insert(at, id);
    m.next_id = std::max(m.next_id, id + 1);
  } else if (remove && at != m.members.end() && *at == id) {
    m.members.erase(at);
  }
  return m;
}

}  // namespace

raft::Membership RaftCluster::SetOf(ReplicaId i) const {
  raft::Membership m;
  for (ReplicaId r = 0; r < opts_.genesis_voters; ++r) m.members.push_back(r);
  m.next_id = opts_.genesis_voters;
  for (const Block& b : nodes_[i].ledger) {
    if (auto next = ChangeOf(b, m)) m = *next;
  }
  return m;
}

raft::RaftConfig RaftCluster::ConfigFor(ReplicaId i) {
  raft::RaftConfig c;
  c.id = i;
  c.replicas = opts_.replicas;
  if (opts_.genesis_voters > 0) {
    c.replicas = opts_.genesis_voters;
    c.membership = SetOf(i);
  }
  c.genesis = sim::SimGenesis();
  c.pre_vote = opts_.pre_vote;
  c.check_quorum = opts_.check_quorum;
  c.election_ticks = opts_.election_ticks;
  c.max_uncommitted_blocks = opts_.max_uncommitted_blocks;
  c.max_msg_bytes = opts_.max_msg_bytes;
  c.seed = opts_.seed * 1000 + (++starts_);
  return c;
}

Status RaftCluster::Restart(ReplicaId i) {
  Node& n = nodes_[i];
  auto opened = raft::RaftEngine::Open(ConfigFor(i), n.disk.ToDurable(), n.tip);
  if (!opened) return opened.status();
  n.engine = std::move(*opened);
  Process(i);
  return Status::Ok();
}

void RaftCluster::Process(ReplicaId i) {
  Node& n = nodes_[i];
  while (n.engine && n.engine->HasReady()) {
    Ready rd = n.engine->TakeReady();
    sim::Disk& d = n.disk;
    if (rd.hard_state) d.hard_state = *rd.hard_state;
    if (rd.truncate_from)
      d.records.erase(d.records.lower_bound(*rd.truncate_from), d.records.end());
    for (const LogRecord& rec : rd.append) d.records[rec.index] = rec.data;
    if (rd.discard_through) {
      d.records.erase(d.records.begin(), d.records.upper_bound(*rd.discard_through));
    }
    for (const OutboundMessage& m : rd.messages) {
      Result<raft::Message> decoded = raft::DecodeMessage(m.payload);
      REQUIRE(decoded.ok());
      queue_.push_back(Envelope{i, m.to, std::move(*decoded)});
    }
    for (const Block& b : rd.committed) {
      REQUIRE(b.height == n.tip.height + 1);
      std::optional<raft::Membership> changed;
      if (opts_.genesis_voters > 0) changed = ChangeOf(b, SetOf(i));
      n.ledger.push_back(b);
      n.tip = BlockRef{b.height, b.hash};
      if (changed) REQUIRE(n.engine->ApplyConfig(*changed, b.height).ok());
    }
    n.engine->Advance();
    if (rd.sync_to) {
      // Block sync: copy the missing blocks from a ledger that has them.
      const Node* source = nullptr;
      for (const Node& other : nodes_) {
        if (other.tip.height >= rd.sync_to->height) source = &other;
      }
      REQUIRE(source != nullptr);
      while (n.tip.height < rd.sync_to->height) {
        const Block& b = source->ledger[n.tip.height];  // ledger[k] has height k + 1
        n.ledger.push_back(b);
        n.tip = BlockRef{b.height, b.hash};
      }
      REQUIRE(n.engine->SyncCompleted(n.tip).ok());
      if (opts_.genesis_voters > 0) REQUIRE(n.engine->ApplyConfig(SetOf(i), n.tip.height).ok());
      ++syncs_;
    }
  }
}

void RaftCluster::Tick(ReplicaId i) {
  if (!up(i)) return;
  nodes_[i].engine->Tick();
  Process(i);
}

void RaftCluster::TickAll() {
  for (ReplicaId i = 0; i < opts_.replicas; ++i) Tick(i);
}

void RaftCluster::Campaign(ReplicaId i) {
  uint64_t term = node(i).term();
  Role role = node(i).role();
  for (uint32_t t = 0; t < 2 * opts_.election_ticks; ++t) {
    Tick(i);
    if (node(i).term() != term || node(i).role() != role) break;
  }
  REQUIRE((node(i).term() != term || node(i).role() != role));
  Stabilize();
}

void RaftCluster::Stabilize() {
  for (int round = 0; round < 10000 && !queue_.empty(); ++round) {
    std::vector<Envelope> batch;
    batch.swap(queue_);
    for (Envelope& e : batch) {
      if (!up(e.to) || cut_.count({e.from, e.to}) || (drop && drop(e))) continue;
      delivered_.push_back(e);
      Status s = nodes_[e.to].engine->StepMessage(e.from, e.msg);
      INFO(s.message());
      REQUIRE(s.ok());
      Process(e.to);
    }
  }
  REQUIRE(queue_.empty());
}

Status RaftCluster::Propose(ReplicaId i, const std::string& payload) {
  raft::RaftEngine& e = node(i);
  std::optional<ProposalSlot> slot = e.ProposalWanted();
  BlockRef parent = slot ? slot->parent : e.log().BlockAt(e.log().last_index());
  Status s = e.Propose(TestBlock(parent, payload));
  Process(i);
  return s;
}

Status RaftCluster::ProposeChange(ReplicaId i, const std::string& change) {
  raft::RaftEngine& e = node(i);
  std::optional<ProposalSlot> slot = e.ProposalWanted();
  BlockRef parent = slot ? slot->parent : e.log().BlockAt(e.log().last_index());
  Status s = e.ProposeBlock(TestBlock(parent, change), /*changes_config=*/true);
  Process(i);
  return s;
}

void RaftCluster::Isolate(ReplicaId i) {
  for (ReplicaId j = 0; j < opts_.replicas; ++j) {
    if (j != i) Cut(i, j);
  }
}

void RaftCluster::Cut(ReplicaId a, ReplicaId b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

ReplicaId RaftCluster::Leader() const {
  ReplicaId leader = kNoReplica;
  for (const Node& n : nodes_) {
    if (!n.engine) continue;
    if (n.engine->role() == Role::kLeader) {
      if (leader != kNoReplica) return kNoReplica;
      leader = n.engine->config().id;
    }
  }
  return leader;
}

}  // namespace cairn::consensus::test
