// The Raft engine plugged into the simulation: engine parameters derived from the run's
// seed, message descriptions for traces, and Raft's own invariants (log matching, leader
// append-only, leader completeness, one vote per term). Single-threaded, like the harness.
#pragma once

#include "tests/consensus/sim/sim.h"

namespace cairn::consensus::sim {

EngineDriver RaftDriver();

// The solo engine in the same harness (one replica).
EngineDriver SoloDriver();

}  // namespace cairn::consensus::sim
