#include "bench/sweep.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "bench/report.h"

namespace cairn::bench {

using nlohmann::json;

std::vector<double> ParseSweepFactors(const std::string& list) {
  std::vector<double> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double f = 0;
    try {
      f = std::stod(item, &used);
    } catch (const std::exception&) {
      return {};
    }
    if (used != item.size() || !(f > 0) || (!out.empty() && f <= out.back())) return {};
    out.push_back(f);
  }
  return out;
}

json SweepStep(const Timeline& tl, double factor, double offered, double trim) {
  const double d = tl.send_end;
  const double ws = trim * d, we = (1 - trim) * d, wlen = we - ws;
  size_t accepted = 0, committed = 0, lost = 0, in_window = 0, refused = 0;
  std::vector<double> latency, from_offer;
  for (size_t i = 0; i < tl.submitted.size(); ++i) {
    bool acc = tl.submitted[i] >= 0, com = tl.committed[i] >= 0;
    accepted += acc;
    committed += com;
    lost += acc && !com;
    refused += tl.refused[i];
    if (com && tl.committed[i] >= ws && tl.committed[i] < we) ++in_window;
    if (acc && com && tl.submitted[i] >= ws && tl.submitted[i] < we) {
      latency.push_back((tl.committed[i] - tl.submitted[i]) * 1000);
      from_offer.push_back((tl.committed[i] - tl.first_try[i]) * 1000);
    }
  }
  return {
      {"factor", factor},
      {"offered_tps", offered},
      {"submit_s", d},
      {"window_s", wlen},
      {"accepted_tps", d > 0 ? static_cast<double>(accepted) / d : 0},
      {"goodput_tps", wlen > 0 ? static_cast<double>(in_window) / wlen : 0},
      {"latency_ms", LatencyJson(std::move(latency))},
      // From the first call that carried it: includes the time spent refused and waiting
      // out the node's retry hints, which latency_ms leaves out.
      {"latency_from_first_try_ms", LatencyJson(std::move(from_offer))},
      {"txs",
       {{"accepted", accepted}, {"committed", committed}, {"refused", refused}, {"lost", lost}}},
      {"backpressure_retries", tl.retries.load()},
      {"max_lag_s", static_cast<double>(tl.max_lag_us.load()) / 1e6}};
}

json SweepReport(const std::string& scenario, double capacity, double ceiling, const json& steps) {
  double peak = 0;
  size_t lost = 0;
  for (const json& s : steps) {
    peak = std::max(peak, s["goodput_tps"].get<double>());
    lost += s["txs"]["lost"].get<size_t>();
  }
  json out = {{"schema", "cairn-bench-sweep/1"},
              {"scenario", scenario},
              {"capacity_tps", capacity},
              {"ceiling_tps", ceiling},
              {"peak_goodput_tps", peak},
              {"steps", steps},
              {"lost", lost},
              {"ok", lost == 0 && peak > 0}};
  // The overload criterion of issue 13: what commits at 2x and 3x, against the peak.
  for (const json& s : steps) {
    double f = s["factor"].get<double>();
    if (f >= 2 && peak > 0) {
      char key[16];
      std::snprintf(key, sizeof key, "%gx", f);
      out["fraction_of_peak_at"][key] = s["goodput_tps"].get<double>() / peak;
    }
  }
  return out;
}

void PrintSweepTable(const json& sweep) {
  std::printf("scenario %s: capacity %.0f tx/s, ceiling %.0f tx/s, peak goodput %.0f tx/s\n",
              sweep["scenario"].get<std::string>().c_str(), sweep["capacity_tps"].get<double>(),
              sweep["ceiling_tps"].get<double>(), sweep["peak_goodput_tps"].get<double>());
  std::printf("%7s %9s %9s %9s %8s %8s %10s %8s %7s %6s\n", "factor", "offered", "accepted",
              "goodput", "p50 ms", "p99 ms", "p99 offer", "lag s", "retries", "lost");
  for (const json& s : sweep["steps"]) {
    const json& l = s["latency_ms"];
    std::printf("%7.2f %9.0f %9.0f %9.0f %8.1f %8.1f %10.1f %8.2f %7llu %6zu\n",
                s["factor"].get<double>(), s["offered_tps"].get<double>(),
                s["accepted_tps"].get<double>(), s["goodput_tps"].get<double>(),
                l["p50"].get<double>(), l["p99"].get<double>(),
                s["latency_from_first_try_ms"]["p99"].get<double>(), s["max_lag_s"].get<double>(),
                static_cast<unsigned long long>(s["backpressure_retries"].get<uint64_t>()),
                s["txs"]["lost"].get<size_t>());
  }
  std::printf("result %s\n", sweep["ok"].get<bool>() ? "ok" : "FAILED (lost or nothing committed)");
}

}  // namespace cairn::bench
