// The simulation's runner: the event queue, the run from start through the chaos phase to
// the liveness phase, and the block format. Replicas are in replica.cpp, faults in
// faults.cpp.
#include "tests/consensus/sim/sim.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/codec.h"
#include "crypto/sha256.h"
#include "tests/consensus/sim/simulation.h"

namespace cairn::consensus::sim {
namespace detail {
namespace {

constexpr uint64_t kMaxEvents = 3'000'000;
constexpr size_t kMaxQueued = 200'000;

}  // namespace

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

void Simulation::ScheduleStart() {
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
}

void Simulation::Dispatch(Event& e) {
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
}

bool Simulation::LivenessReached() const {
  for (ReplicaId i = 0; i < cfg_.replicas; ++i) {
    const Node& n = nodes_[i];
    if (n.engine && driver_.outside && driver_.outside(*n.engine)) continue;
    if (Honest(i) && !(n.engine && !n.sync_target && n.tip.height >= liveness_target_)) {
      return false;
    }
  }
  return true;
}

bool Simulation::CheckLiveness() {
  if (LivenessReached()) return true;
  if (now_ > deadline_) {
    std::string states;
    for (ReplicaId i = 0; i < cfg_.replicas; ++i) states += " " + Describe(i);
    Fail("liveness: no progress to height " + std::to_string(liveness_target_) + " within " +
         std::to_string(cfg_.liveness_ticks) + " ticks after faults stopped;" + states);
  }
  return false;
}

SimResult Simulation::Run() {
  ScheduleStart();
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
    Dispatch(e);
    if (!faulty_ && failure_.empty() && CheckLiveness()) {
      live = true;
      break;
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

}  // namespace detail

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
  return detail::Simulation(cfg, driver, trace).Run();
}

}  // namespace cairn::consensus::sim
