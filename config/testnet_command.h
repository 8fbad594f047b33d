// The `testnet` subcommand, defined once and registered by both cairnd and cairn, so the two
// entry points take the same options with the same defaults and print the same summary.
// Single-threaded: one command runs per process.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "base/status.h"
#include "config/testnet.h"

namespace cairn::config {

// What the command line asked for.
struct TestnetCommand {
  std::string out;
  std::string consensus;  // solo | raft | bft; AddTestnetCommand sets the default
  TestnetOptions options;
};

// Adds `testnet` to `app`; parsing fills *cmd. REQUIRES: cmd outlives app.parse().
CLI::App* AddTestnetCommand(CLI::App& app, TestnetCommand* cmd);

// Generates the network and prints, on stdout, where it is and how to start each node. On
// failure, a one-line reason (nothing printed).
Status RunTestnetCommand(TestnetCommand& cmd);

}  // namespace cairn::config
