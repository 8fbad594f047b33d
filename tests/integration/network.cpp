#include "tests/integration/network.h"

#include <cstdio>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "crypto/key_file.h"
#include "tests/integration/dev_node.h"

namespace cairn::testing {

using testkit::Process;
using testkit::ReadFile;
using testkit::RunCommand;
using testkit::TailOf;

uint16_t FreePortRange(size_t count) {
  // Below the kernel's ephemeral range: a port in it may be taken, while a node is down, as
  // the local end of another node's outbound connection, and the node could not restart.
  unsigned low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const unsigned first = 10000;
  const unsigned span = low > first + 2000 ? low - first - static_cast<unsigned>(count) : 20000;
  // Each call starts elsewhere: ranges handed out earlier may still be unbound (a node added
  // but not started yet).
  static std::atomic<unsigned> calls{0};
  std::mt19937 rng(static_cast<unsigned>(getpid()) + 7919 * calls++);
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t base = static_cast<uint16_t>(first + rng() % span);
    bool ok = true;
    std::vector<int> fds;
    for (size_t i = 0; i < count && ok; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(base + i));
      ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      fds.push_back(fd);
    }
    for (int fd : fds) close(fd);
    if (ok) return base;
  }
  throw std::runtime_error("no free port range");
}

Network::Network(const std::string& dir, size_t validators, size_t observers,
                 const std::string& consensus)
    : dir_(dir) {
  size_t total = validators + observers;
  uint16_t base = FreePortRange(2 * total);
  rpc_base_ = base;
  auto r =
      RunCommand(CairndPath(), {"testnet", "--out", dir, "--validators", std::to_string(validators),
                                "--observers", std::to_string(observers), "--consensus", consensus,
                                "--rpc-port", std::to_string(base), "--p2p-port",
                                std::to_string(base + total), "--block-interval-ms", "50"});
  if (r.exit_code != 0) throw std::runtime_error("cairnd testnet failed: " + r.err);
  for (size_t i = 0; i < validators; ++i) names_.push_back("v" + std::to_string(i));
  for (size_t i = 0; i < observers; ++i) names_.push_back("o" + std::to_string(i));
}

Network::~Network() {
  for (auto& [name, p] : procs_) {
    if (p && p->running()) {
      p->Signal(SIGKILL);
      p->Wait(std::chrono::seconds(10));
    }
  }
}

std::string Network::AddNode(const std::string& name, const crypto::KeyPair& key) {
  const uint16_t ports = FreePortRange(2);
  nlohmann::json cfg = nlohmann::json::parse(ReadFile(Home(names_.front()) + "/config.json"));
  cfg["name"] = name;
  cfg["rpc"]["listen"] = "127.0.0.1:" + std::to_string(ports);
  const std::string p2p = "127.0.0.1:" + std::to_string(ports + 1);
  cfg["p2p"]["listen"] = p2p;
  nlohmann::json peers = nlohmann::json::array();
  nlohmann::json genesis = nlohmann::json::parse(ReadFile(dir_ + "/genesis.json"));
  for (const auto& v : genesis["validators"]) {
    peers.push_back({{"address", v["address"]}, {"node_id", v["public_key"]}});
  }
  cfg["p2p"]["peers"] = peers;
  std::filesystem::create_directories(Home(name));
  std::ofstream(Home(name) + "/config.json") << cfg.dump(2);
  WriteKey(name, key);
  names_.push_back(name);
  return p2p;
}

void Network::WriteKey(const std::string& name, const crypto::KeyPair& key) {
  std::filesystem::remove(Home(name) + "/node_key.json");
  if (cairn::Status s = crypto::WriteKeyFile(Home(name) + "/node_key.json", key); !s.ok()) {
    throw std::runtime_error("writing the key of " + name + ": " + s.message());
  }
}

void Network::EditConfig(const std::string& name,
                         const std::function<void(nlohmann::json&)>& edit) {
  std::string path = Home(name) + "/config.json";
  nlohmann::json j = nlohmann::json::parse(ReadFile(path));
  edit(j);
  std::ofstream(path) << j.dump(2);
}

bool Network::Start(const std::string& name, std::string* why, const std::string& binary) {
  auto& p = procs_[name];
  p = std::make_unique<Process>(binary.empty() ? CairndPath() : binary,
                                std::vector<std::string>{"--home", Home(name)},
                                Home(name) + ".log");
  if (!p->WaitForLine("rpc: ", std::chrono::seconds(30))) {
    std::string reason = name + " did not start; log:\n" + TailOf(Home(name) + ".log");
    // Also on stderr, so a failing REQUIRE(Start(...)) shows it in the test's output.
    std::fprintf(stderr, "%s\n", reason.c_str());
    if (why) *why = reason;
    return false;
  }
  return true;
}

void Network::Launch(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--home", Home(name)};
  args.insert(args.end(), extra.begin(), extra.end());
  procs_[name] = std::make_unique<Process>(CairndPath(), args, Home(name) + ".log");
}

bool Network::WaitServing(const std::string& name, std::chrono::seconds timeout) {
  auto& p = procs_[name];
  return p && p->WaitForLine("rpc: ", timeout).has_value();
}

std::optional<int> Network::Stop(const std::string& name) {
  auto& p = procs_[name];
  if (!p) return std::nullopt;
  p->Signal(SIGTERM);
  return p->Wait(std::chrono::seconds(30));
}

void Network::Kill(const std::string& name) {
  auto& p = procs_[name];
  if (!p) return;
  p->Signal(SIGKILL);
  p->Wait(std::chrono::seconds(10));
}

rpc::Client Network::Client(const std::string& name) const {
  nlohmann::json cfg = nlohmann::json::parse(ReadFile(Home(name) + "/config.json"));
  auto c = rpc::Client::Create("http://" + cfg["rpc"]["listen"].get<std::string>());
  if (!c.ok()) throw std::runtime_error(c.error());
  return std::move(c.value());
}

nlohmann::json Network::Status(const std::string& name) const {
  auto c = Client(name);
  auto r = c.Call("getStatus");
  return r.ok() ? r.value() : nlohmann::json();
}

uint64_t Height(const Network& net, const std::string& name) {
  nlohmann::json s = net.Status(name);
  return s.is_null() ? 0 : s["height"].get<uint64_t>();
}

bool AllCommitted(const Network& net, const std::string& node,
                  const std::vector<std::string>& hashes) {
  auto c = net.Client(node);
  for (const std::string& h : hashes) {
    auto r = c.Call("getTransaction", {{"hash", h}});
    if (!r.ok() || r.value()["status"] != "committed") return false;
  }
  return true;
}

}  // namespace cairn::testing
