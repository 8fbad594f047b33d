// cairnd: the Cairn node daemon.
//   cairnd init --home DIR [--chain-id ID] [--rpc-listen ADDR]   create a single-validator chain
//   cairnd --home DIR | --config FILE [--rpc-listen ADDR]         run a node
//   cairnd --dev [--home DIR] [--rpc-listen ADDR]                 throwaway chain, ready to use
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "node/init.h"
#include "node/node.h"
#include "node/testnet.h"

using namespace cairn;

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "cairnd: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  CLI::App app{"cairnd: Cairn permissioned ledger node"};
  app.require_subcommand(0, 1);
  std::string config_path, home, rpc_listen, p2p_listen, log_level, data_dir;
  bool dev = false;
  app.add_option("--config", config_path, "config file (config.json)");
  app.add_option("--home", home, "node home directory (holds config.json)");
  app.add_option("--rpc-listen", rpc_listen,
                 "JSON-RPC listen address host:port (overrides config)");
  app.add_option("--p2p-listen", p2p_listen, "p2p listen address host:port (overrides config)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides config)");
  app.add_option("--data-dir", data_dir, "data directory (overrides config)");
  app.add_flag("--dev", dev,
               "start a throwaway single-validator chain (initialises --home or a temp dir)");

  node::InitOptions init_opts;
  std::string init_home;
  CLI::App* init = app.add_subcommand("init", "create keys, a genesis and a config in a new home");
  init->add_option("--home", init_home, "directory to create")->required();
  init->add_option("--chain-id", init_opts.chain_id, "chain id")->capture_default_str();
  init->add_option("--name", init_opts.name, "node name")->capture_default_str();
  init->add_option("--rpc-listen", init_opts.rpc_listen, "JSON-RPC listen address")
      ->capture_default_str();
  init->add_option("--p2p-listen", init_opts.p2p_listen, "p2p listen address")
      ->capture_default_str();
  init->add_option("--block-interval-ms", init_opts.block_interval_ms, "block interval")
      ->capture_default_str();

  node::TestnetOptions tn;
  std::string tn_out, tn_consensus = "solo";
  CLI::App* testnet =
      app.add_subcommand("testnet", "generate a local network: keys, genesis, configs");
  testnet->add_option("--out", tn_out, "directory to create")->required();
  testnet->add_option("--validators", tn.validators, "validators")->capture_default_str();
  testnet->add_option("--observers", tn.observers, "observer (non-validating) nodes")
      ->capture_default_str();
  testnet->add_option("--consensus", tn_consensus, "solo | raft | bft")->capture_default_str();
  testnet->add_option("--chain-id", tn.chain_id, "chain id")->capture_default_str();
  testnet->add_option("--host", tn.host, "listen host for every node")->capture_default_str();
  testnet->add_option("--rpc-port", tn.rpc_port, "first RPC port")->capture_default_str();
  testnet->add_option("--p2p-port", tn.p2p_port, "first p2p port")->capture_default_str();
  testnet->add_option("--block-interval-ms", tn.block_interval_ms, "block interval")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (testnet->parsed()) {
    const std::optional<genesis::ConsensusKind> kind = genesis::ParseConsensusKind(tn_consensus);
    if (!kind) return Fail("--consensus must be solo, raft or bft");
    tn.consensus = *kind;
    auto r = node::GenerateTestnet(tn_out, tn);
    if (!r.ok()) return Fail(r.error());
    std::printf("testnet in %s\n  genesis:   %s\n  admin key: %s (funded admin account)\n",
                tn_out.c_str(), r->genesis_path.c_str(), r->admin_key_path.c_str());
    for (const node::TestnetNode& n : r->nodes) {
      std::printf("  %-4s %-9s rpc %-24s start: cairnd --home %s\n", n.name.c_str(),
                  n.validator ? "validator" : "observer", n.rpc_url.c_str(), n.home.c_str());
    }
    return 0;
  }

  if (init->parsed()) {
    auto r = node::InitHome(init_home, init_opts);
    if (!r.ok()) return Fail(r.error());
    std::printf(
        "initialised %s\n  config:    %s\n  node key:  %s\n  admin key: %s (funded admin "
        "account)\n  genesis:   %s\nstart it with: cairnd --home %s\n",
        init_home.c_str(), r->config_path.c_str(), r->node_key_path.c_str(),
        r->admin_key_path.c_str(), r->genesis_path.c_str(), init_home.c_str());
    return 0;
  }

  if (dev) {
    if (home.empty() && config_path.empty()) {
      char tmpl[] = "/tmp/cairn-dev-XXXXXX";
      if (!mkdtemp(tmpl)) return Fail("cannot create a temp dir");
      home = tmpl;
    }
    if (config_path.empty() && !std::filesystem::exists(home + "/config.json")) {
      node::InitOptions opts;
      opts.chain_id = "cairn-dev";
      opts.block_interval_ms = 100;
      // Several dev chains may run side by side: let the OS pick the p2p port.
      opts.p2p_listen = p2p_listen.empty() ? "127.0.0.1:0" : p2p_listen;
      if (!rpc_listen.empty()) opts.rpc_listen = rpc_listen;
      auto r = node::InitHome(home, opts);
      if (!r.ok()) return Fail(r.error());
    }
  }
  if (config_path.empty()) {
    if (home.empty()) return Fail("give --home DIR, --config FILE or --dev (see --help)");
    config_path = home + "/config.json";
  }
  auto config = node::NodeConfig::Load(config_path);
  if (!config.ok()) return Fail(config.error());
  if (!rpc_listen.empty()) {
    if (auto hp = node::SplitHostPort(rpc_listen, "--rpc-listen"); !hp.ok())
      return Fail(hp.error());
    config->rpc_listen = rpc_listen;
  }
  if (!p2p_listen.empty()) {
    if (auto hp = node::SplitHostPort(p2p_listen, "--p2p-listen"); !hp.ok())
      return Fail(hp.error());
    config->p2p_listen = p2p_listen;
  }
  if (!log_level.empty()) config->log_level = log_level;
  if (!data_dir.empty()) config->data_dir = data_dir;

  auto n = node::Node::Open(*config);
  if (!n.ok()) return Fail(n.error());
  Status s = (*n)->Run([&](uint16_t port) {
    std::string host = config->rpc_listen.substr(0, config->rpc_listen.rfind(':'));
    if (dev) {
      std::printf(
          "\nCairn dev chain is running\n  RPC:       http://%s:%u\n  admin key: %s\n  home:      "
          "%s\n  try:       cairn --rpc http://%s:%u status\n  stop:      Ctrl-C (or kill -TERM "
          "%d)\n\n",
          host.c_str(), port, config->Resolve("admin_key.json").c_str(), config->home.c_str(),
          host.c_str(), port, static_cast<int>(getpid()));
    }
    std::printf("rpc: http://%s:%u\n", host.c_str(), port);
    std::fflush(stdout);
  });
  n->reset();
  if (!s.ok()) return Fail(s.message());
  return 0;
}
