// cairnd: the Cairn node daemon.
//   cairnd init --home DIR [--chain-id ID] [--rpc-listen ADDR]   create a single-validator chain
//   cairnd --home DIR | --config FILE [--rpc-listen ADDR]         run a node
//   cairnd --dev [--home DIR] [--rpc-listen ADDR]                 throwaway chain, ready to use
//   cairnd --home DIR --state-sync [--trust-height H --trust-hash HEX]   join from a snapshot
//   cairnd testnet --out DIR [...]                                the same as `cairn testnet`
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "config/node_config.h"
#include "config/testnet_command.h"
#include "crypto/ed25519.h"
#include "node/fd_limits.h"
#include "node/init.h"
#include "node/logging.h"
#include "node/node.h"

using namespace cairn;

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "cairnd: %s\n", msg.c_str());
  return 1;
}

// What the command line said to do when it names no subcommand: run a node.
struct RunArgs {
  std::string config_path, home, rpc_listen, p2p_listen, log_level, data_dir;
  std::string log_format, log_levels, metrics_listen;
  std::string trust_hash;
  uint64_t trust_height = 0;
  bool dev = false;
  bool allow_double_sign = false;
  bool state_sync = false;
};

void AddRunOptions(CLI::App& app, RunArgs& a) {
  app.add_option("--config", a.config_path, "config file (config.json)");
  app.add_option("--home", a.home, "node home directory (holds config.json)");
  app.add_option("--rpc-listen", a.rpc_listen,
                 "JSON-RPC listen address host:port (overrides config)");
  app.add_option("--p2p-listen", a.p2p_listen, "p2p listen address host:port (overrides config)");
  app.add_option("--log-level", a.log_level, "trace|debug|info|warn|error|off (overrides config)");
  app.add_option("--data-dir", a.data_dir, "data directory (overrides config)");
  app.add_option("--log-format", a.log_format, "text|json (overrides config log.format)");
  app.add_option("--log-levels", a.log_levels,
                 "a level per component, e.g. p2p=debug,rpc=warn (over config log.levels)");
  app.add_option("--metrics-listen", a.metrics_listen,
                 "Prometheus /metrics address host:port (overrides config metrics.listen)");
  app.add_flag("--state-sync", a.state_sync,
               "join from a peer's snapshot when the data dir holds no chain (config "
               "state_sync.enable; see OPERATIONS.md \"Joining by state sync\")");
  app.add_option("--trust-height", a.trust_height,
                 "state sync trust point: a block height (overrides state_sync.trust_height)");
  app.add_option("--trust-hash", a.trust_hash,
                 "state sync trust point: that block's hash (overrides state_sync.trust_hash)");
  app.add_flag("--dev", a.dev,
               "start a throwaway single-validator chain (initialises --home or a temp dir)");
  app.add_flag("--i-know-this-may-double-sign", a.allow_double_sign,
               "start a validator whose consensus state is lost (see CONSENSUS.md)");
}

CLI::App* AddInitCommand(CLI::App& app, std::string& home, node::InitOptions& o) {
  CLI::App* init = app.add_subcommand("init", "create keys, a genesis and a config in a new home");
  init->add_option("--home", home, "directory to create")->required();
  init->add_option("--chain-id", o.chain_id, "chain id")->capture_default_str();
  init->add_option("--name", o.name, "node name")->capture_default_str();
  init->add_option("--rpc-listen", o.rpc_listen, "JSON-RPC listen address")->capture_default_str();
  init->add_option("--p2p-listen", o.p2p_listen, "p2p listen address")->capture_default_str();
  init->add_option("--block-interval-ms", o.block_interval_ms, "block interval")
      ->capture_default_str();
  return init;
}

