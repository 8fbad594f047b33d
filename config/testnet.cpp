#include "config/testnet.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "config/node_config.h"
#include "crypto/key_file.h"

namespace cairn::config {

namespace fs = std::filesystem;

namespace {
// "host:port", with an IPv6 host in brackets.
std::string HostPort(const std::string& host, size_t port) {
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}
}  // namespace

Result<TestnetResult> GenerateTestnet(const std::string& out, const TestnetOptions& opts) {
  if (opts.validators == 0) return Status::Error("testnet: at least one validator is needed");
  if (opts.consensus == genesis::ConsensusKind::kSolo && opts.validators != 1) {
    return Status::Error("testnet: solo consensus takes exactly one validator");
  }
  size_t total = opts.validators + opts.observers;
  if (size_t{opts.rpc_port} + total > 65536 || size_t{opts.p2p_port} + total > 65536) {
    return Status::Error("testnet: ports run past 65535");
  }
  // The hosts and timing are checked before anything is written, so a bad option leaves no
  // half network; each node's config is checked again below.
  NodeConfig probe;
  probe.rpc_listen = HostPort(opts.rpc_host, opts.rpc_port);
  probe.p2p_listen = HostPort(opts.host, opts.p2p_port);
  probe.block_interval_ms = opts.block_interval_ms;
  if (Status s = probe.Validate(); !s.ok()) return s.Wrap("testnet");
  std::error_code ec;
  fs::path dir = fs::absolute(out, ec);
  if (fs::exists(dir) && !fs::is_empty(dir, ec)) {
    return Status::Error("testnet: " + dir.string() + " exists and is not empty");
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("testnet: cannot create " + dir.string() + ": " + ec.message());

  TestnetResult r;
  r.warnings = ExposureWarnings(probe);  // every node listens on the same hosts
  r.genesis_path = (dir / "genesis.json").string();
  r.admin_key_path = (dir / "admin_key.json").string();
  crypto::KeyPair admin = crypto::KeyPair::Generate();
  if (Status s = crypto::WriteKeyFile(r.admin_key_path, admin); !s.ok()) return s;

  genesis::Genesis g;
  g.chain_id = opts.chain_id;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  g.genesis_time_ms = static_cast<uint64_t>(now.count()) * 1000;
  g.consensus = opts.consensus;
  g.accounts.push_back({admin.public_key(), ledger::Role::kAdmin, opts.admin_balance});

  std::vector<crypto::KeyPair> keys;
  for (size_t i = 0; i < total; ++i) {
    bool validator = i < opts.validators;
    TestnetNode n;
    n.name = validator ? "v" + std::to_string(i) : "o" + std::to_string(i - opts.validators);
    n.home = (dir / n.name).string();
    n.validator = validator;
    // A wildcard address is where the node listens, not one a client can dial.
    const bool wildcard = opts.rpc_host == "0.0.0.0" || opts.rpc_host == "::";
    const std::string dial = wildcard ? "127.0.0.1" : opts.rpc_host;
    n.rpc_url = "http://" + (dial.find(':') != std::string::npos ? "[" + dial + "]" : dial) + ":" +
                std::to_string(opts.rpc_port + i);
    fs::create_directories(n.home, ec);
    if (ec) return Status::Error("testnet: cannot create " + n.home + ": " + ec.message());
    keys.push_back(crypto::KeyPair::Generate());
    if (Status s = crypto::WriteKeyFile(n.home + "/node_key.json", keys.back()); !s.ok()) return s;
    genesis::Node gn{n.name, keys.back().public_key(), HostPort(opts.host, opts.p2p_port + i)};
    (validator ? g.validators : g.observers).push_back(gn);
    r.nodes.push_back(n);
  }
  if (Status s = g.Validate(); !s.ok()) return s;
  if (Status s = g.Save(r.genesis_path); !s.ok()) return s;

  for (size_t i = 0; i < total; ++i) {
    NodeConfig c;
    c.home = r.nodes[i].home;
    c.name = r.nodes[i].name;
    c.genesis_file = "../genesis.json";
    c.rpc_listen = HostPort(opts.rpc_host, opts.rpc_port + i);
    c.p2p_listen = HostPort(opts.host, opts.p2p_port + i);
    c.block_interval_ms = opts.block_interval_ms;
    for (size_t v = 0; v < opts.validators; ++v) {
      if (v == i) continue;
      c.peers.push_back(PeerConfig{g.validators[v].address, g.validators[v].public_key.ToHex()});
    }
    if (Status s = c.Validate(); !s.ok()) return s.Wrap("testnet: " + c.name);
    std::ofstream f(c.home + "/config.json");
    f << c.ToJson();
    if (!f) return Status::Error("testnet: cannot write " + c.home + "/config.json");
  }
  return r;
}

}  // namespace cairn::config
