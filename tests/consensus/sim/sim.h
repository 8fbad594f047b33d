// A deterministic network simulation for consensus engines: N engines in one process, one
// seed driving message delay, loss, duplication, reordering, partitions, crashes and
// restarts from persisted state, and per-node clock rates. Invariants are checked after
// every event; a failing seed replays exactly. Single-threaded; generic over Engine, so
// the BFT engine reuses it with its own factory and checker.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "consensus/engine.h"

namespace cairn::consensus::sim {

// Simulated time is counted in units; a node ticks about every kTickUnits (each node at
// its own rate, 8..12 units).
inline constexpr uint64_t kTickUnits = 10;

struct FaultSchedule {
  std::string name = "clean";
  uint32_t min_delay = 1;  // message delay in units, uniform in [min_delay, max_delay];
  uint32_t max_delay = 4;  // independent per message, so messages reorder
  uint32_t loss_pct = 0;
  uint32_t dup_pct = 0;
  bool partitions = false;      // random two-sided partitions that form and heal
  bool link_cuts = false;       // one-way link failures
  bool crashes = false;         // crash (losing everything not persisted) and restart
  bool crash_in_ready = false;  // crash between persisting, sending and applying a Ready
  bool compaction = false;      // nodes compact their logs; laggards must block-sync
  // Targets the current leader: crashes it or cuts it off with a minority, so leadership
  // changes while entries are half replicated (the histories of Raft's Figure 8).
  bool leader_churn = false;
};

struct SimConfig {
  uint64_t seed = 1;
  uint32_t replicas = 3;
  FaultSchedule faults;
  uint32_t fault_ticks = 300;     // length of the faulty phase
  uint32_t liveness_ticks = 250;  // then, with faults healed, this many ticks to...
  uint32_t liveness_blocks = 3;   // ...commit this many more blocks on every node
  uint32_t propose_pct = 40;      // chance per tick that the proposer has transactions
};

// The durable state of one simulated node, which survives crashes.
struct Disk {
  std::optional<Bytes> hard_state;
  std::map<uint64_t, Bytes> records;
  DurableState ToDurable() const;
};

// Engine-specific invariants. Return an empty string when they hold, else what broke.
class Checker {
 public:
  virtual ~Checker() = default;
  // After node `id` persisted `rd` (before it sends anything).
  virtual std::string OnPersist(ReplicaId id, const Ready& rd, const Disk& disk) = 0;
  // After every event on a running node. `chain[h]` is the committed block at height
  // genesis+h (index 0 is genesis).
  virtual std::string AfterEvent(ReplicaId id, const Engine& engine,
                                 const std::vector<BlockRef>& chain) = 0;
};

struct EngineDriver {
  std::string name;
  // Opens replica `id` from its disk (empty on first boot) and its ledger tip. Engine
  // parameters that must agree across replicas derive from `run_seed`; `node_seed` is
  // fresh for every start.
  std::function<Result<std::unique_ptr<Engine>>(ReplicaId id, uint32_t replicas,
                                                const DurableState& disk, const BlockRef& applied,
                                                uint64_t run_seed, uint64_t node_seed)>
      open;
  // Optional: one line describing an encoded message, for traces.
  std::function<std::string(ByteView)> describe;
  // Optional: a fresh checker per run.
  std::function<std::unique_ptr<Checker>(uint32_t replicas)> make_checker;
};

struct SimStats {
  uint64_t delivered = 0, dropped = 0, crashes = 0, syncs = 0, partitions = 0;
  uint64_t max_term = 0, committed_height = 0;
};

struct SimResult {
  bool ok = true;
  std::string failure;  // "<invariant>: <detail>" when !ok
  uint64_t time = 0;
  SimStats stats;
};

BlockRef SimGenesis();

// Runs one simulation. With `trace` set, appends one line per event (for replays).
SimResult RunSimulation(const SimConfig& cfg, const EngineDriver& driver,
                        std::vector<std::string>* trace = nullptr);

// The CI mix: replicas and a fault schedule derived from the seed.
SimConfig ConfigForSeed(uint64_t seed, const std::vector<uint32_t>& replica_choices);

struct SeedsSummary {
  uint64_t seeds = 0;
  uint64_t failures = 0;
  SimStats totals;
};

// Runs seeds [first, first + count) as chosen by the environment:
//   CAIRN_SIM_SEED=123     just that seed, printing its trace tail on failure
//   CAIRN_SIM_SEEDS=100000 that many seeds (soak), from CAIRN_SIM_FIRST_SEED (default 1)
// otherwise `default_count` seeds from 1. Each failure prints the seed, the broken
// invariant, the replay command and the last events of a traced replay.
SeedsSummary RunSeeds(const EngineDriver& driver, uint64_t default_count,
                      const std::function<SimConfig(uint64_t seed)>& config_for_seed);

}  // namespace cairn::consensus::sim
