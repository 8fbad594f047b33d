// Attacks on a real cairnd's process and startup (issue 12): an RPC connection flood under
// a 1024 descriptor limit (R1), a descriptor limit too small to run with (R1), listening
// beyond loopback (R9), out-of-range config values (R10), and a FIFO or a directory given
// where a file belongs. Each starts the real binary and checks what an operator sees.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "config/node_config.h"
#include "crypto/key_file.h"
#include "ledger/kv.h"
#include "node/fd_limits.h"
#include "tests/integration/dev_node.h"
#include "tests/kit/eventually.h"
#include "tests/kit/process.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using namespace cairn::testing;
using namespace cairn::testkit;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kPrlimit = "/usr/bin/prlimit";

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// A single-validator home that commits an empty block every 100 ms, so commits show
// whether the node is alive without a client getting through.
std::string MakeHome(const TempDir& dir, const std::function<void(json&)>& edit = {}) {
  const std::string home = dir.Sub("node");
  auto r = RunCommand(CairndPath(),
                      {"init", "--home", home, "--chain-id", "cairn-dev", "--rpc-listen",
                       "127.0.0.1:0", "--p2p-listen", "127.0.0.1:0", "--block-interval-ms", "100"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json c = json::parse(ReadFile(home + "/config.json"));
  c["consensus"]["empty_blocks"] = true;
  if (edit) edit(c);
  std::ofstream(home + "/config.json") << c.dump(2);
  return home;
}

config::NodeConfig ConfigOf(const std::string& home) {
  auto c = config::NodeConfig::Load(home + "/config.json");
  REQUIRE(c.ok());
  return *c;
}

// cairnd --home HOME under `prlimit --nofile=SOFT:HARD`; prlimit execs it, so the pid is
// cairnd's. The log goes to HOME.log.
struct Started {
  std::unique_ptr<Process> proc;
  std::string url;
  uint16_t port = 0;
};
Started StartLimited(const std::string& home, const std::string& nofile,
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"--nofile=" + nofile, CairndPath(), "--home", home};
  args.insert(args.end(), extra.begin(), extra.end());
  Started s;
  s.proc = std::make_unique<Process>(kPrlimit, args, home + ".log");
  auto line = s.proc->WaitForLine("rpc: ", std::chrono::seconds(30));
  INFO(TailOf(home + ".log"));
  REQUIRE(line);
  s.url = line->substr(5);
  s.port = static_cast<uint16_t>(std::stoul(s.url.substr(s.url.rfind(':') + 1)));
  return s;
}

// "Max open files  SOFT  HARD  files" of /proc/PID/limits.
std::pair<uint64_t, uint64_t> OpenFileLimits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    unsigned long long soft = 0, hard = 0;
    if (std::sscanf(line.c_str() + 14, "%llu %llu", &soft, &hard) == 2) return {soft, hard};
  }
  return {0, 0};
}

// Descriptors the process holds now; nullopt once it is gone.
std::optional<size_t> FdsInUse(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  if (ec) return std::nullopt;
  return n;
}

struct FloodReport {
  uint64_t attempts = 0;    // connect() calls
  size_t peak_held = 0;     // connections open at once, at most
  size_t max_node_fds = 0;  // the most descriptors cairnd held at one sample
  bool node_alive = true;   // at every sample
  uint64_t start_ms = 0, end_ms = 0;
};

// Opens connections to 127.0.0.1:port as fast as it can, up to `concurrent` at once, holds
// them without a byte sent (as the attack did), and opens a new one for each the node
// closes, for `duration`; samples cairnd's descriptors as it goes.
FloodReport Flood(uint16_t port, pid_t pid, std::chrono::seconds duration, size_t concurrent,
                  uint64_t max_attempts) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  FloodReport r;
  r.start_ms = NowMs();
  std::vector<int> held;
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    while (held.size() < concurrent && r.attempts < max_attempts) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;  // our own limit: hold what we have
      ++r.attempts;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
          errno != EINPROGRESS) {
        ::close(fd);
        break;
      }
      held.push_back(fd);
    }
    r.peak_held = std::max(r.peak_held, held.size());
    // Replace the connections the node closed (EOF or reset); keep those it answered.
    std::erase_if(held, [](int fd) {
      char buf[1024];
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return false;
      ::close(fd);
      return true;
    });
    auto fds = FdsInUse(pid);
    if (!fds) {
      r.node_alive = false;
      break;
    }
    r.max_node_fds = std::max(r.max_node_fds, *fds);
    // Pacing, not synchronisation: the flood's sampling period.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.end_ms = NowMs();
  for (int fd : held) ::close(fd);
  return r;
}

