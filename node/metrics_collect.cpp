#include "node/metrics_collect.h"

#include <chrono>

namespace cairn::node {
namespace {

using prometheus::MetricType;
using Labels = std::vector<prometheus::ClientMetric::Label>;

double D(uint64_t v) { return static_cast<double>(v); }

// A peer's label: its name in the genesis (a bounded set), else its short id.
std::string PeerName(const genesis::Genesis& g, const p2p::NodeId& id) {
  for (const auto* list : {&g.validators, &g.observers}) {
    for (const genesis::Node& n : *list) {
      if (n.public_key == id) return n.name;
    }
  }
  return crypto::ShortHex(id);
}

void CollectStatus(const NodeView& v, MetricFamilies& out) {
  const api::NodeStatus s = v.core.api().GetStatus();
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  auto gauge = [&out](const char* name, const char* help, double value) {
    out.push_back(FamilyBuilder(name, help, MetricType::Gauge).Add(value).Build());
  };
  out.push_back(FamilyBuilder("cairn_node_info", "Constant 1, with what this node runs as labels",
                              MetricType::Gauge)
                    .Add(1, {{"chain_id", s.chain_id},
                             {"consensus", s.consensus},
                             {"node", s.node_name},
                             {"validator", s.validator ? "true" : "false"},
                             {"version", s.version}})
                    .Build());
  gauge("cairn_chain_height", "Height of this node's head block", D(s.head.height));
  gauge("cairn_chain_head_age_seconds",
        "Seconds since the head block's proposer timestamp (grows while nothing commits)",
        s.head_time_ms && now_ms > s.head_time_ms ? D(now_ms - s.head_time_ms) / 1000.0 : 0);
  gauge("cairn_mempool_transactions", "Transactions waiting in the mempool", D(s.mempool_size));
  gauge("cairn_mempool_bytes", "Encoded bytes of the transactions in the mempool",
        D(s.mempool_bytes));
  gauge("cairn_p2p_peers", "Authenticated peers connected now", D(s.peers));
  gauge("cairn_consensus_term",
        "Raft term, or BFT round within the current height (0 on observers)", D(s.term));
  gauge("cairn_consensus_commit_height", "Highest height consensus knows committed",
        D(s.commit_height));
  gauge("cairn_consensus_is_leader", "1 while this node is the Raft leader or solo validator",
        s.role == "leader" ? 1 : 0);
  gauge("cairn_consensus_has_leader", "1 while this node knows a leader (Raft, solo)",
        s.leader.empty() ? 0 : 1);

  const uint64_t best = v.core.best_peer_height();
  gauge("cairn_sync_best_peer_height", "Highest head a peer reported", D(best));
  gauge("cairn_sync_lag_blocks", "Blocks this node is behind the best head a peer reported",
        best > s.head.height ? D(best - s.head.height) : 0);
  gauge("cairn_evidence_stored", "Proofs of equivocation this node holds (getEvidence)",
        D(v.core.evidence().List().size()));
}

void CollectPeers(const NodeView& v, MetricFamilies& out) {
  FamilyBuilder bytes("cairn_p2p_peer_bytes_total",
                      "Bytes on a peer's socket since it connected (handshake and pings included)",
                      MetricType::Counter);
  FamilyBuilder msgs("cairn_p2p_peer_messages_total",
                     "Messages exchanged with a peer since it connected", MetricType::Counter);
  FamilyBuilder dropped("cairn_p2p_peer_dropped_messages_total",
                        "Gossip dropped because the peer's send queue was full",
                        MetricType::Counter);
  FamilyBuilder queue("cairn_p2p_peer_send_queue_bytes", "Bytes waiting to be written to a peer",
                      MetricType::Gauge);
  for (const p2p::PeerInfo& p : v.net.Peers()) {
    const std::string name = PeerName(v.genesis, p.id);
    bytes.Add(D(p.bytes_in), {{"peer", name}, {"direction", "in"}});
    bytes.Add(D(p.bytes_out), {{"peer", name}, {"direction", "out"}});
    msgs.Add(D(p.messages_in), {{"peer", name}, {"direction", "in"}});
    msgs.Add(D(p.messages_out), {{"peer", name}, {"direction", "out"}});
    dropped.Add(D(p.messages_dropped), {{"peer", name}});
    queue.Add(D(p.send_queue_bytes), {{"peer", name}});
  }
  out.push_back(std::move(bytes).Build());
  out.push_back(std::move(msgs).Build());
  out.push_back(std::move(dropped).Build());
  out.push_back(std::move(queue).Build());

  const p2p::HostStats hs = v.net.host().GetStats();
  out.push_back(
      FamilyBuilder("cairn_p2p_handshakes_total", "p2p handshakes completed", MetricType::Counter)
          .Add(D(hs.handshakes_completed))
          .Build());
  FamilyBuilder closes("cairn_p2p_connections_closed_total", "p2p connections closed, by reason",
                       MetricType::Counter);
  for (size_t r = 0; r < p2p::kCloseReasonCount; ++r) {
    closes.Add(D(hs.closes[r]),
               {{"reason", p2p::CloseReasonName(static_cast<p2p::CloseReason>(r))}});
  }
  out.push_back(std::move(closes).Build());
  out.push_back(FamilyBuilder("cairn_p2p_pending_inbound",
                              "Inbound connections still in their handshake", MetricType::Gauge)
                    .Add(D(hs.pending_inbound))
                    .Build());
}

void CollectStore(const NodeView& v, MetricFamilies& out) {
  const ledger::KvStore& kv = v.store.kv();
  if (auto stats = kv.Property("leveldb.stats")) CollectLevelDbStats(*stats, out);
  if (auto mem = kv.Property("leveldb.approximate-memory-usage")) {
    try {
      out.push_back(FamilyBuilder("cairn_leveldb_memory_bytes",
                                  "LevelDB's estimate of its memory (memtables, block cache)",
                                  MetricType::Gauge)
                        .Add(std::stod(*mem))
                        .Build());
    } catch (const std::exception&) {
      // Not a number: leave the gauge out rather than report a wrong value.
    }
  }
}

void CollectRpc(const rpc::ServerStats& st, size_t subscriptions, MetricFamilies& out) {
  auto one = [&out](const char* name, const char* help, MetricType type, double value) {
    out.push_back(FamilyBuilder(name, help, type).Add(value).Build());
  };
  one("cairn_rpc_connections", "RPC connections open now (HTTP and WebSocket)", MetricType::Gauge,
      D(st.active_connections));
  one("cairn_rpc_connections_accepted_total", "RPC connections accepted, admitted or not",
      MetricType::Counter, D(st.accepted));
  one("cairn_rpc_connections_evicted_total", "Idle RPC connections closed to admit a newcomer",
      MetricType::Counter, D(st.evicted));
  out.push_back(FamilyBuilder("cairn_rpc_rejected_total",
                              "RPC requests or connections refused: busy (connection limits), "
                              "inflight (rpc.max_inflight_bytes in use)",
                              MetricType::Counter)
                    .Add(D(st.rejected_busy), {{"reason", "busy"}})
                    .Add(D(st.rejected_inflight), {{"reason", "inflight"}})
                    .Build());
  one("cairn_rpc_inflight_bytes",
      "Request bodies and answers held now, charged to rpc.max_inflight_bytes", MetricType::Gauge,
      D(st.inflight_bytes));
  one("cairn_rpc_ws_connections", "WebSocket connections open now", MetricType::Gauge,
      D(st.ws_connections));
  one("cairn_rpc_ws_slow_dropped_total",
      "WebSocket connections closed because their queue passed rpc.ws_queue_* (1008)",
      MetricType::Counter, D(st.ws_slow_dropped));
  one("cairn_rpc_subscriptions", "Live WebSocket subscriptions (subscribe), all connections",
      MetricType::Gauge, D(subscriptions));
}

}  // namespace

void AddNodeCollectors(NodeMetrics& metrics, NodeView view) {
  metrics.AddCollector([view](MetricFamilies& out) {
    CollectStatus(view, out);
    CollectPeers(view, out);
    CollectStore(view, out);
    CollectProcess(out);
  });
}

std::unique_ptr<NodeMetrics::ScopedCollector> AddRpcCollectors(NodeMetrics& metrics,
                                                               const rpc::Server& server,
                                                               const api::SubscriptionHub& hub) {
  return metrics.AddScopedCollector(
      [&server, &hub](MetricFamilies& out) { CollectRpc(server.Stats(), hub.size(), out); });
}

}  // namespace cairn::node
