// Metrics and logs seen from outside (issue 16): a 4-validator Raft network of real cairnd
// processes, each serving /metrics, scraped by a real Prometheus (Debian's `prometheus`) that
// the test queries through its HTTP API; promtool checks each node's exposition; and each
// node's JSON log lines parse, with the per-component levels applied.
#include <unistd.h>

#include <csignal>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "rpc/ws_client.h"
#include "tests/integration/temp_network.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAll = {"v0", "v1", "v2", "v3"};

// The first executable named `name` on PATH (or in /usr/bin), or "".
std::string FindTool(const std::string& name) {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/bin:/usr/local/bin";
  std::stringstream dirs(path);
  for (std::string d; std::getline(dirs, d, ':');) {
    if (d.empty()) continue;
    std::string p = d + "/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// GET `url` with curl (with --data-urlencode pairs for a query); the body, or "" on failure.
std::string HttpGet(const std::string& url, const std::vector<std::string>& query = {}) {
  std::vector<std::string> args = {"-s", "-f", "--max-time", "5", "-G", url};
  for (const std::string& q : query) {
    args.push_back("--data-urlencode");
    args.push_back(q);
  }
  auto r = RunCommand(FindTool("curl"), args, 10s);
  return r.exit_code == 0 ? r.out : "";
}

// The port a node logged for /metrics ("metrics on http://127.0.0.1:PORT/metrics"), or 0.
uint16_t MetricsPort(const Network& net, const std::string& name) {
  static const std::regex re(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  std::smatch m;
  const std::string log = net.Log(name);
  if (!std::regex_search(log, m, re)) return 0;
  return static_cast<uint16_t>(std::stoul(m[1]));
}

// Prometheus's answer to an instant query: the result vector, or null.
json PromQuery(uint16_t port, const std::string& query) {
  const std::string body =
      HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/v1/query", {"query=" + query});
  if (body.empty()) return nullptr;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || j.value("status", "") != "success") return nullptr;
  return j["data"]["result"];
}

// The instances (host:port) in a Prometheus result vector.
std::set<std::string> Instances(const json& result) {
  std::set<std::string> out;
  if (!result.is_array()) return out;
  for (const json& s : result) out.insert(s["metric"].value("instance", ""));
  return out;
}

}  // namespace

TEST_CASE("metrics: a real Prometheus scrapes four validators and sees every one commit",
          "[integration][metrics]") {
  const std::string prometheus = FindTool("prometheus");
  const std::string promtool = FindTool("promtool");
  if (prometheus.empty() || promtool.empty() || FindTool("curl").empty()) {
    WARN(
        "SKIPPED: prometheus, promtool or curl is not installed (Debian: apt-get install "
        "prometheus curl)");
    return;
  }
  TempNetwork net("it-metrics", 4, 0, "raft");
  for (const std::string& n : kAll) {
    net.EditConfig(n, [](json& c) {
      c["metrics"] = {{"listen", "127.0.0.1:0"}};
      c["log"] = {{"format", "json"}, {"levels", {{"p2p", "warn"}}}};
      // A block every interval, load or not, so every node keeps committing while scraped.
      c["consensus"]["empty_blocks"] = true;
      c["consensus"]["block_interval_ms"] = 300;
    });
  }
  net.StartAll(kAll);

  std::vector<std::string> targets;
  for (const std::string& n : kAll) {
    const uint16_t port = MetricsPort(net, n);
    INFO(n << " log: " << net.Log(n));
    REQUIRE(port != 0);
    targets.push_back("127.0.0.1:" + std::to_string(port));
  }
  // Some client traffic, so the mempool and RPC series move.
  uint64_t nonce = 0;
  const size_t accepted = net.Load("v1", &nonce, 50).size();
  REQUIRE(accepted > 0);

  // A Prometheus of its own: temp data dir, a free port, a 1 s scrape of the four endpoints.
  const uint16_t prom_port = FreePortRange(1);
  const std::string prom_dir = net.dir() + "/prometheus";
  REQUIRE(RunCommand("/bin/mkdir", {"-p", prom_dir + "/data"}).exit_code == 0);
  {
    std::ofstream cfg(prom_dir + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
           "scrape_configs:\n  - job_name: cairn\n    static_configs:\n      - targets: [";
    for (size_t i = 0; i < targets.size(); ++i) cfg << (i ? ", " : "") << "'" << targets[i] << "'";
    cfg << "]\n";
  }
  Process prom(
      prometheus,
      {"--config.file=" + prom_dir + "/prometheus.yml", "--storage.tsdb.path=" + prom_dir + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
      prom_dir + "/prometheus.log");

  // Every node is up for Prometheus, then every node's commit rate is above zero.
  const std::set<std::string> all(targets.begin(), targets.end());
  json up;
  const bool all_up = Eventually(
      [&] {
        up = PromQuery(prom_port, "up{job=\"cairn\"} == 1");
        return Instances(up) == all;
      },
      60s);
  INFO("prometheus log: " << TailOf(prom_dir + "/prometheus.log"));
  INFO("up: " << up.dump());
  REQUIRE(all_up);
  json committing;
  const bool all_commit = Eventually(
      [&] {
        committing = PromQuery(prom_port, "rate(cairn_blocks_committed_total[30s]) > 0");
        return Instances(committing) == all;
      },
      90s);
  INFO("rate > 0 for: " << committing.dump());
  REQUIRE(all_commit);
  // Every validator knows its three peers, as Prometheus recorded it.
  REQUIRE(Eventually([&] { return Instances(PromQuery(prom_port, "cairn_p2p_peers == 3")) == all; },
                     30s));

  // Each node's exposition passes promtool's lint, and carries what an operator looks for.
  for (size_t i = 0; i < kAll.size(); ++i) {
    const std::string url = "http://" + targets[i] + "/metrics";
    auto check = RunCommand("/bin/sh", {"-c", "curl -sf " + url + " | " + promtool +
                                                  " check metrics; echo \"exit=$?\""});
    INFO(kAll[i] << ": " << check.out << check.err);
    CHECK(check.out.find("exit=0") != std::string::npos);
    const std::string text = HttpGet(url);
    CHECK(text.find("cairn_chain_height ") != std::string::npos);
    CHECK(text.find("cairn_block_commit_stage_seconds_bucket{stage=\"store\"") !=
          std::string::npos);
    CHECK(text.find("cairn_p2p_messages_total{direction=\"in\",type=\"consensus\"}") !=
          std::string::npos);
    CHECK(text.find("cairn_process_resident_memory_bytes ") != std::string::npos);
    CHECK(text.find("cairn_leveldb_memory_bytes ") != std::string::npos);
  }
  const std::string v1 = HttpGet("http://" + targets[1] + "/metrics");
  CHECK(v1.find("cairn_rpc_requests_total{method=\"sendTransactions\"} 1") != std::string::npos);
  CHECK(v1.find("cairn_mempool_admitted_total{source=\"client\"} " + std::to_string(accepted) +
                "\n") != std::string::npos);

  // A WebSocket subscriber shows up in the RPC server's levels, and leaves them when it goes.
  {
    const json cfg = json::parse(ReadFile(net.Home("v1") + "/config.json"));
    auto ws = rpc::WsClient::Connect("http://" + cfg["rpc"]["listen"].get<std::string>());
    REQUIRE(ws.ok());
    REQUIRE(ws->Subscribe(json::array({"newBlocks"})).ok());
    std::string seen;
    const bool counted = Eventually(
        [&] {
          seen = HttpGet("http://" + targets[1] + "/metrics");
          return seen.find("\ncairn_rpc_ws_connections 1\n") != std::string::npos &&
                 seen.find("\ncairn_rpc_subscriptions 1\n") != std::string::npos;
        },
        10s);
    INFO(seen);
    CHECK(counted);
    CHECK(seen.find("\ncairn_rpc_connections_accepted_total ") != std::string::npos);
    CHECK(seen.find("cairn_rpc_rejected_total{reason=\"inflight\"} 0\n") != std::string::npos);
  }
  CHECK(Eventually(
      [&] {
        const std::string text = HttpGet("http://" + targets[1] + "/metrics");
        return text.find("\ncairn_rpc_ws_connections 0\n") != std::string::npos &&
               text.find("\ncairn_rpc_subscriptions 0\n") != std::string::npos;
      },
      10s));

  // The endpoint serves /metrics and nothing else.
  CHECK(HttpGet("http://" + targets[0] + "/").empty());

  // JSON logs: every line of every node is one object with ts, level, component and msg, and
  // p2p (set to warn) logged no info line while node (default info) did.
  for (const std::string& n : kAll) {
    std::istringstream log(net.Log(n));
    size_t lines = 0, node_info = 0, p2p_info = 0;
    for (std::string line; std::getline(log, line);) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      INFO(n << ": " << line);
      REQUIRE(j.is_object());
      REQUIRE(j.size() == 4);
      for (const char* key : {"ts", "level", "component", "msg"}) REQUIRE(j[key].is_string());
      CHECK(std::regex_match(j["ts"].get<std::string>(),
                             std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
      ++lines;
      if (j["level"] == "info" && j["component"] == "node") ++node_info;
      if (j["level"] == "info" && j["component"] == "p2p") ++p2p_info;
    }
    CHECK(lines > 0);
    CHECK(node_info > 0);
    CHECK(p2p_info == 0);
  }
  prom.Signal(SIGTERM);
  CHECK(prom.Wait(30s).has_value());
}
