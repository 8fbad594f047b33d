// The simulation harness: Raft (and solo) over a faulty simulated network, many seeds.
// CAIRN_SIM_SEED=<n> replays one seed; CAIRN_SIM_SEEDS=<count> runs a soak (see
// docs/CONSENSUS.md).
#include <catch2/catch.hpp>

#include "consensus/solo/solo.h"
#include "tests/consensus/sim/raft_driver.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::sim;

TEST_CASE("raft keeps its invariants and liveness over 1000 seeded faulty networks",
          "[consensus][raft][sim]") {
  SeedsSummary s = RunSeeds(RaftDriver(), 1000, [](uint64_t seed) {
    return ConfigForSeed(seed, {1, 3, 3, 5, 5});
  });
  REQUIRE(s.failures == 0);
  if (s.seeds >= 100) {
    // The fault mix really fired: otherwise passing would prove little.
    REQUIRE(s.totals.crashes > 0);
    REQUIRE(s.totals.partitions > 0);
    REQUIRE(s.totals.syncs > 0);
    REQUIRE(s.totals.dropped > 0);
    REQUIRE(s.totals.committed_height > 0);
  }
}

TEST_CASE("solo commits every proposal through the same harness", "[consensus][solo][sim]") {
  SeedsSummary s = RunSeeds(SoloDriver(), 50, [](uint64_t seed) {
    SimConfig c = ConfigForSeed(seed, {1});
    c.faults.partitions = c.faults.link_cuts = c.faults.compaction = false;
    return c;
  });
  REQUIRE(s.failures == 0);
}

TEST_CASE("a seed replays exactly", "[consensus][sim]") {
  for (uint64_t seed : {3, 11, 12}) {
    SimConfig cfg = ConfigForSeed(seed, {5});
    std::vector<std::string> a, b;
    SimResult ra = RunSimulation(cfg, RaftDriver(), &a);
    SimResult rb = RunSimulation(cfg, RaftDriver(), &b);
    REQUIRE(ra.ok);
    REQUIRE(a.size() > 100);
    REQUIRE(a == b);
  }
}

namespace {

// Three replicas that each run solo: no agreement at all. The harness must notice.
EngineDriver SplitBrainDriver() {
  EngineDriver d = SoloDriver();
  d.name = "split-brain";
  return d;
}

}  // namespace

TEST_CASE("the harness catches engines that break safety", "[consensus][sim]") {
  SimConfig cfg = ConfigForSeed(1, {3});
  SimResult r = RunSimulation(cfg, SplitBrainDriver());
  REQUIRE_FALSE(r.ok);
  bool election =
      r.failure.rfind("election safety: replicas 0 and 1 are both leaders in term 1", 0) == 0;
  bool agreement = r.failure.rfind("agreement:", 0) == 0;
  INFO(r.failure);
  REQUIRE((election || agreement));
}
