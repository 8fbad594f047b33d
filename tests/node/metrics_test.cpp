// NodeMetrics, its HTTP listener and the JSON log format, in one process: what an operator's
// Prometheus or log shipper would read.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/node_config.h"
#include "node/logging.h"
#include "node/metrics.h"
#include "node/metrics_server.h"
#include "tests/kit/eventually.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::node;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Sends `request` raw and returns everything the server wrote before closing.
std::string Exchange(uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("metrics: events show up as Prometheus series", "[node][metrics]") {
  NodeMetrics m;
  m.OnBlockCommitted(
      /*txs=*/3, /*block_time_ms=*/1'000'000, /*now_unix_ms=*/1'000'040,
      NodeMetrics::CommitTiming{.store = 0.004, .mempool = 0, .total = 0.02},
      /*built=*/true);
  m.OnBlockCommitted(5, 1'000'200, 1'000'230, NodeMetrics::CommitTiming{}, /*built=*/false);
  std::vector<ledger::Admission> results(4);
  results[1].code = ledger::TxCode::kNonceTooLow;
  results[2].code = ledger::TxCode::kNonceTooLow;
  results[3].code = static_cast<ledger::TxCode>(200);  // no such code: counted as "other"
  m.OnAdmitted(results, /*from_client=*/true);
  m.OnP2pMessage(0x50, 100, /*received=*/true);
  m.OnP2pMessage(0x50, 60, /*received=*/false);
  m.OnP2pMessage(0x01, 1000, /*received=*/true);  // a type the node does not route: ignored
  m.InitRpcMethods({"getStatus"});
  m.OnRpcCall("getStatus", 0, 0.001);
  m.OnRpcCall("getStatus", 1003, 0.001);
  m.OnRpcCall("no such method, and long: " + std::string(1000, 'x'), -32601, 0.0);

  consensus::EngineStatus s;
  s.leader = 0;
  s.term = 0;
  m.OnEngineStatus(s, /*bft=*/true);
  s.term = 2;  // two rounds timed out at height 1
  m.OnEngineStatus(s, true);
  s.commit_height = 1;
  s.term = 0;
  s.leader = 1;
  m.OnEngineStatus(s, true);
  m.AddCollector([](MetricFamilies& out) {
    out.push_back(FamilyBuilder("cairn_test_level", "a level read at scrape time",
                                prometheus::MetricType::Gauge)
                      .Add(7, {{"part", "a"}})
                      .Build());
  });

  const std::string text = m.Render();
  CHECK(HasLine(text, "cairn_blocks_committed_total 2"));
  CHECK(HasLine(text, "cairn_blocks_proposed_committed_total 1"));
  CHECK(HasLine(text, "cairn_transactions_committed_total 8"));
  CHECK(HasLine(text, "cairn_block_interval_seconds_count 1"));
  CHECK(HasLine(text, "cairn_block_interval_seconds_sum 0.2"));
  CHECK(HasLine(text, "cairn_block_proposal_to_commit_seconds_bucket{le=\"0.05\"} 2"));
  CHECK(HasLine(text, "cairn_block_commit_stage_seconds_bucket{stage=\"store\",le=\"0.005\"} 2"));
  CHECK(HasLine(text, "cairn_mempool_admitted_total{source=\"client\"} 1"));
  CHECK(HasLine(text, "cairn_mempool_refused_total{reason=\"nonce_too_low\",source=\"client\"} 2"));
  CHECK(HasLine(text, "cairn_mempool_refused_total{reason=\"other\",source=\"client\"} 1"));
  CHECK(HasLine(text, "cairn_p2p_messages_total{direction=\"in\",type=\"consensus\"} 1"));
  CHECK(HasLine(text, "cairn_p2p_message_bytes_total{direction=\"out\",type=\"consensus\"} 60"));
  CHECK(HasLine(text, "cairn_rpc_requests_total{method=\"getStatus\"} 2"));
  CHECK(HasLine(text, "cairn_rpc_errors_total{method=\"getStatus\"} 1"));
  CHECK(HasLine(text, "cairn_rpc_requests_total{method=\"other\"} 1"));
  CHECK(text.find("xxxx") == std::string::npos);  // a caller's method name never becomes a label
  CHECK(HasLine(text, "cairn_consensus_rounds_begun_total 2"));
  CHECK(HasLine(text, "cairn_consensus_leader_changes_total 0"));  // BFT's proposer rotates
  CHECK(HasLine(text, "cairn_consensus_rounds_per_height_bucket{le=\"3\"} 1"));
  CHECK(HasLine(text, "cairn_consensus_rounds_per_height_bucket{le=\"2\"} 0"));
  CHECK(HasLine(text, "cairn_test_level{part=\"a\"} 7"));

  // promtool's lint, where Debian's prometheus package is installed.
  testkit::TempDir dir("metrics-unit");
  { std::ofstream(dir.path() + "/m.txt") << text; }
  if (access("/usr/bin/promtool", X_OK) == 0) {
    auto r = testkit::RunCommand(
        "/bin/sh", {"-c", "/usr/bin/promtool check metrics < " + dir.path() + "/m.txt"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
  } else {
    WARN("promtool not installed: lint skipped");
  }
}

TEST_CASE("metrics: Raft leader changes and terms are counted", "[node][metrics]") {
  NodeMetrics m;
  consensus::EngineStatus s;
  s.term = 1;
  s.leader = 0;
  m.OnEngineStatus(s, /*bft=*/false);
  s.term = 3;  // two elections: the first timed out
  s.leader = consensus::kNoReplica;
  m.OnEngineStatus(s, false);
  s.leader = 2;
  m.OnEngineStatus(s, false);
  m.OnEngineStatus(s, false);
  const std::string text = m.Render();
  CHECK(HasLine(text, "cairn_consensus_leader_changes_total 1"));
  CHECK(HasLine(text, "cairn_consensus_rounds_begun_total 2"));
}

TEST_CASE("metrics: LevelDB's stats table and the process become gauges", "[node][metrics]") {
  const std::string stats =
      "                               Compactions\n"
      "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
      "--------------------------------------------------\n"
      "  0        3        2         0        0         1\n"
      "  1        5        8         1        9         8\n";
  MetricFamilies out;
  CollectLevelDbStats(stats, out);
  CollectProcess(out);
  std::map<std::string, const prometheus::MetricFamily*> by_name;
  for (const auto& f : out) by_name[f.name] = &f;
  REQUIRE(by_name.count("cairn_leveldb_files"));
  REQUIRE(by_name["cairn_leveldb_files"]->metric.size() == 2);
  CHECK(by_name["cairn_leveldb_files"]->metric[1].gauge.value == 5);
  CHECK(by_name["cairn_leveldb_size_bytes"]->metric[1].gauge.value == 8.0 * 1048576);
  CHECK(by_name["cairn_leveldb_compaction_read_bytes_total"]->metric[1].counter.value ==
        9.0 * 1048576);
  REQUIRE(by_name.count("cairn_process_resident_memory_bytes"));
  CHECK(by_name["cairn_process_resident_memory_bytes"]->metric[0].gauge.value > 1e6);
  CHECK(by_name["cairn_process_open_fds"]->metric[0].gauge.value >= 3);
  CHECK(by_name.count("cairn_process_cpu_seconds_total"));

  MetricFamilies none;
  CollectLevelDbStats("garbage\n", none);
  CHECK(none.empty());
}

TEST_CASE("metrics: a scoped collector is scraped while it lives, and not after",
          "[node][metrics]") {
  NodeMetrics m;
  auto gauge = [](const char* name, double v) {
    return [name, v](MetricFamilies& out) {
      out.push_back(FamilyBuilder(name, "test", prometheus::MetricType::Gauge).Add(v).Build());
    };
  };
  m.AddCollector(gauge("cairn_test_forever", 1));
  {
    auto scoped = m.AddScopedCollector(gauge("cairn_test_scoped", 2));
    const std::string text = m.Render();
    CHECK(HasLine(text, "cairn_test_forever 1"));
    CHECK(HasLine(text, "cairn_test_scoped 2"));
  }
  const std::string text = m.Render();
  CHECK(HasLine(text, "cairn_test_forever 1"));
  CHECK(text.find("cairn_test_scoped") == std::string::npos);
}

TEST_CASE("metrics server: GET /metrics only, within its bounds", "[node][metrics]") {
  std::atomic<int> renders{0};
  MetricsServer server([&] {
    ++renders;
    return std::string("cairn_up 1\n");
  });
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  const uint16_t port = server.port();
  REQUIRE(port != 0);

  std::string ok = Exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.find("\r\n\r\ncairn_up 1\n") != std::string::npos);

  CHECK(Exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(Exchange(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 405", 0) ==
        0);
  // A request with a body is refused before it is read.
  CHECK(Exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            .rfind("HTTP/1.1 413", 0) == 0);
  // A head past the limit is refused without rendering.
  const int before = renders.load();
  const std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                          std::string(MetricsServer::kMaxHeaderBytes, 'a') + "\r\n\r\n";
  CHECK(Exchange(port, big).rfind("HTTP/1.1 431", 0) == 0);
  CHECK(renders.load() == before);

  // kMaxConnections idle connections (opened, nothing sent) cannot lock a scraper out: each
  // scrape that arrives evicts the oldest of them and is served. They were accepted first (the
  // listen queue is FIFO), so after as many scrapes every idle one has been closed.
  {
    asio::io_context io;
    std::vector<std::unique_ptr<tcp::socket>> idle;
    for (size_t i = 0; i < MetricsServer::kMaxConnections; ++i) {
      idle.push_back(std::make_unique<tcp::socket>(io));
      idle.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    for (size_t i = 0; i < MetricsServer::kMaxConnections; ++i) {
      INFO("scrape " << i);
      const std::string got = Exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
      CHECK(got.find("\r\n\r\ncairn_up 1\n") != std::string::npos);
    }
    // Each idle connection was closed unanswered (evicted, or at the read deadline).
    for (auto& s : idle) {
      char byte;
      boost::system::error_code ec;
      const size_t n = s->read_some(asio::buffer(&byte, 1), ec);
      CHECK(n == 0);
      CHECK(ec);
    }
  }

  // A connection that sends part of its request and stalls is closed at the read deadline,
  // unanswered, even with no newcomer to make room for.
  {
    asio::io_context io;
    tcp::socket slow(io);
    slow.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(slow, asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHo")));
    char byte;
    boost::system::error_code ec;
    CHECK(slow.read_some(asio::buffer(&byte, 1), ec) == 0);  // blocks until the server closes
    CHECK(ec);
  }
  CHECK(Exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
  server.Stop();
}

TEST_CASE("logs: --log-format json writes one parseable object per line, levels per component",
          "[node][logging]") {
  testkit::TempDir dir("log-json");
  const std::string path = dir.path() + "/stderr.txt";
  const int saved = dup(STDERR_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  dup2(fd, STDERR_FILENO);
  SetupLogging(LogOptions{.level = "info", .format = "json", .levels = {{"rpc", "error"}}});
  Log("node")->info("quote \" backslash \\ newline \n tab \t bell \x07 bad utf8 \xff end é");
  Log("rpc")->warn("hidden: rpc is at error");
  Log("rpc")->error("shown");
  Log("consensus")->debug("hidden: below info");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  SetupLogging(LogOptions{});  // back to text for the other tests

  std::istringstream in(testkit::ReadFile(path));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    REQUIRE(!j.is_discarded());
    lines.push_back(j);
  }
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["component"] == "node");
  CHECK(lines[0]["level"] == "info");
  CHECK(lines[0]["msg"] ==
        "quote \" backslash \\ newline \n tab \t bell \x07 bad utf8 \xef\xbf\xbd end é");
  CHECK(lines[0]["ts"].get<std::string>().size() == 24);
  CHECK(lines[1]["component"] == "rpc");
  CHECK(lines[1]["level"] == "error");
  CHECK(lines[1]["msg"] == "shown");
}

TEST_CASE("config: metrics.listen and log settings are read and checked", "[node][config]") {
  auto c = config::NodeConfig::FromJson(
      R"({"metrics": {"listen": "127.0.0.1:9100"},
          "log": {"format": "json", "levels": {"p2p": "debug", "rpc": "warn"}}})",
      "/tmp");
  REQUIRE(c.ok());
  CHECK(c->metrics_listen == "127.0.0.1:9100");
  CHECK(c->log_format == "json");
  CHECK(c->log_levels.at("p2p") == "debug");
  auto again = config::NodeConfig::FromJson(c->ToJson(), "/tmp");
  REQUIRE(again.ok());
  CHECK(again->log_levels == c->log_levels);
  CHECK(config::ExposureWarnings(*c).empty());

  auto exposed = config::NodeConfig::FromJson(R"({"metrics": {"listen": "0.0.0.0:9100"}})", "/tmp");
  REQUIRE(exposed.ok());
  auto warnings = config::ExposureWarnings(*exposed);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("metrics.listen is 0.0.0.0:9100") == 0);

  CHECK(config::NodeConfig().metrics_listen.empty());  // off by default
  for (const char* bad :
       {R"({"metrics": {"listen": "nope"}})", R"({"metrics": {"port": 1}})",
        R"({"log": {"format": "xml"}})", R"({"log": {"levels": {"disk": "info"}}})",
        R"({"log": {"levels": {"p2p": "loud"}}})"}) {
    INFO(bad);
    CHECK(!config::NodeConfig::FromJson(bad, "/tmp").ok());
  }
  CHECK(
      config::NodeConfig::FromJson(R"({"log": {"levels": {"disk": "info"}}})", "/tmp").error() ==
      std::string("config: log.levels.disk: unknown component (node, rpc, consensus, store, p2p)"));
}
