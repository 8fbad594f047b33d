#include "node/init.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "config/node_config.h"
#include "crypto/key_file.h"

namespace cairn::node {

namespace fs = std::filesystem;

InitOptions DevInitOptions(const std::string& p2p_listen, const std::string& rpc_listen) {
  InitOptions opts;
  opts.chain_id = "cairn-dev";
  opts.p2p_listen = p2p_listen.empty() ? "127.0.0.1:0" : p2p_listen;
  if (!rpc_listen.empty()) opts.rpc_listen = rpc_listen;
  return opts;
}

Result<InitResult> InitHome(const std::string& home, const InitOptions& opts) {
  std::error_code ec;
  fs::path dir = fs::absolute(home, ec);
  // The config is checked before anything is written, so a bad option leaves no half home.
  config::NodeConfig c;
  c.home = dir.string();
  c.name = opts.name;
  c.rpc_listen = opts.rpc_listen;
  c.p2p_listen = opts.p2p_listen;
  c.block_interval_ms = opts.block_interval_ms;
  if (Status s = c.Validate(); !s.ok()) return s.Wrap("init");

  if (fs::exists(dir / "config.json")) {
    return Status::Error("init: " + (dir / "config.json").string() +
                         " already exists; refusing to overwrite a node");
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("init: cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);

  InitResult r;
  r.config_path = (dir / "config.json").string();
  r.node_key_path = (dir / "node_key.json").string();
  r.admin_key_path = (dir / "admin_key.json").string();
  r.genesis_path = (dir / "genesis.json").string();
  r.warnings = config::ExposureWarnings(c);

  crypto::KeyPair node_key = crypto::KeyPair::Generate();
  crypto::KeyPair admin_key = crypto::KeyPair::Generate();
  if (Status s = crypto::WriteKeyFile(r.node_key_path, node_key); !s.ok()) return s;
  if (Status s = crypto::WriteKeyFile(r.admin_key_path, admin_key); !s.ok()) return s;

  genesis::Genesis g;
  g.chain_id = opts.chain_id;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  g.genesis_time_ms = static_cast<uint64_t>(now.count()) * 1000;
  g.consensus = genesis::ConsensusKind::kSolo;
  // An ephemeral p2p port (":0") is not an address anyone can be told to dial.
  bool ephemeral = opts.p2p_listen.size() >= 2 && opts.p2p_listen.ends_with(":0");
  g.validators.push_back(
      genesis::Node{opts.name, node_key.public_key(), ephemeral ? "" : opts.p2p_listen});
  g.accounts.push_back(
      genesis::InitialAccount{admin_key.public_key(), ledger::Role::kAdmin, opts.admin_balance});
  if (Status s = g.Validate(); !s.ok()) return s;
  if (Status s = g.Save(r.genesis_path); !s.ok()) return s;

  std::ofstream out(r.config_path);
  out << c.ToJson();
  if (!out) return Status::Error("init: cannot write " + r.config_path);
  return r;
}

}  // namespace cairn::node
