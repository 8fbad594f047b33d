// cairn: the Cairn command-line client: wallet, explorer and auditor (docs/CLI.md).
//   cairn [--rpc URL] [--json] COMMAND ...
// Exit status: 0 on success, 1 when the command fails (one line on stderr says why), 2 on a
// usage error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include <memory>
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "node/cli_common.h"
#include "node/testnet.h"

using namespace cairn;

namespace {

// "cairn send transfer": the command line path of the deepest command that was parsed.
std::string CommandPath(const CLI::App& app) {
  std::string path = "cairn";
  const CLI::App* cur = &app;
  for (;;) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    path += " " + cur->get_name();
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  CLI::App app{"cairn: wallet, explorer and auditor for a Cairn chain (docs/CLI.md)", "cairn"};
  // Global options are accepted after the command too: `cairn status --json`.
  app.fallthrough();
  app.require_subcommand(1);
  cli::GlobalOptions g;
  app.add_option("--rpc", g.rpc_url,
                 "the node's JSON-RPC URL (default: $CAIRN_RPC, else " +
                     std::string(cli::kDefaultRpcUrl) + ")")
      ->envname("CAIRN_RPC")
      ->type_name("URL");
  app.add_flag("--json", g.json, "print machine-readable JSON on stdout");
  app.footer(
      "Environment: CAIRN_RPC (default --rpc), CAIRN_KEY (default --key).\n"
      "Exit status: 0 ok, 1 the command failed (the reason is one line on stderr), 2 usage.");

  cli::Action action;
  cli::AddWalletCommands(app, g, &action);
  cli::AddExplorerCommands(app, g, &action);
  cli::AddAuditCommand(app, g, &action);

  // cairn testnet: the same generator as `cairnd testnet`, where operators expect it.
  auto tn = std::make_shared<node::TestnetOptions>();
  auto tn_out = std::make_shared<std::string>();
  auto tn_consensus = std::make_shared<std::string>("raft");
  CLI::App* testnet =
      app.add_subcommand("testnet", "generate a local network: keys, genesis, configs");
  testnet->add_option("--out", *tn_out, "directory to create")->required();
  testnet->add_option("--validators", tn->validators, "validators")->capture_default_str();
  testnet->add_option("--observers", tn->observers, "observer nodes")->capture_default_str();
  testnet->add_option("--consensus", *tn_consensus, "solo | raft | bft")->capture_default_str();
  testnet->add_option("--chain-id", tn->chain_id, "chain id")->capture_default_str();
  testnet->add_option("--host", tn->host, "listen host of every node")->capture_default_str();
  testnet->add_option("--rpc-port", tn->rpc_port, "first RPC port")->capture_default_str();
  testnet->add_option("--p2p-port", tn->p2p_port, "first p2p port")->capture_default_str();
  testnet->add_option("--block-interval-ms", tn->block_interval_ms, "block interval")
      ->capture_default_str();
  testnet->callback([&action, tn, tn_out, tn_consensus] {
    action = [tn, tn_out, tn_consensus]() -> Status {
      const std::optional<genesis::ConsensusKind> kind = genesis::ParseConsensusKind(*tn_consensus);
      if (!kind) return Status::InvalidArgument("--consensus must be solo, raft or bft");
      tn->consensus = *kind;
      auto r = node::GenerateTestnet(*tn_out, *tn);
      if (!r.ok()) return r.status();
      std::printf("testnet in %s (%s)\n  genesis:   %s\n  admin key: %s (funded admin account)\n",
                  tn_out->c_str(), tn_consensus->c_str(), r->genesis_path.c_str(),
                  r->admin_key_path.c_str());
      for (const node::TestnetNode& n : r->nodes) {
        std::printf("  %-4s %-9s rpc %-24s start: cairnd --home %s\n", n.name.c_str(),
                    n.validator ? "validator" : "observer", n.rpc_url.c_str(), n.home.c_str());
      }
      return Status::Ok();
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "cairn: %s (see '%s --help')\n", cli::OneLine(e.what()).c_str(),
                 CommandPath(app).c_str());
    return 2;
  }
  if (!action) {
    std::fprintf(stderr, "cairn: no command given (see 'cairn --help')\n");
    return 2;
  }
  Status s;
  try {
    s = action();
  } catch (const std::exception& e) {
    // Library code returns errors as values; this is the last guard against a bug there.
    s = Status::Error(std::string("internal error: ") + e.what());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "cairn: %s\n", cli::OneLine(s.message()).c_str());
    return 1;
  }
  return 0;
}
