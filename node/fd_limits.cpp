#include "node/fd_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "ledger/kv.h"
#include "node/metrics_server.h"

namespace cairn::node {
namespace {

uint64_t FromRlim(rlim_t v) {
  return v == RLIM_INFINITY ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(v);
}

}  // namespace

std::string FdBudget::Describe() const {
  return std::to_string(total()) + " = rpc.max_connections " + std::to_string(rpc_connections) +
         " + " + std::to_string(rpc_refusing) + " refusing + p2p " + std::to_string(p2p_inbound) +
         " inbound + " + std::to_string(p2p_outbound) + " peers + " + std::to_string(listeners) +
         " listeners + LevelDB " + std::to_string(store) + " + reserve " + std::to_string(reserve) +
         (metrics ? " + metrics " + std::to_string(metrics) : "");
}

FdBudget FdBudgetFor(const config::NodeConfig& config) {
  FdBudget b;
  b.rpc_connections = config.rpc_max_connections;
  b.rpc_refusing = kRpcRefusingFds;
  // Authenticated inbound peers plus connections still in their handshake, which p2p
  // bounds separately (docs/P2P.md "Admission").
  b.p2p_inbound = uint64_t{config.p2p_max_inbound} + config.p2p_max_pending;
  b.p2p_outbound = config.peers.size();
  b.listeners = 2;
  b.store = static_cast<uint64_t>(ledger::LevelDbOptions{}.max_open_files);
  b.reserve = kReserveFds;
  if (!config.metrics_listen.empty()) b.metrics = 1 + MetricsServer::kMaxConnections;
  return b;
}

Result<uint64_t> SoftLimitFor(const FdBudget& budget, FdLimits current) {
  const uint64_t need = budget.total();
  if (current.soft >= need) return current.soft;
  if (current.hard >= need) return need;
  // Connections are the one part an operator can trade: how far rpc.max_connections must
  // come down for the rest to fit, if it can.
  const uint64_t others = need - budget.rpc_connections;
  std::string lower;
  if (current.hard > others) {
    lower = ", or lower rpc.max_connections to at most " + std::to_string(current.hard - others);
  }
  return Status::InvalidArgument(
      "the open file limit is too low: this node may need " + budget.Describe() +
      " file descriptors, but the hard limit (RLIMIT_NOFILE) is " + std::to_string(current.hard) +
      ". Raise it to at least " + std::to_string(need) + " (systemd: LimitNOFILE=" +
      std::to_string(need) + "; docker: --ulimit nofile=" + std::to_string(need) + ":" +
      std::to_string(need) + "; shell: ulimit -n " + std::to_string(need) +
      " as root, or nofile in /etc/security/limits.conf)" + lower + "; see docs/OPERATIONS.md");
}

Result<FdLimitChange> EnsureFdLimit(const FdBudget& budget) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return Status::IoError(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  FdLimitChange change;
  change.before = FdLimits{FromRlim(rl.rlim_cur), FromRlim(rl.rlim_max)};
  auto soft = SoftLimitFor(budget, change.before);
  if (!soft.ok()) return soft.status();
  change.soft_after = *soft;
  if (change.soft_after != change.before.soft) {
    rl.rlim_cur = static_cast<rlim_t>(change.soft_after);
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      return Status::IoError("cannot raise the open file limit from " +
                             std::to_string(change.before.soft) + " to " +
                             std::to_string(change.soft_after) + ": " + std::strerror(errno));
    }
  }
  return change;
}

}  // namespace cairn::node
