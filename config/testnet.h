// Generating a local test network: keys, one shared genesis and a config per node, with
// every node on its own loopback ports and the validators as each node's persistent peers.
// The one generator behind `cairnd testnet` and `cairn testnet`. Stateless; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "genesis/genesis.h"

namespace cairn::config {

// The defaults are the defaults of both commands (docs/CLI.md): three Raft validators, the
// smallest network that keeps committing with one node down.
struct TestnetOptions {
  size_t validators = 3;
  size_t observers = 0;
  genesis::ConsensusKind consensus = genesis::ConsensusKind::kRaft;
  std::string chain_id = "cairn-testnet";
  // p2p listen and genesis address host of every node.
  std::string host = "127.0.0.1";
  // JSON-RPC listen host of every node. Not --host: RPC has no TLS and no authentication,
  // so reaching it from other hosts is a choice of its own (docs/OPERATIONS.md).
  std::string rpc_host = "127.0.0.1";
  uint16_t rpc_port = 8545;   // node i (validators first, then observers) gets rpc_port + i
  uint16_t p2p_port = 26656;  // likewise
  uint64_t admin_balance = 1'000'000'000'000ull;
  uint64_t block_interval_ms = 200;
};

struct TestnetNode {
  std::string name;     // v0, v1, ..., o0, o1, ...
  std::string home;     // OUT/NAME, holding config.json and node_key.json
  std::string rpc_url;  // http://host:port
  bool validator = false;
};

struct TestnetResult {
  std::string genesis_path;    // OUT/genesis.json, shared by every node
  std::string admin_key_path;  // OUT/admin_key.json, a funded admin account
  std::vector<TestnetNode> nodes;
  // One line per listen address reachable from other hosts (config::ExposureWarnings).
  std::vector<std::string> warnings;
};

// Writes the network into `out`, which must not exist or be empty.
Result<TestnetResult> GenerateTestnet(const std::string& out, const TestnetOptions& opts);

}  // namespace cairn::config
