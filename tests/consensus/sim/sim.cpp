#include "tests/consensus/sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>

#include "base/codec.h"
#include "consensus/rng.h"
#include "crypto/sha256.h"

namespace cairn::consensus::sim {
namespace {

constexpr uint64_t kMaxEvents = 3'000'000;
constexpr size_t kMaxQueued = 200'000;

enum class EventKind : uint8_t { kTick, kDeliver, kChaos, kSyncDone, kHeal, kLedgerSync };

struct Event {
  uint64_t time = 0;
  uint64_t seq = 0;
  EventKind kind = EventKind::kTick;
  ReplicaId node = 0;
  ReplicaId from = 0;
  uint64_t incarnation = 0;
  Bytes payload;
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

struct Node {
  std::unique_ptr<Engine> engine;  // null while crashed
  Disk disk;                       // survives crashes
  std::vector<Block> ledger;       // applied blocks above genesis; survives crashes
  BlockRef tip;
  uint64_t incarnation = 0;
  uint64_t tick_period = kTickUnits;
  std::optional<BlockRef> sync_target;
  bool sync_scheduled = false;
  uint64_t last_commit_height = 0;
  uint64_t nonce = 0;
};

class Simulation {
 public:
  Simulation(const SimConfig& cfg, const EngineDriver& driver, std::vector<std::string>* trace)
      : cfg_(cfg),
        driver_(driver),
        trace_(trace),
        rng_(cfg.seed),
        nodes_(cfg.replicas),
        group_(cfg.replicas, 0),
        cut_(cfg.replicas, std::vector<bool>(cfg.replicas, false)) {
    if (driver_.make_checker) checker_ = driver_.make_checker(cfg, &stats_.counters);
    chain_.push_back(SimGenesis());
  }

  SimResult Run();

 private:
  void Schedule(Event e) {
    e.seq = seq_++;
    queue_.push_back(std::move(e));
    std::push_heap(queue_.begin(), queue_.end(), Later());
  }
  void Fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
  }
  void Trace(const std::string& line) {
    if (trace_) trace_->push_back("t=" + std::to_string(now_) + " " + line);
  }
  std::string Describe(ReplicaId i) const;

  void OpenNode(ReplicaId i);
  void Crash(ReplicaId i, const char* where);
  void Drive(ReplicaId i);
  void ProcessReady(ReplicaId i);
  void Persist(ReplicaId i, const Ready& rd);
  void Send(ReplicaId from, std::vector<OutboundMessage>& msgs);
  bool Apply(ReplicaId i, const Block& b);
  void MaybePropose(ReplicaId i);
  void CheckNode(ReplicaId i);

  void OnTick(ReplicaId i);
  void OnDeliver(Event& e);
  void OnChaos();
  void OnSyncDone(ReplicaId i, uint64_t incarnation);
  void OnLedgerSync(ReplicaId i);
  void Heal();
  bool Connected(ReplicaId from, ReplicaId to) const {
    return group_[from] == group_[to] && !cut_[from][to];
  }
  bool LivenessReached() const;
  bool Honest(ReplicaId i) const { return !cfg_.IsByzantine(i); }