// The flood needs more descriptors than a 1024 default: take what the hard limit allows.
size_t RaiseOwnFdLimit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 8192)
    rl.rlim_cur = 8192;
  else
    rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<size_t>(rl.rlim_cur);
}

}  // namespace

TEST_CASE("R1: an RPC connection flood under a 1024 descriptor limit leaves the node committing",
          "[integration][attack][fd]") {
  TempDir dir("attack-fd");
  const std::string home = MakeHome(dir);
  const node::FdBudget budget = node::FdBudgetFor(ConfigOf(home));
  REQUIRE(budget.total() < 1024);  // the defaults fit a common service limit

  Started node = StartLimited(home, "1024:1024");
  const pid_t pid = node.proc->pid();
  CHECK(OpenFileLimits(pid) == std::pair<uint64_t, uint64_t>{1024, 1024});
  const size_t idle_fds = FdsInUse(pid).value_or(0);

  const size_t own = RaiseOwnFdLimit();
  const size_t concurrent = std::min<size_t>(2500, own - 128);
  FloodReport flood = Flood(node.port, pid, std::chrono::seconds(8), concurrent,
                            /*max_attempts=*/20000);
  std::printf(
      "R1 flood: %llu connection attempts, up to %zu held at once; cairnd fds idle %zu, max %zu "
      "(soft limit 1024, budget %s)\n",
      static_cast<unsigned long long>(flood.attempts), flood.peak_held, idle_fds,
      flood.max_node_fds, budget.Describe().c_str());
  INFO(TailOf(home + ".log"));
  REQUIRE(flood.node_alive);
  CHECK(flood.attempts > 2048);
  if (concurrent > 1024) {
    CHECK(flood.peak_held > 1024);
  } else {
    WARN("this test may hold only " << own << " descriptors: the flood held " << flood.peak_held);
  }
  // The node never reached its limit: a file LevelDB opens now would get a descriptor.
  CHECK(flood.max_node_fds <= budget.total());
  CHECK(flood.max_node_fds < 1024);

  // Commits went on during the flood: blocks were built in its last six seconds.
  auto client = rpc::Client::Create(node.url);
  REQUIRE(client.ok());
  json status;
  REQUIRE(Eventually(
      [&] {
        auto r = client->Call("getStatus");
        if (r.ok()) status = r.value();
        return r.ok();
      },
      std::chrono::seconds(30)));
  auto blocks = client->Call("getBlocks", {{"from", 1}});
  REQUIRE(blocks.ok());
  size_t during = 0;
  for (const json& b : blocks.value()) {
    const uint64_t t = b["timestamp_ms"].get<uint64_t>();
    if (t >= flood.start_ms + 2000 && t <= flood.end_ms) ++during;
  }
  std::printf("R1 flood: %zu blocks committed in the flood's last %llu ms, head %llu\n", during,
              static_cast<unsigned long long>(flood.end_ms - flood.start_ms - 2000),
              static_cast<unsigned long long>(status["height"].get<uint64_t>()));
  CHECK(during >= 10);  // one per 100 ms when nothing stalls; 10 leaves room for a busy CI

  // And a client is served again: a transaction commits.
  const crypto::KeyPair admin = *crypto::ReadKeyFile(home + "/admin_key.json");
  auto tx = MakeTx(admin, "cairn-dev", 0, ledger::Transfer{admin.public_key(), 1});
  REQUIRE(client->Call("sendTransaction", {{"tx", Hex(tx)}}).ok());
  CHECK(WaitCommitted(*client, tx.Hash().ToHex()));

  node.proc->Signal(SIGTERM);
  CHECK(node.proc->Wait(std::chrono::seconds(30)) == 0);
  CHECK(ReadFile(home + ".log").find("halting") == std::string::npos);
}

