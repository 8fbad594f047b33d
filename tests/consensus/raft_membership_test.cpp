// Raft membership changes (etcd's rules, docs/CONSENSUS.md): the seeded simulation with
// changes mixed into every fault schedule, and scenarios for each rule.
#include <catch2/catch.hpp>

#include "tests/consensus/sim/raft_driver.h"

using namespace cairn;
using namespace cairn::consensus;
using namespace cairn::consensus::sim;

TEST_CASE("raft membership changes keep the invariants and liveness over 1000 seeded networks",
          "[consensus][raft][sim][membership]") {
  // 4 or 5 replicas: 0..2 are the genesis voters, the rest join (learner, then voter) while
  // the leaders remove voters, themselves included: 3 -> 4 -> 3 (-> 4 -> 3).
  SeedsSummary s = RunSeeds(RaftMembershipDriver(), 1000, [](uint64_t seed) {
    return ConfigForSeed(seed, {4, 5, 5});
  });
  REQUIRE(s.failures == 0);
  if (s.seeds >= 100) {
    // The changes really happened, under the faults.
    REQUIRE(s.totals.counters["members added"] > 0);
    REQUIRE(s.totals.counters["members removed"] > 0);
    REQUIRE(s.totals.counters["leaders removed"] > 0);
    REQUIRE(s.totals.counters["events with 4 voters"] > 0);
    REQUIRE(s.totals.crashes > 0);
    REQUIRE(s.totals.partitions > 0);
    REQUIRE(s.totals.syncs > 0);
  }
}
