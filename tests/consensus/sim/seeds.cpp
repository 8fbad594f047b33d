// Seed selection for the CI mix and the seed runner (environment, reporting, replay).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "consensus/rng.h"
#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::sim {

SimConfig ConfigForSeed(uint64_t seed, const std::vector<uint32_t>& replica_choices) {
  Rng r(seed * 0x9e3779b97f4a7c15ULL + 17);
  SimConfig c;
  c.seed = seed;
  c.replicas = replica_choices[r.Uniform(replica_choices.size())];
  c.fault_ticks = static_cast<uint32_t>(r.Range(100, 250));
  FaultSchedule& f = c.faults;
  switch (r.Uniform(7)) {
    case 0:
      f.name = "clean";
      break;
    case 1:
      f.name = "lossy";
      f.loss_pct = static_cast<uint32_t>(r.Range(5, 30));
      f.dup_pct = static_cast<uint32_t>(r.Range(0, 10));
      f.max_delay = static_cast<uint32_t>(r.Range(4, 15));
      break;
    case 2:
      f.name = "partitions";
      f.partitions = f.link_cuts = true;
      f.loss_pct = static_cast<uint32_t>(r.Range(0, 5));
      break;
    case 3:
      f.name = "crashes";
      f.crashes = f.crash_in_ready = f.compaction = true;
      break;
    case 4:
      f.name = "slow";
      f.max_delay = static_cast<uint32_t>(r.Range(10, 40));
      f.dup_pct = static_cast<uint32_t>(r.Range(0, 10));
      f.compaction = true;
      break;
    case 5:
      f.name = "churn";
      f.leader_churn = f.crash_in_ready = true;
      f.max_delay = static_cast<uint32_t>(r.Range(2, 12));
      break;
    default:
      f.name = "chaos";
      f.partitions = f.link_cuts = f.crashes = f.crash_in_ready = f.compaction = true;
      f.leader_churn = true;
      f.loss_pct = static_cast<uint32_t>(r.Range(0, 15));
      f.dup_pct = static_cast<uint32_t>(r.Range(0, 5));
      f.max_delay = static_cast<uint32_t>(r.Range(4, 20));
      break;
  }
  return c;
}

namespace {
uint64_t EnvU64(const char* name, uint64_t fallback, bool* present = nullptr) {
  const char* v = std::getenv(name);
  if (present) *present = v != nullptr && *v != '\0';
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

// The runner behind RunSeeds and RunSeedList: seeds in order, as `next` hands them out.
SeedsSummary RunEach(const EngineDriver& driver, const std::function<bool(uint64_t*)>& next,
                     const std::function<SimConfig(uint64_t seed)>& config_for_seed,
                     bool print_trace) {
  uint64_t first = 0;
  SeedsSummary sum;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = 0; next(&seed);) {
    if (sum.seeds == 0) first = seed;
    SimConfig cfg = config_for_seed(seed);
    std::vector<std::string> trace;
    SimResult r = RunSimulation(cfg, driver, print_trace ? &trace : nullptr);
    ++sum.seeds;
    SimStats& t = sum.totals;
    t.delivered += r.stats.delivered;
    t.dropped += r.stats.dropped;
    t.crashes += r.stats.crashes;
    t.syncs += r.stats.syncs;
    t.partitions += r.stats.partitions;
    t.rejected += r.stats.rejected;
    for (const auto& [name, value] : r.stats.counters) t.counters[name] += value;
    t.max_term = std::max(t.max_term, r.stats.max_term);
    t.committed_height += r.stats.committed_height;
    if (print_trace) {
      for (const std::string& line : trace) std::fprintf(stderr, "%s\n", line.c_str());
    }
    if (r.ok) continue;
    ++sum.failures;
    std::fprintf(stderr,
                 "SIM FAILURE [%s] seed=%" PRIu64 " replicas=%u schedule=%s at t=%" PRIu64
                 ":\n  %s\n  replay: CAIRN_SIM_SEED=%" PRIu64
                 " (add CAIRN_SIM_TRACE=1 for the full trace)\n",
                 driver.name.c_str(), seed, cfg.replicas, cfg.faults.name.c_str(), r.time,
                 r.failure.c_str(), seed);
    if (sum.failures <= 3) {
      std::vector<std::string> replay;
      RunSimulation(cfg, driver, &replay);
      size_t from = replay.size() > 40 ? replay.size() - 40 : 0;
      std::fprintf(stderr, "  last events of the replay:\n");
      for (size_t k = from; k < replay.size(); ++k)
        std::fprintf(stderr, "    %s\n", replay[k].c_str());
    }
    if (sum.failures >= 10) break;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "[%s] simulated %" PRIu64 " seeds from %" PRIu64 " in %.1f s: %" PRIu64
               " failures; %" PRIu64 " messages delivered, %" PRIu64 " dropped, %" PRIu64
               " crashes, %" PRIu64 " partitions, %" PRIu64 " block syncs, max term %" PRIu64 "\n",
               driver.name.c_str(), sum.seeds, first, secs, sum.failures, sum.totals.delivered,
               sum.totals.dropped, sum.totals.crashes, sum.totals.partitions, sum.totals.syncs,
               sum.totals.max_term);
  if (sum.totals.rejected > 0 || !sum.totals.counters.empty()) {
    std::string line = "  rejected from byzantine replicas: " + std::to_string(sum.totals.rejected);
    for (const auto& [name, value] : sum.totals.counters) {
      line += "; " + name + ": " + std::to_string(value);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return sum;
}

}  // namespace

SeedsSummary RunSeeds(const EngineDriver& driver, uint64_t default_count,
                      const std::function<SimConfig(uint64_t seed)>& config_for_seed) {
  bool single = false;
  uint64_t only = EnvU64("CAIRN_SIM_SEED", 0, &single);
  uint64_t first = single ? only : EnvU64("CAIRN_SIM_FIRST_SEED", 1);
  uint64_t count = single ? 1 : EnvU64("CAIRN_SIM_SEEDS", default_count);
  bool print_trace = single && EnvU64("CAIRN_SIM_TRACE", 0) != 0;
  uint64_t at = first;
  return RunEach(
      driver,
      [&](uint64_t* seed) {
        if (at >= first + count) return false;
        *seed = at++;
        return true;
      },
      config_for_seed, print_trace);
}

SeedsSummary RunSeedList(const EngineDriver& driver, const std::vector<uint64_t>& seeds,
                         const std::function<SimConfig(uint64_t seed)>& config_for_seed) {
  size_t at = 0;
  return RunEach(
      driver,
      [&](uint64_t* seed) {
        if (at >= seeds.size()) return false;
        *seed = seeds[at++];
        return true;
      },
      config_for_seed, /*print_trace=*/false);
}

}  // namespace cairn::consensus::sim