  const SimConfig cfg_;
  const EngineDriver& driver_;
  std::vector<std::string>* trace_;
  Rng rng_;
  std::vector<Node> nodes_;
  std::vector<Event> queue_;
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  std::vector<uint32_t> group_;
  std::vector<std::vector<bool>> cut_;
  bool faulty_ = true;
  uint64_t deadline_ = 0;
  uint64_t liveness_target_ = 0;
  std::vector<BlockRef> chain_;  // chain_[h - genesis height]: the committed block at h
  std::map<uint64_t, ReplicaId> leaders_;
  std::unique_ptr<Checker> checker_;
  std::string failure_;
  SimStats stats_;
};

std::string Simulation::Describe(ReplicaId i) const {
  const Node& n = nodes_[i];
  std::string name = "n" + std::to_string(i) + (Honest(i) ? "" : "(byzantine)");
  if (!n.engine) return name + "[down tip=" + std::to_string(n.tip.height) + "]";
  EngineStatus s = n.engine->GetStatus();
  return name + "[" + std::string(RoleName(s.role)) + " term=" + std::to_string(s.term) +
         " commit=" + std::to_string(s.commit_height) +
         " last=" + std::to_string(s.last_log_height) + " tip=" + std::to_string(n.tip.height) +
         "]";
}

void Simulation::OpenNode(ReplicaId i) {
  Node& n = nodes_[i];
  OpenArgs args;
  args.id = i;
  args.replicas = cfg_.replicas;
  args.durable = n.disk.ToDurable();
  args.applied = n.tip;
  args.run_seed = cfg_.seed;
  args.node_seed = rng_.Fork();
  args.byzantine = i < cfg_.byzantine.size() ? cfg_.byzantine[i] : 0;
  args.checker = checker_.get();
  args.counters = &stats_.counters;
  auto opened = driver_.open(args);
  if (!opened) return Fail("restart: replica " + std::to_string(i) + ": " + opened.error());
  n.engine = std::move(*opened);
  if (checker_) checker_->OnOpen(i);
  ++n.incarnation;
  n.sync_target.reset();
  n.sync_scheduled = false;
  EngineStatus s = n.engine->GetStatus();
  if (Honest(i) && (s.applied_height != n.tip.height || s.commit_height < n.tip.height)) {
    return Fail("durability: replica " + std::to_string(i) + " restarted with applied " +
                std::to_string(s.applied_height) + " / commit " + std::to_string(s.commit_height) +
                " but its ledger is at " + std::to_string(n.tip.height));
  }
  n.last_commit_height = s.commit_height;
  Trace("open " + Describe(i));
  Drive(i);
}

void Simulation::Crash(ReplicaId i, const char* where) {
  nodes_[i].engine.reset();
  ++stats_.crashes;
  Trace("crash n" + std::to_string(i) + " " + where);
}

void Simulation::Drive(ReplicaId i) {
  while (failure_.empty() && nodes_[i].engine && nodes_[i].engine->HasReady()) ProcessReady(i);
  CheckNode(i);
}

void Simulation::ProcessReady(ReplicaId i) {
  Node& n = nodes_[i];
  Ready rd = n.engine->TakeReady();
  int crash_at = -1;
  if (faulty_ && cfg_.faults.crash_in_ready && rng_.Chance(1, 60)) {
    crash_at = static_cast<int>(rng_.Uniform(3));
  }
  if (crash_at == 0) return Crash(i, "before persisting a Ready");
  Persist(i, rd);
  if (checker_ && failure_.empty()) Fail(checker_->OnPersist(i, rd, n.disk, n.tip));
  if (crash_at == 1) return Crash(i, "after persisting, before sending");
  Send(i, rd.messages);
  if (crash_at == 2) return Crash(i, "after sending, before applying");
  if (rd.sync_to) {
    Trace("n" + std::to_string(i) + " sync_to " + std::to_string(rd.sync_to->height));
    n.sync_target = rd.sync_to;
    if (!n.sync_scheduled) {
      n.sync_scheduled = true;
      Event e;
      e.time = now_ + rng_.Range(5, 40);
      e.kind = EventKind::kSyncDone;
      e.node = i;
      e.incarnation = n.incarnation;
      Schedule(std::move(e));
    }
  }
  for (const Block& b : rd.committed) {
    if (!Apply(i, b)) return;
  }
  n.engine->Advance();
}

void Simulation::Persist(ReplicaId i, const Ready& rd) {
  Disk& d = nodes_[i].disk;
  if (rd.hard_state) d.hard_state = *rd.hard_state;
  if (rd.truncate_from) d.records.erase(d.records.lower_bound(*rd.truncate_from), d.records.end());
  for (const LogRecord& rec : rd.append) {
    if (!d.records.empty() && rec.index <= d.records.rbegin()->first) {
      return Fail("persist: replica " + std::to_string(i) + " overwrites record " +
                  std::to_string(rec.index) + " without truncating");
    }
    d.records.emplace(rec.index, rec.data);
  }
  if (rd.discard_through) {
    d.records.erase(d.records.begin(), d.records.upper_bound(*rd.discard_through));
  }
}

void Simulation::Send(ReplicaId from, std::vector<OutboundMessage>& msgs) {
  for (OutboundMessage& m : msgs) {
    if (m.to >= cfg_.replicas || m.to == from) {
      return Fail("send: replica " + std::to_string(from) + " addressed replica " +
                  std::to_string(m.to));
    }
    if (faulty_ && rng_.Chance(cfg_.faults.loss_pct, 100)) {
      ++stats_.dropped;
      continue;
    }
    int copies = (faulty_ && rng_.Chance(cfg_.faults.dup_pct, 100)) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      Event e;
      e.time = now_ + rng_.Range(cfg_.faults.min_delay, cfg_.faults.max_delay);
      e.kind = EventKind::kDeliver;
      e.node = m.to;
      e.from = from;
      e.payload = c + 1 == copies ? std::move(m.payload) : m.payload;
      Schedule(std::move(e));
    }
  }
}

bool Simulation::Apply(ReplicaId i, const Block& b) {
  Node& n = nodes_[i];
  std::string who = "replica " + std::to_string(i);
  if (b.height != n.tip.height + 1) {
    Fail("apply: " + who + " got block " + std::to_string(b.height) + " on ledger tip " +
         std::to_string(n.tip.height));
    return false;
  }
  if (std::string bad = CheckBlock(b, n.tip); !bad.empty()) {
    Fail("apply: " + who + " block " + std::to_string(b.height) + ": " + bad);
    return false;
  }
  BlockRef ref{b.height, b.hash};
  size_t k = b.height - chain_.front().height;
  if (!Honest(i)) {
    // A Byzantine replica's ledger is its own business: not part of agreement.
  } else if (k < chain_.size()) {
    if (chain_[k] != ref) {
      Fail("agreement: " + who + " committed block " + crypto::ShortHex(ref.hash) + " at height " +
           std::to_string(b.height) + " where " + crypto::ShortHex(chain_[k].hash) +
           " was committed");
      return false;
    }
  } else {
    chain_.push_back(ref);
    stats_.committed_height = b.height;
  }
  n.ledger.push_back(b);
  n.tip = ref;
  Trace("n" + std::to_string(i) + " apply " + std::to_string(b.height));
  return true;
}

void Simulation::MaybePropose(ReplicaId i) {
  Node& n = nodes_[i];
  uint32_t pct = faulty_ ? cfg_.propose_pct : 100;
  // At most a few blocks per tick: the mempool drains (and solo always wants a block).
  for (int k = 0; k < 3 && n.engine && failure_.empty(); ++k) {
    std::optional<ProposalSlot> slot = n.engine->ProposalWanted();
    if (!slot || !rng_.Chance(pct, 100)) return;
    Block b = MakeBlock(slot->parent, i, ++n.nonce);
    uint64_t h = b.height;
    if (Status s = n.engine->Propose(std::move(b)); !s.ok()) {
      return Fail("propose: replica " + std::to_string(i) + " wanted block " + std::to_string(h) +
                  " but rejected it: " + s.message());
    }
    Trace("n" + std::to_string(i) + " propose " + std::to_string(h));
  }
}

void Simulation::CheckNode(ReplicaId i) {
  Node& n = nodes_[i];
  if (!n.engine || !failure_.empty()) return;
  EngineStatus s = n.engine->GetStatus();
  stats_.max_term = std::max(stats_.max_term, s.term);
  if (driver_.one_leader_per_term && s.role == Role::kLeader) {
    auto [it, inserted] = leaders_.emplace(s.term, i);
    if (!inserted && it->second != i) {
      return Fail("election safety: replicas " + std::to_string(it->second) + " and " +
                  std::to_string(i) + " are both leaders in term " + std::to_string(s.term));
    }
  }
  if (Honest(i) && s.commit_height < n.last_commit_height) {
    return Fail("durability: replica " + std::to_string(i) + " commit height fell from " +
                std::to_string(n.last_commit_height) + " to " + std::to_string(s.commit_height));
  }
  n.last_commit_height = s.commit_height;
  if (checker_) Fail(checker_->AfterEvent(i, *n.engine, chain_));
}

void Simulation::OnTick(ReplicaId i) {
  Node& n = nodes_[i];
  Event next;
  next.time = now_ + n.tick_period;
  next.kind = EventKind::kTick;
  next.node = i;
  Schedule(std::move(next));
  if (!n.engine) return;
  n.engine->Tick();
  MaybePropose(i);
  Drive(i);
}

void Simulation::OnDeliver(Event& e) {
  Node& n = nodes_[e.node];
  if (!n.engine || !Connected(e.from, e.node)) {
    ++stats_.dropped;
    return;
  }
  ++stats_.delivered;
  if (trace_) {
    std::string what = driver_.describe ? driver_.describe(e.payload) : "message";
    Trace("deliver " + std::to_string(e.from) + "->" + std::to_string(e.node) + " " + what);
  }
  if (Status s = n.engine->Step(e.from, e.payload); !s.ok()) {
    if (!Honest(e.from)) {
      // Byzantine replicas send whatever they like; refusing it is the engine's job.
      ++stats_.rejected;
      Trace("n" + std::to_string(e.node) + " rejects: " + s.message());
      return;
    }
    return Fail("step: replica " + std::to_string(e.node) + " rejected a message from replica " +
                std::to_string(e.from) + ": " + s.message());
  }
  if (checker_) Fail(checker_->OnStep(e.from, e.node, e.payload, *n.engine));
  Drive(e.node);
}

void Simulation::OnChaos() {
  if (!faulty_) return;
  Event next;
  next.time = now_ + rng_.Range(20, 100);
  next.kind = EventKind::kChaos;
  Schedule(std::move(next));

  const FaultSchedule& f = cfg_.faults;
  std::vector<int> kinds;
  if (f.crashes) kinds.push_back(0);
  if (f.partitions) kinds.push_back(1);
  if (f.link_cuts) kinds.push_back(2);
  if (f.compaction) kinds.push_back(3);
  if (f.leader_churn) kinds.push_back(4);
  if (kinds.empty()) return;
  const uint32_t n = cfg_.replicas;
  switch (kinds[rng_.Uniform(kinds.size())]) {
    case 0: {
      std::vector<ReplicaId> up, down;
      for (ReplicaId i = 0; i < n; ++i) (nodes_[i].engine ? up : down).push_back(i);
      if (!down.empty() && (up.empty() || rng_.Chance(1, 2))) {
        OpenNode(down[rng_.Uniform(down.size())]);
      } else {
        Crash(up[rng_.Uniform(up.size())], "by chaos");
      }
      break;
    }
    case 1: {
      bool split =
          std::any_of(group_.begin(), group_.end(), [&](uint32_t g) { return g != group_[0]; });
      if (split) {
        std::fill(group_.begin(), group_.end(), 0);
        Trace("partition healed");
      } else if (n > 1) {
        for (uint32_t& g : group_) g = static_cast<uint32_t>(rng_.Uniform(2));
        if (std::all_of(group_.begin(), group_.end(), [&](uint32_t g) { return g == group_[0]; })) {
          group_[rng_.Uniform(n)] ^= 1;
        }
        ++stats_.partitions;
        std::string groups;
        for (uint32_t g : group_) groups += std::to_string(g);
        Trace("partition " + groups);
      }
      break;
    }
    case 2: {
      if (n < 2) break;
      ReplicaId a = static_cast<ReplicaId>(rng_.Uniform(n));
      ReplicaId b = static_cast<ReplicaId>((a + 1 + rng_.Uniform(n - 1)) % n);
      cut_[a][b] = !cut_[a][b];
      Trace("link " + std::to_string(a) + "->" + std::to_string(b) +
            (cut_[a][b] ? " cut" : " restored"));
      break;
    }
    case 3: {
      ReplicaId i = static_cast<ReplicaId>(rng_.Uniform(n));
      Node& node = nodes_[i];
      if (!node.engine || node.sync_target) break;
      uint64_t above_genesis = node.tip.height - chain_.front().height;
      uint64_t h = node.tip.height - rng_.Uniform(std::min<uint64_t>(above_genesis, 4) + 1);
      if (Status s = node.engine->Compact(h); !s.ok()) {
        return Fail("compact: replica " + std::to_string(i) + " to height " + std::to_string(h) +
                    ": " + s.message());
      }
      Trace("n" + std::to_string(i) + " compact to " + std::to_string(h));
      Drive(i);
      break;
    }
    case 4: {
      // First undo the previous blow (restart one crashed replica, heal the split)...
      std::fill(group_.begin(), group_.end(), 0);
      for (ReplicaId i = 0; i < n; ++i) {
        if (!nodes_[i].engine) {
          OpenNode(i);
          break;
        }
      }
      // ...then strike whoever leads now.
      std::vector<ReplicaId> leaders;
      for (ReplicaId i = 0; i < n; ++i) {
        if (nodes_[i].engine && nodes_[i].engine->GetStatus().role == Role::kLeader) {
          leaders.push_back(i);
        }
      }
      if (leaders.empty()) break;
      ReplicaId leader = leaders[rng_.Uniform(leaders.size())];
      if (rng_.Chance(1, 2)) {
        Crash(leader, "(the leader) by chaos");
      } else {
        // The leader and at most one other replica on the minority side.
        group_[leader] = 1;
        if (n >= 5 && rng_.Chance(1, 2)) group_[(leader + 1 + rng_.Uniform(n - 1)) % n] = 1;
        ++stats_.partitions;
        Trace("partition isolates leader n" + std::to_string(leader));
      }
      break;
    }
  }
}

void Simulation::OnSyncDone(ReplicaId i, uint64_t incarnation) {
  Node& n = nodes_[i];
  if (n.incarnation != incarnation) return;  // the restart asks again and reschedules
  n.sync_scheduled = false;
  if (!n.engine || !n.sync_target) return;
  BlockRef target = *n.sync_target;
  // Block sync: fetch the missing blocks from a replica whose ledger has them, an honest
  // one when there is one (a real node checks the certificates of what it fetches).
  const Node* source = nullptr;
  for (ReplicaId j = 0; j < cfg_.replicas; ++j) {
    const Node& other = nodes_[j];
    if (other.tip.height >= target.height && (!source || Honest(j))) source = &other;
  }
  if (!source && driver_.sync_may_wait) {
    n.sync_scheduled = true;
    Event e;
    e.time = now_ + rng_.Range(20, 60);
    e.kind = EventKind::kSyncDone;
    e.node = i;
    e.incarnation = n.incarnation;
    Schedule(std::move(e));
    Trace("n" + std::to_string(i) + " sync waits: no ledger reaches " +
          std::to_string(target.height));
    return;
  }
  if (!source) return Fail("sync: no ledger reaches height " + std::to_string(target.height));
  for (uint64_t h = n.tip.height + 1; h <= target.height; ++h) {
    if (!Apply(i, source->ledger[h - chain_.front().height - 1])) return;
  }
  if (n.tip != target) {
    return Fail("sync: replica " + std::to_string(i) + " was sent to block " +
                std::to_string(target.height) + " which is not the committed one");
  }
  n.sync_target.reset();
  ++stats_.syncs;
  if (Status s = n.engine->SyncCompleted(target); !s.ok()) {
    return Fail("sync: replica " + std::to_string(i) + ": " + s.message());
  }
  Trace("n" + std::to_string(i) + " synced to " + std::to_string(target.height));
  Drive(i);
}

void Simulation::OnLedgerSync(ReplicaId i) {
  Node& n = nodes_[i];
  const uint64_t period = driver_.ledger_sync_ticks * kTickUnits;
  Event next;
  next.time = now_ + rng_.Range(period / 2, period * 3 / 2);
  next.kind = EventKind::kLedgerSync;
  next.node = i;
  Schedule(std::move(next));
  if (!n.engine || n.sync_target) return;
  std::optional<ReplicaId> source;
  for (ReplicaId j = 0; j < cfg_.replicas; ++j) {
    if (j == i || !Honest(j) || !Connected(j, i) || !Connected(i, j)) continue;
    if (nodes_[j].tip.height > (source ? nodes_[*source].tip.height : n.tip.height)) source = j;
  }
  if (!source) return;
  const Node& from = nodes_[*source];
  BlockRef target = from.tip;
  for (uint64_t h = n.tip.height + 1; h <= target.height; ++h) {
    if (!Apply(i, from.ledger[h - chain_.front().height - 1])) return;
  }
  ++stats_.counters["ledger syncs"];
  Trace("n" + std::to_string(i) + " block-syncs to " + std::to_string(target.height) + " from n" +
        std::to_string(*source));
  if (Status s = n.engine->SyncCompleted(target); !s.ok()) {
    return Fail("sync: replica " + std::to_string(i) + " refused its ledger synced to " +
                std::to_string(target.height) + ": " + s.message());
  }
  Drive(i);
}

void Simulation::Heal() {
  faulty_ = false;
  std::fill(group_.begin(), group_.end(), 0);
  for (auto& row : cut_) std::fill(row.begin(), row.end(), false);
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    if (!nodes_[i].engine) OpenNode(i);
  }
  uint64_t top = chain_.back().height;
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    const Node& n = nodes_[i];
    if (n.engine && Honest(i)) top = std::max(top, n.engine->GetStatus().commit_height);
  }
  liveness_target_ = top + cfg_.liveness_blocks;
  deadline_ = now_ + cfg_.liveness_ticks * kTickUnits;
  Trace("faults stop; liveness target height " + std::to_string(liveness_target_));
}

