// Creating a node's home directory: keys, genesis and config for a new chain.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "genesis/genesis.h"

namespace cairn::node {

struct InitOptions {
  std::string chain_id = "cairn-local";
  std::string name = "node0";
  std::string rpc_listen = "127.0.0.1:8545";
  std::string p2p_listen = "127.0.0.1:26656";
  uint64_t admin_balance = 1'000'000'000'000ull;
  uint64_t block_interval_ms = 200;
};

struct InitResult {
  std::string config_path;
  std::string node_key_path;
  std::string admin_key_path;
  std::string genesis_path;
  // One line per listen address reachable from other hosts (config::ExposureWarnings).
  std::vector<std::string> warnings;
};

// What `cairnd --dev` initialises a new home with: chain "cairn-dev", the documented
// defaults otherwise (docs/CONFIG.md), and `p2p_listen` when given, else an OS-picked port so
// several dev chains run side by side. `rpc_listen` empty keeps the default.
InitOptions DevInitOptions(const std::string& p2p_listen, const std::string& rpc_listen);

// Writes node_key.json, admin_key.json (a funded admin account), genesis.json (a
// single-validator "solo" chain) and config.json into `home`, creating it. Refuses a home
// that already holds a config.json, so it never overwrites a node.
Result<InitResult> InitHome(const std::string& home, const InitOptions& opts);

}  // namespace cairn::node
