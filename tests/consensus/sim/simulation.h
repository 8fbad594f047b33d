// The simulation's internals, shared by its three files: sim.cpp (the event loop and the
// run), replica.cpp (replicas: start, crash, the Ready cycle, block sync, the invariants
// checked after every event) and faults.cpp (the chaos phase: crashes, partitions, link cuts,
// compaction, leader churn). Only sim.cpp's RunSimulation uses it. Single-threaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/rng.h"
#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::sim::detail {

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

  // The run (sim.cpp).
  void ScheduleStart();
  void Dispatch(Event& e);
  // After an event once faults stopped: true when every honest replica reached the liveness
  // target; fails the run once the deadline passes without it.
  bool CheckLiveness();

  // The replicas (replica.cpp): start, crash, the Ready cycle, proposals and invariants.
  void OpenNode(ReplicaId i);
  void Crash(ReplicaId i, const char* where);
  void Drive(ReplicaId i);
  void ProcessReady(ReplicaId i);
  void Persist(ReplicaId i, const Ready& rd);
  void Send(ReplicaId from, std::vector<OutboundMessage>& msgs);
  bool Apply(ReplicaId i, const Block& b);
  void MaybePropose(ReplicaId i);
  void CheckNode(ReplicaId i);

  // Events of one replica (replica.cpp).
  void OnTick(ReplicaId i);
  void OnDeliver(Event& e);
  // The faults of the chaos phase (faults.cpp): one of the schedule's kinds per chaos event.
  void OnChaos();
  void CrashOrRestartOne();
  void SplitOrHeal();
  void ToggleLinkCut();
  void CompactOne();
  void StrikeLeader();
  void OnSyncDone(ReplicaId i, uint64_t incarnation);
  void OnLedgerSync(ReplicaId i);
  // Ends the chaos phase: every fault undone, every replica up, the liveness target set.
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

}  // namespace cairn::consensus::sim::detail