bool Simulation::LivenessReached() const {
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    const Node& n = nodes_[i];
    if (Honest(i) && !(n.engine && !n.sync_target && n.tip.height >= liveness_target_)) {
      return false;
    }
  }
  return true;
}

SimResult Simulation::Run() {
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    nodes_[i].tip = chain_.front();
    nodes_[i].tick_period = rng_.Range(kTickUnits - 2, kTickUnits + 2);
    Event tick;
    tick.time = rng_.Range(1, nodes_[i].tick_period);
    tick.kind = EventKind::kTick;
    tick.node = i;
    Schedule(std::move(tick));
  }
  for (ReplicaId i = 0; i < cfg_.replicas && failure_.empty(); ++i) OpenNode(i);
  if (driver_.ledger_sync_ticks > 0) {
    for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
      Event sync;
      sync.time = rng_.Range(1, driver_.ledger_sync_ticks * kTickUnits);
      sync.kind = EventKind::kLedgerSync;
      sync.node = i;
      Schedule(std::move(sync));
    }
  }
  Event heal;
  heal.time = cfg_.fault_ticks * kTickUnits;
  heal.kind = EventKind::kHeal;
  Schedule(std::move(heal));
  Event chaos;
  chaos.time = rng_.Range(20, 100);
  chaos.kind = EventKind::kChaos;
  Schedule(std::move(chaos));

  bool live = false;
  uint64_t events = 0;
  while (failure_.empty() && !queue_.empty()) {
    // A message storm (an engine that answers every message with several) would
    // otherwise exhaust memory instead of failing.
    if (++events > kMaxEvents || queue_.size() > kMaxQueued) {
      Fail("runaway: " + std::to_string(events) + " events processed, " +
           std::to_string(queue_.size()) + " queued");
      break;
    }
    std::pop_heap(queue_.begin(), queue_.end(), Later());
    Event e = std::move(queue_.back());
    queue_.pop_back();
    now_ = e.time;
    switch (e.kind) {
      case EventKind::kTick:
        OnTick(e.node);
        break;
      case EventKind::kDeliver:
        OnDeliver(e);
        break;
      case EventKind::kChaos:
        OnChaos();
        break;
      case EventKind::kSyncDone:
        OnSyncDone(e.node, e.incarnation);
        break;
      case EventKind::kHeal:
        Heal();
        break;
      case EventKind::kLedgerSync:
        OnLedgerSync(e.node);
        break;
    }
    if (!faulty_ && failure_.empty()) {
      if (LivenessReached()) {
        live = true;
        break;
      }
      if (now_ > deadline_) {
        std::string states;
        for (ReplicaId i = 0; i < cfg_.replicas; ++i) states += " " + Describe(i);
        Fail("liveness: no progress to height " + std::to_string(liveness_target_) + " within " +
             std::to_string(cfg_.liveness_ticks) + " ticks after faults stopped;" + states);
      }
    }
  }
  if (failure_.empty() && !live) Fail("liveness: simulation ran out of events");
  SimResult r;
  r.ok = failure_.empty();
  r.failure = failure_;
  r.time = now_;
  r.stats = stats_;
  return r;
}

}  // namespace

