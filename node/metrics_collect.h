// The levels /metrics reads from a running node at each scrape: chain head, mempool, consensus
// view, peers and their traffic, sync lag, evidence, LevelDB and the process. Everything read
// is thread-safe (the same reads the RPC threads make), so a scrape never waits on the loop.
#pragma once

#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/metrics.h"
#include "node/node_core.h"
#include "node/p2p_network.h"

namespace cairn::node {

// What the collectors read; every part must outlive the metrics server.
struct NodeView {
  NodeCore& core;
  P2pNetwork& net;
  const ledger::ChainStore& store;
  const genesis::Genesis& genesis;
};

void AddNodeCollectors(NodeMetrics& metrics, NodeView view);

}  // namespace cairn::node
