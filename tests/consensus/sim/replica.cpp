// The simulation's replicas: opening an engine from its disk, crashes, the Ready cycle
// (persist, send, apply, advance, with crash points between), proposals, block sync, and the
// invariants checked after every event (agreement, durability, election safety, the
// driver's checker).
#include <algorithm>
#include <string>
#include <utility>

#include "tests/consensus/sim/simulation.h"

namespace cairn::consensus::sim::detail {

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

}  // namespace cairn::consensus::sim::detail
