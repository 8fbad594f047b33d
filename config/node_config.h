// A node's configuration: every key of config.json (docs/CONFIG.md documents each with its
// default), parsed and written. Value type, no shared state; paths are resolved against the
// config file's directory.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ledger/mempool.h"

namespace cairn::config {

struct PeerConfig {
  std::string address;  // host:port
  std::string node_id;  // hex public key expected at that address
};

struct NodeConfig {
  std::string home;  // directory holding the config file; relative paths start here
  std::string name = "node";
  std::string data_dir = "data";
  std::string key_file = "node_key.json";
  std::string genesis_file = "genesis.json";
  std::string log_level = "info";  // trace | debug | info | warn | error | off
  // log.format: "text" (TIME LEVEL [component] message) or "json" (one object per line).
  std::string log_format = "text";
  // log.levels: a level per component (kLogComponents), over log_level.
  std::map<std::string, std::string> log_levels;

  // metrics.listen: host:port of the Prometheus /metrics endpoint; "" (the default): off.
  std::string metrics_listen;

  // JSON-RPC.
  std::string rpc_listen = "127.0.0.1:8545";
  size_t rpc_threads = 2;
  // 5 MiB, as docs/RPC.md gives it: a sendTransactions call of its 10,000 largest transfers
  // (214 bytes each with a 64-byte chain id, 431 in hex with quotes and comma) is 4.3 MB.
  size_t rpc_max_body_bytes = 5u << 20;
  size_t rpc_max_connections = 256;
  size_t rpc_max_batch = 1000;
  size_t rpc_max_response_bytes = 16u << 20;
  size_t rpc_max_connections_per_ip = 64;
  // Request bodies and answers held at once across all RPC connections (docs/RPC.md "Memory in
  // flight"). Validate requires it >= rpc_max_body_bytes and >= rpc_max_response_bytes.
  size_t rpc_max_inflight_bytes = 256u << 20;
  // WebSocket and subscriptions (docs/RPC.md "WebSocket", "Subscriptions").
  size_t rpc_max_ws_connections = 128;
  size_t rpc_max_ws_connections_per_ip = 8;
  size_t rpc_max_ws_message_bytes = 1u << 20;
  size_t rpc_ws_queue_messages = 4096;
  size_t rpc_ws_queue_bytes = 8u << 20;
  size_t rpc_ws_send_buffer_bytes = 0;
  size_t rpc_max_subscriptions_per_connection = 64;
  uint64_t rpc_max_resume_blocks = 1000;
  // GET /ready (docs/RPC.md "Health and readiness"): peers wanted (at most the configured
  // ones), blocks behind the best peer allowed, and how long pending transactions may wait
  // for a commit (0: never stalled).
  uint64_t rpc_ready_min_peers = 1;
  uint64_t rpc_ready_max_lag_blocks = 2;
  uint64_t rpc_ready_stall_ms = 30'000;

  // Block production and consensus timing.
  uint64_t block_interval_ms = 200;
  bool empty_blocks = false;
  // Engine messages that carry blocks send transaction hashes instead of transactions
  // (docs/CONSENSUS.md, "Compact blocks"); off: whole blocks, as before.
  bool compact_blocks = true;
  uint64_t tick_ms = 50;
  uint32_t max_block_txs = 0;  // 0: the genesis params' max_block_txs
  bool sync_writes = true;     // fsync every commit; off only for throwaway chains
  // Committed heights whose state tree stays in memory for getProof (~1.3 MB each at 1M
  // accounts under 1,000-transfer blocks; docs/design/state-tree.md section 4).
  uint32_t state_tree_memory_versions = 16;
  // Heights below the head whose state stays provable, from the undo records each commit
  // writes (ledger/chain_store.h); older ones are deleted.
  uint64_t state_tree_retain_heights = 1000;
  // storage.retain_blocks: blocks whose body, receipts and tx index are kept below and at the
  // head; older ones keep their header and certificate only (0: keep every block).
  uint64_t retain_blocks = 0;

  // Snapshots for peers' state sync (docs/design/state-sync.md section 3): every `interval`
  // blocks (0: never), the newest `keep` kept, served to each peer at most this many parts
  // and bytes per second. target_chunk_bytes: the chunk size the builder aims at (tests use
  // small ones to get many chunks from a small state).
  uint64_t snapshot_interval = 0;
  uint32_t snapshot_keep = 2;
  uint64_t snapshot_serve_chunks_per_sec = 100;
  uint64_t snapshot_serve_bytes_per_sec = 32u << 20;
  uint64_t snapshot_target_chunk_bytes = 1u << 20;
  // Joining by state sync (cairnd --state-sync): on a data dir with no chain, fetch a
  // snapshot trusted through (trust_height, trust_hash) instead of replaying from genesis.
  bool state_sync_enable = false;
  uint64_t state_sync_trust_height = 0;
  std::string state_sync_trust_hash;  // hex; empty with trust_height 0

  ledger::MempoolLimits mempool;
  // Transaction admission (the RPC threads and the gossip worker) runs this many nice levels
  // below the block pipeline, so that under overload it gets what the pipeline leaves
  // (BENCHMARKS.md "Goodput under overload": p99 at 2-3x overload 4x lower at 10 than at 0).
  uint32_t admission_nice = 10;

  // Peer-to-peer (used once the node has peers).
  std::string p2p_listen = "127.0.0.1:26656";
  std::vector<PeerConfig> peers;
  // Inbound admission (docs/P2P.md section 6): authenticated inbound peers, unauthenticated
  // (handshaking) inbound connections in total and per address, and the handshake deadline.
  uint32_t p2p_max_inbound = 64;
  uint32_t p2p_max_pending = 32;
  uint32_t p2p_max_pending_per_ip = 8;
  uint64_t p2p_handshake_timeout_ms = 3000;

  // Load refuses what is not a regular file (a directory, a FIFO: said so, without blocking)
  // and a file over kMaxConfigFileBytes. Both parse, then Validate.
  static Result<NodeConfig> Load(const std::string& path);
  static Result<NodeConfig> FromJson(const std::string& text, const std::string& home);
  // Every value within its range (UintRanges() for the integers); the error names the key
  // and the range. Run again after command-line overrides.
  Status Validate() const;
  std::string ToJson() const;
  // `p` unchanged when absolute, else joined to home.
  std::string Resolve(const std::string& p) const;
};

inline constexpr size_t kMaxConfigFileBytes = 1u << 20;
inline constexpr size_t kMaxNameBytes = 64;
inline constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX
inline constexpr size_t kMaxPeers = 1024;
// The components that log under their own name, each of which log.levels may set.
inline constexpr std::string_view kLogComponents[] = {"node", "rpc", "consensus", "store", "p2p"};

// An integer key of config.json and the values it may take, [min, max] inclusive.
struct UintRange {
  std::string_view key;  // "rpc.threads"
  uint64_t min;
  uint64_t max;
  uint64_t (*get)(const NodeConfig&);
};
// Every integer key of config.json with its range; docs/CONFIG.md lists the same.
std::span<const UintRange> UintRanges();

// True for "localhost", 127.0.0.0/8 and ::1: an address no other host can reach.
bool IsLoopbackHost(std::string_view host);
// One line per listen address (rpc.listen, p2p.listen) that other hosts can reach, saying
// what that exposes and where the docs say how to protect it; empty when all are loopback.
std::vector<std::string> ExposureWarnings(const NodeConfig& c);

// "host:port" -> (host, port); errors name the key.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s,
                                                       const std::string& key);

}  // namespace cairn::config
