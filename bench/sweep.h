// The goodput sweep: one network offered a rising series of fixed rates (fractions of its
// capacity), each step drained before the next, so each step shows what the network commits
// at that offered load and how long what it accepted took. BENCHMARKS.md plots the steps as
// the goodput curve. Free functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/load.h"

namespace cairn::bench {

// Parses "0.25,0.5,1,2,3" into the factors of the capacity each step offers: positive,
// strictly rising. Empty on a malformed list.
std::vector<double> ParseSweepFactors(const std::string& list);

// One step's figures from its Timeline. The window is the middle of the submission period
// ([trim * D, (1 - trim) * D], D = how long the lanes submitted), not of the drain after
// it: goodput is what commits while the load is offered. Latency is from the call that
// admitted a transaction to its commit, for the transactions admitted in the window.
nlohmann::json SweepStep(const Timeline& tl, double factor, double offered, double trim);

// The whole sweep's report (schema "cairn-bench-sweep/1"): the steps, the capacity they are
// fractions of, the machine ceiling and the peak goodput; ok when nothing accepted was lost.
nlohmann::json SweepReport(const std::string& scenario, double capacity, double ceiling,
                           const nlohmann::json& steps);

void PrintSweepTable(const nlohmann::json& sweep);

}  // namespace cairn::bench