DurableState Disk::ToDurable() const {
  DurableState d;
  d.hard_state = hard_state;
  d.records.reserve(records.size());
  for (const auto& [index, data] : records) d.records.push_back(LogRecord{index, data});
  return d;
}

// Block payloads the simulation can check: parent hash, height, proposer, nonce.
Block MakeBlock(const BlockRef& parent, ReplicaId proposer, uint64_t nonce) {
  codec::Writer w;
  w.Fixed(parent.hash);
  w.U64(parent.height + 1);
  w.U32(proposer);
  w.U64(nonce);
  Block b;
  b.height = parent.height + 1;
  b.data = std::move(w).Take();
  b.hash = crypto::Sha256Of(b.data);
  return b;
}

std::string CheckBlock(const Block& b, const BlockRef& parent) {
  codec::Reader r(b.data, "sim block");
  crypto::Hash256 parent_hash;
  uint64_t height = 0;
  uint32_t proposer = 0;
  uint64_t nonce = 0;
  r.Fixed(&parent_hash, "parent");
  r.U64(&height, "height");
  r.U32(&proposer, "proposer");
  r.U64(&nonce, "nonce");
  if (Status s = r.Finish(); !s.ok()) return s.message();
  if (crypto::Sha256Of(b.data) != b.hash) return "hash does not match data";
  if (height != b.height) return "height field differs from block height";
  if (b.height != parent.height + 1) return "height is not the parent's plus one";
  if (parent_hash != parent.hash) return "built on a parent that is not the committed block";
  return "";
}

std::optional<BlockRef> BlockParent(const Block& b) {
  codec::Reader r(b.data, "sim block");
  crypto::Hash256 parent_hash;
  uint64_t height = 0;
  if (!r.Fixed(&parent_hash, "parent") || !r.U64(&height, "height") || height == 0) {
    return std::nullopt;
  }
  return BlockRef{height - 1, parent_hash};
}

BlockRef SimGenesis() { return BlockRef{0, crypto::Sha256Of(AsBytes("cairn simulation genesis"))}; }

SimResult RunSimulation(const SimConfig& cfg, const EngineDriver& driver,
                        std::vector<std::string>* trace) {
  return Simulation(cfg, driver, trace).Run();
}

}  // namespace cairn::consensus::sim