int RunInit(const std::string& home, const node::InitOptions& opts) {
  auto r = node::InitHome(home, opts);
  if (!r.ok()) return Fail(r.error());
  std::printf(
      "initialised %s\n  config:    %s\n  node key:  %s\n  admin key: %s (funded admin "
      "account)\n  genesis:   %s\nstart it with: cairnd --home %s\n",
      home.c_str(), r->config_path.c_str(), r->node_key_path.c_str(), r->admin_key_path.c_str(),
      r->genesis_path.c_str(), home.c_str());
  for (const std::string& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  return 0;
}

// --dev: a home (given or a new temp dir) holding a single-validator chain.
Status PrepareDevHome(RunArgs& a) {
  if (a.home.empty() && a.config_path.empty()) {
    char tmpl[] = "/tmp/cairn-dev-XXXXXX";
    if (!mkdtemp(tmpl)) return Status::Error("cannot create a temp dir");
    a.home = tmpl;
  }
  if (!a.config_path.empty() || std::filesystem::exists(a.home + "/config.json")) {
    return Status::Ok();
  }
  auto r = node::InitHome(a.home, node::DevInitOptions(a.p2p_listen, a.rpc_listen));
  return r.ok() ? Status::Ok() : r.status();
}

// The config file, with the command line's overrides applied.
Result<config::NodeConfig> LoadConfig(RunArgs& a) {
  if (a.config_path.empty()) {
    if (a.home.empty())
      return Status::Error("give --home DIR, --config FILE or --dev (see --help)");
    a.config_path = a.home + "/config.json";
  }
  auto config = config::NodeConfig::Load(a.config_path);
  if (!config.ok()) return config.status();
  if (!a.rpc_listen.empty()) {
    if (auto hp = config::SplitHostPort(a.rpc_listen, "--rpc-listen"); !hp.ok()) return hp.status();
    config->rpc_listen = a.rpc_listen;
  }
  if (!a.p2p_listen.empty()) {
    if (auto hp = config::SplitHostPort(a.p2p_listen, "--p2p-listen"); !hp.ok()) return hp.status();
    config->p2p_listen = a.p2p_listen;
  }
  if (!a.log_level.empty()) config->log_level = a.log_level;
  if (!a.data_dir.empty()) config->data_dir = a.data_dir;
  if (!a.log_format.empty()) config->log_format = a.log_format;
  if (!a.metrics_listen.empty()) config->metrics_listen = a.metrics_listen;
  if (a.state_sync) config->state_sync_enable = true;
  if (a.trust_height != 0) config->state_sync_trust_height = a.trust_height;
  if (!a.trust_hash.empty()) config->state_sync_trust_hash = a.trust_hash;
  if (!a.log_levels.empty()) {
    // component=level[,component=level...]; Validate checks the names and levels.
    std::string_view rest = a.log_levels;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t eq = item.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return Status::InvalidArgument("--log-levels: \"" + std::string(item) +
                                       "\" is not component=level");
      }
      config->log_levels[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
  }
  // The overrides are values like any other: the same ranges hold.
  if (Status s = config->Validate(); !s.ok()) return s.Wrap("with the command line's overrides");
  return config;
}

// Before any file or socket opens: say what is exposed, and size the descriptor limit so a
// connection flood meets the network limits before LevelDB meets the process limit.
Status PrepareProcess(const config::NodeConfig& config) {
  node::SetupLogging(node::LogOptions{config.log_level, config.log_format, config.log_levels});
  auto log = node::Log("node");
  for (const std::string& w : config::ExposureWarnings(config)) log->warn("{}", w);
  const node::FdBudget budget = node::FdBudgetFor(config);
  auto change = node::EnsureFdLimit(budget);
  if (!change.ok()) return change.status();
  if (change->soft_after != change->before.soft) {
    log->info("raised the open file limit from {} to {} (hard limit {}) for {}",
              change->before.soft, change->soft_after, change->before.hard, budget.Describe());
  } else {
    log->info("open file limit {} covers {}", change->soft_after, budget.Describe());
  }
  return Status::Ok();
}

int RunNode(RunArgs& a) {
  if (a.dev) {
    if (Status s = PrepareDevHome(a); !s.ok()) return Fail(s.message());
  }
  auto config = LoadConfig(a);
  if (!config.ok()) return Fail(config.error());
  if (Status s = PrepareProcess(*config); !s.ok()) return Fail(s.message());
  node::NodeHooks hooks;
  hooks.allow_lost_consensus_state = a.allow_double_sign;
  auto n = node::Node::Open(*config, std::move(hooks));
  if (!n.ok()) return Fail(n.error());
  Status s = (*n)->Run([&](uint16_t port) {
    std::string host = config->rpc_listen.substr(0, config->rpc_listen.rfind(':'));
    if (a.dev) {
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

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  CLI::App app{"cairnd: Cairn permissioned ledger node"};
  app.require_subcommand(0, 1);
  RunArgs run;
  AddRunOptions(app, run);
  node::InitOptions init_opts;
  std::string init_home;
  CLI::App* init = AddInitCommand(app, init_home, init_opts);
  config::TestnetCommand tn;
  CLI::App* testnet = config::AddTestnetCommand(app, &tn);

  CLI11_PARSE(app, argc, argv);

  if (testnet->parsed()) {
    Status st = config::RunTestnetCommand(tn);
    return st.ok() ? 0 : Fail(st.message());
  }
  if (init->parsed()) return RunInit(init_home, init_opts);
  return RunNode(run);
}
