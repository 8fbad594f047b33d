// cairn: the Cairn command-line client: wallet, explorer and auditor (docs/CLI.md).
//   cairn [--rpc URL[,URL...]] [--json] COMMAND ...
// Exit status: 0 on success, 1 when the command fails (one line on stderr says why), 2 on a
// usage error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <memory>

#include "cli/common.h"
#include "cli/lease_command.h"
#include "config/testnet_command.h"
#include "crypto/ed25519.h"

using namespace cairn;

namespace cairn::cli {
// cli/snapshot_command.cpp: `cairn snapshot export|import`.
void AddSnapshotCommands(CLI::App& app, const GlobalOptions& g, Action* action);
}  // namespace cairn::cli

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
                 "the nodes' JSON-RPC URLs, comma-separated (default: $CAIRN_RPC, else " +
                     std::string(cli::kDefaultRpcUrl) + ")")
      ->envname("CAIRN_RPC")
      ->type_name("URL[,URL...]");
  app.add_flag("--json", g.json, "print machine-readable JSON on stdout");
  app.footer(
      "Environment: CAIRN_RPC (default --rpc), CAIRN_KEY (default --key).\n"
      "Exit status: 0 ok, 1 the command failed (the reason is one line on stderr), 2 usage.");

  cli::Action action;
  cli::AddWalletCommands(app, g, &action);
  cli::AddExplorerCommands(app, g, &action);
  cli::AddAuditCommand(app, g, &action);
  cli::AddProofCommands(app, g, &action);
  cli::AddGovCommands(app, g, &action);
  cli::AddLeaseCommands(app, g, &action);
  cli::AddSnapshotCommands(app, g, &action);

  // cairn testnet: the very command `cairnd testnet` runs, where operators expect it.
  auto tn = std::make_shared<config::TestnetCommand>();
  config::AddTestnetCommand(app, tn.get())->callback([&action, tn] {
    action = [tn] { return config::RunTestnetCommand(*tn); };
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
