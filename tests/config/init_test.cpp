// What `cairnd init` and `cairnd --dev` write into a new home, read back as the node will read
// it: the values docs/CONFIG.md and docs/RPC.md document, not a second set of defaults.
#include <catch2/catch.hpp>

#include "config/node_config.h"
#include "genesis/genesis.h"
#include "node/init.h"
#include "rpc/server.h"
#include "tests/kit/temp_dir.h"

using namespace cairn;
using testkit::TempDir;

TEST_CASE("cairnd --dev writes the documented block interval and body limit", "[config]") {
  TempDir dir("dev-home");
  const std::string home = dir.Sub("home");
  auto written = node::InitHome(home, node::DevInitOptions("", ""));
  REQUIRE(written.ok());
  auto config = config::NodeConfig::Load(written->config_path);
  REQUIRE(config.ok());
  // docs/CONFIG.md: consensus.block_interval_ms 200; --dev once wrote 100.
  CHECK(config->block_interval_ms == 200);
  // docs/RPC.md: max_body_bytes 5 MiB; the node once used 8 MiB.
  CHECK(config->rpc_max_body_bytes == 5u << 20);
  CHECK(config->rpc_listen == "127.0.0.1:8545");
  // An OS-picked p2p port, so several dev chains run side by side; no address in genesis.
  CHECK(config->p2p_listen == "127.0.0.1:0");
  auto g = genesis::Genesis::Load(written->genesis_path);
  REQUIRE(g.ok());
  CHECK(g->chain_id == "cairn-dev");
  REQUIRE(g->validators.size() == 1);
  CHECK(g->validators[0].address.empty());
}

TEST_CASE("cairnd --dev keeps the listen addresses it is given", "[config]") {
  const node::InitOptions o = node::DevInitOptions("127.0.0.1:26700", "127.0.0.1:0");
  CHECK(o.p2p_listen == "127.0.0.1:26700");
  CHECK(o.rpc_listen == "127.0.0.1:0");
  CHECK(o.block_interval_ms == config::NodeConfig().block_interval_ms);
}

TEST_CASE("the node's RPC body limit is the RPC server's documented default", "[config]") {
  CHECK(config::NodeConfig().rpc_max_body_bytes == rpc::ServerOptions().max_body_bytes);
  CHECK(config::NodeConfig().rpc_max_body_bytes == 5u << 20);
}
