// The node's file descriptor budget: how many descriptors its config lets it hold at once,
// and sizing the process limit (RLIMIT_NOFILE) to it at startup, so that a flood of
// connections meets the network limits (rpc.max_connections, the p2p inbound limit) long
// before LevelDB meets the process limit. Free functions; EnsureFdLimit changes a
// process-wide limit and is called once, before any thread starts.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "config/node_config.h"
#include "rpc/server.h"

namespace cairn::node {

// Descriptors RPC may hold past rpc.max_connections: connections being answered 503.
inline constexpr uint64_t kRpcRefusingFds = rpc::kMaxRefusingConnections;
// Descriptors that are no connection and no LevelDB file: stdio, the event loops' epoll,
// eventfd and timerfd (four io_contexts), the signal pipe, and files read at startup.
inline constexpr uint64_t kReserveFds = 64;

struct FdBudget {
  uint64_t rpc_connections = 0;  // rpc.max_connections
  uint64_t rpc_refusing = 0;     // connections being refused with 503
  uint64_t p2p_inbound = 0;      // p2p inbound limit, handshaking connections included
  uint64_t p2p_outbound = 0;     // persistent peers (p2p.peers)
  uint64_t listeners = 0;        // the RPC and p2p listening sockets
  uint64_t store = 0;            // LevelDB's max_open_files
  uint64_t reserve = 0;          // kReserveFds
  uint64_t metrics =
      0;  // metrics.listen: its listener and MetricsServer::kMaxConnections; 0 when off

  uint64_t total() const {
    return rpc_connections + rpc_refusing + p2p_inbound + p2p_outbound + listeners + store +
           reserve + metrics;
  }
  // "708 = rpc.max_connections 256 + 64 refusing + p2p 64 inbound + 3 peers + 2 listeners
  // + LevelDB 256 + reserve 64"
  std::string Describe() const;
};

FdBudget FdBudgetFor(const config::NodeConfig& config);

// RLIMIT_NOFILE; RLIM_INFINITY reads as UINT64_MAX.
struct FdLimits {
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// The soft limit the node should run with: the current one when it already covers the
// budget (it is never lowered), else the budget. An error when the hard limit is below the
// budget; it says by how much, which config keys to lower and how to raise the hard limit.
Result<uint64_t> SoftLimitFor(const FdBudget& budget, FdLimits current);

// Reads RLIMIT_NOFILE and raises the soft limit to SoftLimitFor's answer. Returns the limits
// before and after. REQUIRES: no other thread is running.
struct FdLimitChange {
  FdLimits before;
  uint64_t soft_after = 0;
};
Result<FdLimitChange> EnsureFdLimit(const FdBudget& budget);

}  // namespace cairn::node