TEST_CASE("R1: a soft descriptor limit below the budget is raised to it at startup",
          "[integration][attack][fd]") {
  TempDir dir("attack-fd");
  const std::string home = MakeHome(dir);
  const node::FdBudget budget = node::FdBudgetFor(ConfigOf(home));
  // A hard limit above the budget that this test may set without privileges.
  const uint64_t hard = std::min<uint64_t>(RaiseOwnFdLimit(), 4096);
  REQUIRE(hard >= budget.total());
  Started node = StartLimited(home, "256:" + std::to_string(hard));
  CHECK(OpenFileLimits(node.proc->pid()) == std::pair<uint64_t, uint64_t>{budget.total(), hard});
  node.proc->Signal(SIGTERM);
  CHECK(node.proc->Wait(std::chrono::seconds(30)) == 0);
  CHECK_THAT(
      ReadFile(home + ".log"),
      Catch::Contains("raised the open file limit from 256 to " + std::to_string(budget.total()) +
                      " (hard limit " + std::to_string(hard) + ")"));
}

TEST_CASE("R1: a hard descriptor limit below the budget refuses to start, saying what to change",
          "[integration][attack][fd]") {
  TempDir dir("attack-fd");
  const std::string home = MakeHome(dir);
  const node::FdBudget budget = node::FdBudgetFor(ConfigOf(home));
  const std::string need = std::to_string(budget.total());

  auto tiny = RunCommand(kPrlimit, {"--nofile=100:100", CairndPath(), "--home", home});
  CHECK(tiny.exit_code == 1);
  CHECK_THAT(tiny.err, Catch::StartsWith("cairnd: the open file limit is too low: this node may "
                                         "need " +
                                         budget.Describe()));
  CHECK_THAT(tiny.err, Catch::Contains("the hard limit (RLIMIT_NOFILE) is 100") &&
                           Catch::Contains("LimitNOFILE=" + need) &&
                           Catch::Contains("ulimit -n " + need));
  // Nothing but connections could make room, and they cannot here: no such advice.
  CHECK_THAT(tiny.err, !Catch::Contains("lower rpc.max_connections"));
  // Refused before the store opened.
  CHECK_FALSE(fs::exists(home + "/data"));

  // Where fewer RPC connections would fit, the message says how many.
  const uint64_t hard = budget.total() - 100;
  auto tight =
      RunCommand(kPrlimit, {"--nofile=" + std::to_string(hard) + ":" + std::to_string(hard),
                            CairndPath(), "--home", home});
  CHECK(tight.exit_code == 1);
  const uint64_t fits = budget.rpc_connections - 100;
  CHECK_THAT(tight.err,
             Catch::Contains("or lower rpc.max_connections to at most " + std::to_string(fits)));
  // ... and it does.
  json c = json::parse(ReadFile(home + "/config.json"));
  c["rpc"]["max_connections"] = fits;
  std::ofstream(home + "/config.json") << c.dump(2);
  Started node = StartLimited(home, std::to_string(hard) + ":" + std::to_string(hard));
  node.proc->Signal(SIGTERM);
  CHECK(node.proc->Wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("the descriptor budget adds up what the config allows", "[fd]") {
  config::NodeConfig c;
  c.rpc_max_connections = 1000;
  c.peers.resize(3);
  const node::FdBudget b = node::FdBudgetFor(c);
  CHECK(b.rpc_connections == 1000);
  CHECK(b.rpc_refusing == node::kRpcRefusingFds);
  CHECK(b.p2p_outbound == 3);
  CHECK(b.store == static_cast<uint64_t>(ledger::LevelDbOptions{}.max_open_files));
  CHECK(b.total() == 1000 + b.rpc_refusing + b.p2p_inbound + 3 + 2 + b.store + b.reserve);

  // Never lowered; raised to the budget; refused past the hard limit.
  CHECK(*node::SoftLimitFor(b, {b.total() + 5, b.total() + 5}) == b.total() + 5);
  CHECK(*node::SoftLimitFor(b, {1024, UINT64_MAX}) == b.total());
  CHECK(*node::SoftLimitFor(b, {1024, b.total()}) == b.total());
  auto refused = node::SoftLimitFor(b, {1024, b.total() - 1});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("lower rpc.max_connections to at most 999"));
}

TEST_CASE("R9: RPC or p2p beyond loopback is warned about, at testnet and at start",
          "[integration][attack]") {
  TempDir dir("attack-expose");
  auto net = RunCommand(CairndPath(), {"testnet", "--out", dir.Sub("net"), "--validators", "1",
                                       "--consensus", "solo", "--host", "0.0.0.0"});
  INFO(net.err);
  REQUIRE(net.exit_code == 0);
  // --host moves p2p only: RPC stays on loopback, and p2p's exposure is said.
  CHECK(ConfigOf(dir.Sub("net/v0")).rpc_listen == "127.0.0.1:8545");
  CHECK_THAT(net.err, Catch::Contains("warning: p2p.listen is 0.0.0.0:26656, reachable from "
                                      "other hosts"));
  CHECK_THAT(net.err, !Catch::Contains("rpc.listen"));

  auto open = RunCommand(CairndPath(), {"testnet", "--out", dir.Sub("open"), "--validators", "1",
                                        "--consensus", "solo", "--rpc-host", "0.0.0.0"});
  REQUIRE(open.exit_code == 0);
  CHECK_THAT(open.err, Catch::Contains("warning: rpc.listen is 0.0.0.0:8545, reachable from "
                                       "other hosts: JSON-RPC has no TLS and no authentication"));

  // At start: the log says it before serving.
  const std::string home = MakeHome(dir);
  Started node = StartLimited(home, "1024:1024", {"--rpc-listen", "0.0.0.0:0"});
  node.proc->Signal(SIGTERM);
  CHECK(node.proc->Wait(std::chrono::seconds(30)) == 0);
  CHECK_THAT(ReadFile(home + ".log"),
             Catch::Contains("warning [node] rpc.listen is 0.0.0.0:0, reachable from other hosts"));
}

TEST_CASE("R10: an out-of-range config value is refused with its key and range, not SIGABRT",
          "[integration][attack]") {
  TempDir dir("attack-config");
  const std::string home = MakeHome(dir, [](json& c) { c["rpc"]["threads"] = 100000; });
  auto r = RunCommand(CairndPath(), {"--home", home});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "cairnd: " + home +
                     "/config.json: config: rpc.threads: 100000 is not an integer in range "
                     "(allowed 1 to 256)\n");
  // A command-line override is held to the same rules.
  json c = json::parse(ReadFile(home + "/config.json"));
  c["rpc"]["threads"] = 2;
  std::ofstream(home + "/config.json") << c.dump(2);
  auto level = RunCommand(CairndPath(), {"--home", home, "--log-level", "loud"});
  CHECK(level.exit_code == 1);
  CHECK_THAT(level.err, Catch::Contains("config: log_level: must be one of"));
}

