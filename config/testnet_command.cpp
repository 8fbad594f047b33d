#include "config/testnet_command.h"

#include <cstdio>

namespace cairn::config {

CLI::App* AddTestnetCommand(CLI::App& app, TestnetCommand* cmd) {
  TestnetOptions& o = cmd->options;
  cmd->consensus = std::string(genesis::ConsensusName(o.consensus));
  CLI::App* c = app.add_subcommand("testnet", "generate a local network: keys, genesis, configs");
  c->add_option("--out", cmd->out, "directory to create")->required();
  c->add_option("--validators", o.validators, "validators")->capture_default_str();
  c->add_option("--observers", o.observers, "observer (non-validating) nodes")
      ->capture_default_str();
  c->add_option("--consensus", cmd->consensus, "solo | raft | bft")->capture_default_str();
  c->add_option("--chain-id", o.chain_id, "chain id")->capture_default_str();
  c->add_option("--host", o.host, "p2p listen host of every node (and its genesis address)")
      ->capture_default_str();
  c->add_option("--rpc-host", o.rpc_host,
                "JSON-RPC listen host of every node; anything but loopback exposes an "
                "unauthenticated API")
      ->capture_default_str();
  c->add_option("--rpc-port", o.rpc_port, "first RPC port")->capture_default_str();
  c->add_option("--p2p-port", o.p2p_port, "first p2p port")->capture_default_str();
  c->add_option("--block-interval-ms", o.block_interval_ms, "block interval")
      ->capture_default_str();
  return c;
}

Status RunTestnetCommand(TestnetCommand& cmd) {
  const std::optional<genesis::ConsensusKind> kind = genesis::ParseConsensusKind(cmd.consensus);
  if (!kind) return Status::InvalidArgument("--consensus must be solo, raft or bft");
  cmd.options.consensus = *kind;
  auto r = GenerateTestnet(cmd.out, cmd.options);
  if (!r.ok()) return r.status();
  std::printf("testnet in %s (%s)\n  genesis:   %s\n  admin key: %s (funded admin account)\n",
              cmd.out.c_str(), cmd.consensus.c_str(), r->genesis_path.c_str(),
              r->admin_key_path.c_str());
  for (const TestnetNode& n : r->nodes) {
    std::printf("  %-4s %-9s rpc %-24s start: cairnd --home %s\n", n.name.c_str(),
                n.validator ? "validator" : "observer", n.rpc_url.c_str(), n.home.c_str());
  }
  // stderr: scripts read stdout, and a warning must reach a person even when they do.
  for (const std::string& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  return Status::Ok();
}

}  // namespace cairn::config
