// The Raft engine plugged into the simulation: engine parameters derived from the run's
// seed, message descriptions for traces, and Raft's own invariants (log matching, leader
// append-only, leader completeness, one vote per term). Single-threaded, like the harness.
#pragma once

#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::sim {

EngineDriver RaftDriver();

// Raft with membership changes mixed into every fault schedule: replicas 0..2 are the
// genesis voters, the others join as learners and are promoted, and voters (the leader
// included) are removed, through change-carrying blocks. Adds the membership invariants:
// configs agree per log index, won elections count only voters' persisted votes, and a
// replica that applied its removal sends no vote, acknowledgement or campaign.
EngineDriver RaftMembershipDriver();

// The solo engine in the same harness (one replica).
EngineDriver SoloDriver();

}  // namespace cairn::consensus::sim