TEST_CASE("a FIFO or a directory given as key, genesis or config file is refused at once",
          "[integration][attack]") {
  TempDir dir("attack-files");
  const std::string home = MakeHome(dir);
  const std::string fifo = home + "/fifo_key.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto edit = [&](const std::string& key, const std::string& value) {
    json c = json::parse(ReadFile(home + "/config.json"));
    c[key] = value;
    std::ofstream(home + "/config.json") << c.dump(2);
  };

  // A blocking open of a FIFO nobody writes would hang startup; RunCommand kills it at 30 s.
  edit("key_file", "fifo_key.json");
  auto key = RunCommand(CairndPath(), {"--home", home}, std::chrono::seconds(30));
  CHECK(key.exit_code == 1);
  CHECK_THAT(key.err, Catch::EndsWith("\ncairnd: key file: " + fifo +
                                      " is a FIFO (named pipe), not a file\n"));

  edit("key_file", "node_key.json");
  fs::create_directory(home + "/genesis.d");
  edit("genesis_file", "genesis.d");
  auto genesis = RunCommand(CairndPath(), {"--home", home});
  CHECK(genesis.exit_code == 1);
  CHECK_THAT(genesis.err, Catch::EndsWith("\ncairnd: genesis: " + home +
                                          "/genesis.d is a directory, not a file\n"));

  auto config = RunCommand(CairndPath(), {"--config", home});
  CHECK(config.exit_code == 1);
  CHECK(config.err == "cairnd: config: " + home + " is a directory, not a file\n");
}
