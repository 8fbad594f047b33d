// A deterministic network simulation for consensus engines: N engines in one process, one
// seed driving message delay, loss, duplication, reordering, partitions, crashes and
// restarts from persisted state, per-node clock rates and Byzantine replicas (whose engines
// the driver wraps). Invariants are checked after every event; a failing seed replays
// exactly. Single-threaded; generic over Engine: each engine plugs in through a driver.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
  // Byzantine behaviour of each replica, a driver-defined bit mask (0: honest); empty means
  // every replica is honest. Agreement, durability and liveness are checked over the honest
  // replicas only, and messages only honest replicas sent must be accepted.
  std::vector<uint32_t> byzantine;

  bool IsByzantine(ReplicaId id) const { return id < byzantine.size() && byzantine[id] != 0; }
};

// Named event counts a driver or checker adds to (Byzantine actions, evidence, ...); summed
// over seeds so a test can assert that a behaviour really fired.
using Counters = std::map<std::string, uint64_t>;

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
  // After node `id` persisted `rd` (before it sends anything); `tip` is its ledger tip
  // (before applying rd.committed).
  virtual std::string OnPersist(ReplicaId id, const Ready& rd, const Disk& disk,
                                const BlockRef& tip) = 0;
  // After every event on a running node. `chain[h]` is the committed block at height
  // genesis+h (index 0 is genesis).
  virtual std::string AfterEvent(ReplicaId id, const Engine& engine,
                                 const std::vector<BlockRef>& chain) = 0;
  // After node `to` accepted `message` from `from` (Step returned ok), before it hands out
  // the resulting Ready.
  virtual std::string OnStep(ReplicaId /*from*/, ReplicaId /*to*/, ByteView /*message*/,
                             const Engine& /*engine*/) {
    return "";
  }
  // After node `id` (re)started: everything it held only in memory is gone.
  virtual void OnOpen(ReplicaId /*id*/) {}
};

// What a driver gets to open one replica.
struct OpenArgs {
  ReplicaId id = 0;
  uint32_t replicas = 0;
  DurableState durable;  // empty on first boot
  BlockRef applied;      // the replica's ledger tip
  // Engine parameters that must agree across replicas derive from `run_seed`;
  // `node_seed` is fresh for every start.
  uint64_t run_seed = 0;
  uint64_t node_seed = 0;
  uint32_t byzantine = 0;  // SimConfig::byzantine[id]
  // The run's checker (drivers may keep state shared by colluding replicas in it) and
  // counters; both outlive every engine of the run.
  Checker* checker = nullptr;
  Counters* counters = nullptr;
};

struct EngineDriver {
  std::string name;
  // Opens a replica from its disk and its ledger tip.
  std::function<Result<std::unique_ptr<Engine>>(const OpenArgs& args)> open;
  // Optional: one line describing an encoded message, for traces.
  std::function<std::string(ByteView)> describe;
  // Optional: a fresh checker per run.
  std::function<std::unique_ptr<Checker>(const SimConfig& cfg, Counters* counters)> make_checker;
  // Raft's Election Safety: at most one replica reports kLeader per term. Off for engines
  // whose "term" is reused (BFT: the round, which restarts at 0 every height).
  bool one_leader_per_term = true;
  // Whether a replica told to block-sync may have to wait until some ledger holds the
  // target (BFT: a Decision can outrun every ledger when its sender crashed before
  // applying); otherwise a target no ledger holds is a failure.
  bool sync_may_wait = false;
  // 0: off. Otherwise about every this many ticks a replica whose ledger is behind a
  // connected honest peer's fetches the missing blocks and calls Engine::SyncCompleted, as
  // the BFT node does on its own from its peers' block announcements (Raft asks for block
  // sync only through Ready::sync_to).
  uint32_t ledger_sync_ticks = 0;
  // Optional: true for a replica outside the member set (not added yet, or removed), which
  // the liveness check does not wait for (membership changes).
  std::function<bool(const Engine&)> outside;
};

struct SimStats {
  uint64_t delivered = 0, dropped = 0, crashes = 0, syncs = 0, partitions = 0;
  uint64_t max_term = 0, committed_height = 0;
  // Messages from Byzantine replicas that the receiver refused (Step returned an error).
  uint64_t rejected = 0;
  Counters counters;
};

struct SimResult {
  bool ok = true;
  std::string failure;  // "<invariant>: <detail>" when !ok
  uint64_t time = 0;
  SimStats stats;
};

BlockRef SimGenesis();

// The simulation's block format: parent hash, height, proposer and nonce, hashed with
// SHA-256. MakeBlock builds a valid child of `parent`; CheckBlock says why `b` is not one
// ("" when it is); BlockParent reads the parent a block claims (nullopt if malformed).
Block MakeBlock(const BlockRef& parent, ReplicaId proposer, uint64_t nonce);
std::string CheckBlock(const Block& b, const BlockRef& parent);
std::optional<BlockRef> BlockParent(const Block& b);

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

// Runs exactly `seeds`, whatever the environment, reporting as RunSeeds does: the regression
// seeds (seeds a soak once found failing) that every CI run replays.
SeedsSummary RunSeedList(const EngineDriver& driver, const std::vector<uint64_t>& seeds,
                         const std::function<SimConfig(uint64_t seed)>& config_for_seed);

}  // namespace cairn::consensus::sim
