#include "bench/report.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "bench/procstat.h"

namespace cairn::bench {
namespace {

using nlohmann::json;

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

json LatencyJson(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {{"count", ms.size()},
          {"p50", Percentile(ms, 50)},
          {"p95", Percentile(ms, 95)},
          {"p99", Percentile(ms, 99)},
          {"max", ms.empty() ? 0.0 : ms.back()}};
}

namespace {

// CPU seconds of pid slot `k` at time t, interpolated between the samples around it.
double CpuAt(const std::vector<CpuSample>& samples, int k, double t) {
  auto value = [k](const CpuSample& s) { return k < 0 ? s.self_cpu_s : s.cpu_s[k]; };
  const CpuSample* before = nullptr;
  for (const CpuSample& s : samples) {
    if (value(s) < 0) continue;
    if (s.t >= t) {
      if (!before || s.t == before->t) return value(s);
      double f = (t - before->t) / (s.t - before->t);
      return value(*before) + f * (value(s) - value(*before));
    }
    before = &s;
  }
  return before ? value(*before) : 0;
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

json BuildReport(const Timeline& tl, const ReportInputs& in) {
  const size_t n = tl.submitted.size();
  size_t accepted = 0, committed = 0, refused = 0, lost = 0, unacknowledged = 0;
  double last_commit = 0;
  for (size_t i = 0; i < n; ++i) {
    bool acc = tl.submitted[i] >= 0, com = tl.committed[i] >= 0;
    accepted += acc;
    committed += com;
    refused += tl.refused[i];
    lost += acc && !com;
    unacknowledged += com && !acc;
    if (com) last_commit = std::max(last_commit, tl.committed[i]);
  }
  size_t unsent = n - accepted - refused;
  // The load period runs from the first submission (t = 0) to the last commit; the steady
  // window is its middle, without the first and last `trim` of it (warm-up and drain).
  double ws = in.trim * last_commit, we = (1 - in.trim) * last_commit;
  double wlen = we - ws;
  size_t steady_committed = 0;
  std::vector<double> lat_steady, lat_all;
  for (size_t i = 0; i < n; ++i) {
    if (tl.committed[i] < 0) continue;
    if (tl.committed[i] >= ws && tl.committed[i] < we) ++steady_committed;
    if (tl.submitted[i] < 0) continue;
    double ms = (tl.committed[i] - tl.submitted[i]) * 1000;
    lat_all.push_back(ms);
    if (tl.submitted[i] >= ws && tl.submitted[i] < we) lat_steady.push_back(ms);
  }
  size_t steady_blocks = 0, steady_block_txs = 0, total_block_txs = 0;
  for (const BlockSeen& b : tl.blocks) {
    total_block_txs += b.txs;
    if (b.t >= ws && b.t < we) {
      ++steady_blocks;
      steady_block_txs += b.txs;
    }
  }
  double tps = wlen > 0 ? static_cast<double>(steady_committed) / wlen : 0;
  double ceiling = in.verify_per_s_core * in.cores / in.verifications_per_tx;

  json nodes = json::array();
  for (size_t k = 0; k < in.pids.size(); ++k) {
    double cpu =
        CpuAt(tl.samples, static_cast<int>(k), we) - CpuAt(tl.samples, static_cast<int>(k), ws);
    auto ps = ReadProc(in.pids[k]);
    nodes.push_back({{"name", in.pid_names[k]},
                     {"pid", in.pids[k]},
                     {"cpu_s_steady", cpu},
                     {"cpu_cores_steady", wlen > 0 ? cpu / wlen : 0},
                     {"cpu_us_per_tx", steady_committed ? cpu * 1e6 / steady_committed : 0},
                     {"rss_mib", ps ? ps->rss_mib : -1},
                     {"rss_peak_mib", ps ? ps->hwm_mib : -1}});
  }
  auto self = ReadProc(getpid());
  double self_cpu = CpuAt(tl.samples, -1, we) - CpuAt(tl.samples, -1, ws);

  double submit_s = tl.send_end;
  json report = {
      {"schema", "cairn-bench/1"},
      {"scenario", in.scenario},
      {"date", NowUtc()},
      {"config", in.config},
      {"machine",
       {{"cores", in.cores},
        {"ed25519_verify_per_s_core", in.verify_per_s_core},
        {"verifications_per_tx", in.verifications_per_tx},
        {"ceiling_tps", ceiling},
        {"load_avg_1m_before", in.load_avg_before},
        {"load_avg_1m_after", in.load_avg_after}}},
      {"txs",
       {{"presigned", n},
        {"accepted", accepted},
        {"refused", refused},
        {"unsent", unsent},
        {"committed", committed},
        {"committed_unacknowledged", unacknowledged},
        {"lost", lost}}},
      {"window",
       {{"definition",
         "steady = [trim*T, (1-trim)*T] where T = last commit, t=0 the first submission"},
        {"trim", in.trim},
        {"setup_s", in.setup_s},
        {"presign_s", in.presign_s},
        {"submit_s", submit_s},
        {"duration_cut", tl.duration_cut},
        {"last_commit_s", last_commit},
        {"steady_start_s", ws},
        {"steady_end_s", we},
        {"steady_s", wlen}}},
      {"tps",
       {{"steady", tps},
        {"overall", last_commit > 0 ? committed / last_commit : 0},
        {"offered", in.config.value("rate", 0.0)},
        {"accepted_rate", submit_s > 0 ? accepted / submit_s : 0},
        {"fraction_of_ceiling", ceiling > 0 ? tps / ceiling : 0}}},
      {"latency_ms", LatencyJson(lat_steady)},
      {"latency_all_ms", LatencyJson(lat_all)},
      {"blocks",
       {{"total", tl.blocks.size()},
        {"steady", steady_blocks},
        {"per_s", wlen > 0 ? steady_blocks / wlen : 0},
        {"txs_per_block",
         steady_blocks
             ? static_cast<double>(steady_block_txs) / steady_blocks
             : (tl.blocks.empty() ? 0.0
                                  : static_cast<double>(total_block_txs) / tl.blocks.size())}}},
      {"nodes", nodes},
      {"bench_process",
       {{"cpu_s_steady", self_cpu},
        {"cpu_cores_steady", wlen > 0 ? self_cpu / wlen : 0},
        {"rss_mib", self ? self->rss_mib : -1}}},
      {"submission",
       {{"calls", tl.calls.load()},
        {"backpressure_retries", tl.retries.load()},
        {"max_lag_s", static_cast<double>(tl.max_lag_us.load()) / 1e6}}},
      {"ok", lost == 0 && committed > 0}};
  return report;
}

void PrintTable(const json& r) {
  const json& c = r["config"];
  const json& t = r["txs"];
  const json& w = r["window"];
  const json& m = r["machine"];
  const json& l = r["latency_ms"];
  double rate = c.value("rate", 0.0);
  std::printf("scenario       %s (%zu node(s); commits seen on %s)\n",
              r["scenario"].get<std::string>().c_str(), c["rpc"].size(),
              c["follow"].get<std::string>().c_str());
  if (rate > 0) {
    std::printf("offered        %.0f tx/s for at most %.0f s, batch %zu, %zu accounts\n", rate,
                c["duration_s"].get<double>(), c["batch"].get<size_t>(),
                c["accounts"].get<size_t>());
  } else {
    std::printf("offered        as fast as accepted, for at most %.0f s, batch %zu, %zu accounts\n",
                c["duration_s"].get<double>(), c["batch"].get<size_t>(),
                c["accounts"].get<size_t>());
  }
  std::printf(
      "transactions   %zu pre-signed, %zu accepted, %zu refused, %zu unsent, %zu committed, "
      "LOST %zu\n",
      t["presigned"].get<size_t>(), t["accepted"].get<size_t>(), t["refused"].get<size_t>(),
      t["unsent"].get<size_t>(), t["committed"].get<size_t>(), t["lost"].get<size_t>());
  std::printf("steady window  %.1f s .. %.1f s (%.1f s of %.1f s load; submitting %.1f s%s)\n",
              w["steady_start_s"].get<double>(), w["steady_end_s"].get<double>(),
              w["steady_s"].get<double>(), w["last_commit_s"].get<double>(),
              w["submit_s"].get<double>(),
              w["duration_cut"].get<bool>() ? ", cut by --duration" : "");
  std::printf("committed TPS  %.0f steady, %.0f overall; accepted %.0f tx/s\n",
              r["tps"]["steady"].get<double>(), r["tps"]["overall"].get<double>(),
              r["tps"]["accepted_rate"].get<double>());
  std::printf(
      "latency (ms)   p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  (%zu txs submitted in the window)\n",
      l["p50"].get<double>(), l["p95"].get<double>(), l["p99"].get<double>(),
      l["max"].get<double>(), l["count"].get<size_t>());
  std::printf("blocks         %.2f blocks/s, %.0f tx/block\n", r["blocks"]["per_s"].get<double>(),
              r["blocks"]["txs_per_block"].get<double>());
  std::printf(
      "ceiling        %.0f Ed25519 verifications/s/core x %u cores / %.0f per tx = %.0f TPS; "
      "steady TPS is %.0f%% of it\n",
      m["ed25519_verify_per_s_core"].get<double>(), m["cores"].get<unsigned>(),
      m["verifications_per_tx"].get<double>(), m["ceiling_tps"].get<double>(),
      100 * r["tps"]["fraction_of_ceiling"].get<double>());
  std::printf("load average   %.2f before, %.2f after\n", m["load_avg_1m_before"].get<double>(),
              m["load_avg_1m_after"].get<double>());
  std::printf("%-10s %8s %9s %7s %10s %9s %9s\n", "process", "pid", "cpu s", "cores", "cpu us/tx",
              "rss MiB", "peak MiB");
  for (const json& n : r["nodes"]) {
    std::printf("%-10s %8d %9.2f %7.2f %10.1f %9.1f %9.1f\n", n["name"].get<std::string>().c_str(),
                n["pid"].get<int>(), n["cpu_s_steady"].get<double>(),
                n["cpu_cores_steady"].get<double>(), n["cpu_us_per_tx"].get<double>(),
                n["rss_mib"].get<double>(), n["rss_peak_mib"].get<double>());
  }
  const json& b = r["bench_process"];
  std::printf("%-10s %8s %9.2f %7.2f %10s %9.1f\n", "cairn-bench", "",
              b["cpu_s_steady"].get<double>(), b["cpu_cores_steady"].get<double>(), "",
              b["rss_mib"].get<double>());
  std::printf("result         %s\n",
              r["ok"].get<bool>() ? "ok" : "FAILED (lost or nothing committed)");
}

}  // namespace cairn::bench
