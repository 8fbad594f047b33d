// The daemon's configuration is config::NodeConfig (config/node_config.h), which lives below
// node/ so that `cairn testnet` can write node configs without linking the daemon. These names
// keep node/ code reading node::NodeConfig. Value types; no shared state.
#pragma once

#include "config/node_config.h"

namespace cairn::node {

using config::NodeConfig;
using config::PeerConfig;
using config::SplitHostPort;

}  // namespace cairn::node
