// The levels /metrics reads from a running node at each scrape: chain head, mempool, consensus
// view, peers and their traffic, sync lag, evidence, LevelDB, the process, and the RPC server's
// connections and subscriptions. Everything read
// is thread-safe (the same reads the RPC threads make), so a scrape never waits on the loop.
#pragma once

#include <memory>

#include "api/subscriptions.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/metrics.h"
#include "node/node_core.h"
#include "node/p2p_network.h"
#include "rpc/server.h"

namespace cairn::node {

// What the collectors read; every part must outlive the metrics server.
struct NodeView {
  NodeCore& core;
  P2pNetwork& net;
  const ledger::ChainStore& store;
  const genesis::Genesis& genesis;
};

void AddNodeCollectors(NodeMetrics& metrics, NodeView view);

// The RPC server's connection and memory levels (rpc::ServerStats) and the number of live
// subscriptions, read at each scrape until the result is destroyed.
// REQUIRES: destroyed before `server` and `hub`.
[[nodiscard]] std::unique_ptr<NodeMetrics::ScopedCollector> AddRpcCollectors(
    NodeMetrics& metrics, const rpc::Server& server, const api::SubscriptionHub& hub);

}  // namespace cairn::node
