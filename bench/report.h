// Turns a Timeline into the report: steady-window TPS, latency percentiles, blocks, CPU and
// memory per node, lost transactions and the machine ceiling. As JSON (the source of truth)
// and as a table printed from that JSON. Free functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/load.h"

namespace cairn::bench {

struct ReportInputs {
  std::string scenario;
  nlohmann::json config;  // the run's parameters, echoed
  std::vector<std::string> pid_names;
  std::vector<pid_t> pids;
  double trim = 0.1;  // fraction cut from each end of the load period
  double verify_per_s_core = 0;
  unsigned cores = 1;
  double verifications_per_tx = 1;
  double load_avg_before = -1;
  double load_avg_after = -1;
  double setup_s = 0;
  double presign_s = 0;
};

// count, p50, p95, p99 and max (nearest rank) of latencies in milliseconds.
nlohmann::json LatencyJson(std::vector<double> ms);

nlohmann::json BuildReport(const Timeline& tl, const ReportInputs& in);
void PrintTable(const nlohmann::json& report);

}  // namespace cairn::bench
