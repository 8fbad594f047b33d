#include <catch2/catch.hpp>

#include "consensus/solo/solo.h"
#include "tests/consensus/raft_cluster.h"

using namespace cairn;
using namespace cairn::consensus;
using cairn::consensus::test::TestBlock;

TEST_CASE("solo commits each proposed block in the next Ready", "[consensus][solo]") {
  BlockRef genesis = sim::SimGenesis();
  solo::SoloEngine e(genesis);
  REQUIRE_FALSE(e.HasReady());
  std::optional<ProposalSlot> slot = e.ProposalWanted();
  REQUIRE(slot);
  REQUIRE(slot->parent == genesis);
  REQUIRE(slot->parent_committed);

  Block b1 = TestBlock(genesis, "one");
  REQUIRE(e.Propose(b1).ok());
  // The next block may be built on the proposed one before it is applied.
  REQUIRE(e.ProposalWanted()->parent == BlockRef{1, b1.hash});
  REQUIRE_FALSE(e.ProposalWanted()->parent_committed);
  REQUIRE(e.GetStatus().last_log_height == 1);
  REQUIRE(e.GetStatus().commit_height == 0);

  REQUIRE(e.HasReady());
  Ready rd = e.TakeReady();
  REQUIRE_FALSE(e.HasReady());  // not before Advance()
  e.Advance();
  REQUIRE(rd.committed == std::vector<Block>{b1});
  REQUIRE_FALSE(rd.hard_state);  // the ledger commit is solo's only durability
  REQUIRE(rd.messages.empty());
  EngineStatus st = e.GetStatus();
  REQUIRE(st.role == Role::kLeader);
  REQUIRE(st.leader == 0);
  REQUIRE(st.commit_height == 1);
  REQUIRE(e.ProposalWanted()->parent_committed);
}

TEST_CASE("solo refuses a wrong height, messages and sync, and restarts from the ledger tip",
          "[consensus][solo]") {
  BlockRef genesis = sim::SimGenesis();
  solo::SoloEngine e(genesis);
  Block b = TestBlock(genesis, "one");
  b.height = 2;
  REQUIRE(e.Propose(b).message() == "solo: proposed height 2, expected 1");
  Bytes msg = {1, 2, 3};
  REQUIRE(e.Step(1, msg).message() ==
          "solo: unexpected message from replica 1 (a solo validator has no peers)");
  REQUIRE_FALSE(e.SyncCompleted(genesis).ok());

  Block b1 = TestBlock(genesis, "one");
  BlockRef tip{1, b1.hash};
  solo::SoloEngine restarted(tip);
  REQUIRE(restarted.ProposalWanted()->parent == tip);
  REQUIRE(restarted.GetStatus().commit_height == 1);
}
