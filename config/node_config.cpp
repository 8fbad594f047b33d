#include "config/node_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "crypto/ed25519.h"
#include "ledger/block.h"
#include "ledger/transaction.h"

namespace cairn::config {
namespace {

using nlohmann::json;

Status Err(const std::string& key, const std::string& problem) {
  return Status::Error("config: " + key + ": " + problem);
}

// The ranges below are what the node can run with, not what is wise: a value past one
// aborts at startup (rpc.threads: 100000 cannot start its threads), starves the node
// (tick_ms: an hour) or lets one client take the memory (max_body_bytes).
constexpr uint64_t kMiB = 1u << 20;
constexpr UintRange kUintRanges[] = {
    {"rpc.threads", 1, 256, [](const NodeConfig& c) -> uint64_t { return c.rpc_threads; }},
    {"rpc.max_body_bytes", 1024, 64 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_body_bytes; }},
    {"rpc.max_connections", 1, 65536,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_connections; }},
    {"rpc.max_batch", 1, 10000, [](const NodeConfig& c) -> uint64_t { return c.rpc_max_batch; }},
    // Below 64 KiB a single block could not be answered; above 1 GiB one answer could hold
    // more memory than a node has to spare.
    {"rpc.max_response_bytes", 64 << 10, 1024 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_response_bytes; }},
    {"rpc.max_connections_per_ip", 1, 65536,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_connections_per_ip; }},
    // At least one smallest answer; at most what no node has to spare. Validate also requires
    // it to hold one largest body and one largest answer.
    {"rpc.max_inflight_bytes", 64 << 10, 16 * 1024 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_inflight_bytes; }},
    {"rpc.max_ws_connections", 0, 65536,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_ws_connections; }},
    {"rpc.max_ws_connections_per_ip", 1, 65536,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_ws_connections_per_ip; }},
    {"rpc.max_ws_message_bytes", 1024, 64 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_ws_message_bytes; }},
    {"rpc.ws_queue_messages", 1, 1'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ws_queue_messages; }},
    {"rpc.ws_queue_bytes", 64 << 10, 1024 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ws_queue_bytes; }},
    {"rpc.ws_send_buffer_bytes", 0, 64 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ws_send_buffer_bytes; }},
    {"rpc.max_subscriptions_per_connection", 1, 10'000,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_subscriptions_per_connection; }},
    {"rpc.max_resume_blocks", 0, 1'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_max_resume_blocks; }},
    {"rpc.ready_min_peers", 0, 1024,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ready_min_peers; }},
    {"rpc.ready_max_lag_blocks", 0, 1'000'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ready_max_lag_blocks; }},
    {"rpc.ready_stall_ms", 0, 86'400'000,
     [](const NodeConfig& c) -> uint64_t { return c.rpc_ready_stall_ms; }},
    {"consensus.block_interval_ms", 0, 3'600'000,
     [](const NodeConfig& c) -> uint64_t { return c.block_interval_ms; }},
    {"consensus.tick_ms", 1, 10'000, [](const NodeConfig& c) -> uint64_t { return c.tick_ms; }},
    {"consensus.max_block_txs", 0, ledger::kMaxBlockTxs,
     [](const NodeConfig& c) -> uint64_t { return c.max_block_txs; }},
    {"mempool.max_txs", 1, 10'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.max_txs; }},
    {"mempool.max_bytes", ledger::kMaxTxSize, 16 * 1024 * kMiB,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.max_bytes; }},
    {"mempool.max_nonce_gap", 0, 1'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.max_nonce_gap; }},
    {"mempool.max_per_sender", 1, 10'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.max_per_sender; }},
    {"mempool.ttl_blocks", 0, 1'000'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.ttl_blocks; }},
    {"mempool.admission_window_ms", 0, 600'000,
     [](const NodeConfig& c) -> uint64_t { return c.mempool.admission_window_ms; }},
    // Linux nice values stop at 19.
    {"mempool.admission_nice", 0, 19,
     [](const NodeConfig& c) -> uint64_t { return c.admission_nice; }},
    // Each p2p limit bounds sockets the node must hold descriptors for (node/fd_limits.h).
    {"p2p.max_inbound", 1, 4096, [](const NodeConfig& c) -> uint64_t { return c.p2p_max_inbound; }},
    {"p2p.max_pending", 1, 4096, [](const NodeConfig& c) -> uint64_t { return c.p2p_max_pending; }},
    {"p2p.max_pending_per_ip", 1, 4096,
     [](const NodeConfig& c) -> uint64_t { return c.p2p_max_pending_per_ip; }},
    {"p2p.handshake_timeout_ms", 100, 60'000,
     [](const NodeConfig& c) -> uint64_t { return c.p2p_handshake_timeout_ms; }},
    // Each version holds a block's new tree nodes; 1,024 of 1,000-transfer blocks at 1M
    // accounts is ~1.3 GB, the most a node should pin for proofs.
    {"state_tree.memory_versions", 1, 1024,
     [](const NodeConfig& c) -> uint64_t { return c.state_tree_memory_versions; }},
    // Undo records of ~1,000-transfer blocks are ~170 KB each: 10M heights is an archive.
    {"state_tree.retain_heights", 0, 10'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.state_tree_retain_heights; }},
    {"snapshot.interval", 0, 100'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.snapshot_interval; }},
    {"snapshot.keep", 1, 100, [](const NodeConfig& c) -> uint64_t { return c.snapshot_keep; }},
    {"snapshot.serve_chunks_per_sec", 1, 10'000,
     [](const NodeConfig& c) -> uint64_t { return c.snapshot_serve_chunks_per_sec; }},
    // At least 1 KiB/s: below that a 4 MiB chunk takes over an hour and always times out.
    {"snapshot.serve_bytes_per_sec", 1024, uint64_t{1} << 40,
     [](const NodeConfig& c) -> uint64_t { return c.snapshot_serve_bytes_per_sec; }},
    // The format's limit is 4 MiB (ledger::kMaxChunkBytes).
    {"snapshot.target_chunk_bytes", 4096, 4u << 20,
     [](const NodeConfig& c) -> uint64_t { return c.snapshot_target_chunk_bytes; }},
    {"state_sync.trust_height", 0, uint64_t{1} << 62,
     [](const NodeConfig& c) -> uint64_t { return c.state_sync_trust_height; }},
    // 0 keeps every block; any other value keeps at least the head.
    {"storage.retain_blocks", 0, 1'000'000'000'000,
     [](const NodeConfig& c) -> uint64_t { return c.retain_blocks; }},
};

const UintRange* FindRange(std::string_view key) {
  for (const UintRange& r : kUintRanges) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

std::string RangeText(const UintRange& r) {
  return "allowed " + std::to_string(r.min) + " to " + std::to_string(r.max);
}

// Type only: Validate checks the range, so values set after parsing are checked too.
template <typename T>
Status ReadUint(const json& obj, const char* key, const std::string& prefix, T* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  const UintRange* range = FindRange(prefix + key);
  if (!it->is_number_unsigned() || it->get<uint64_t>() > std::numeric_limits<T>::max() ||
      (range != nullptr && it->get<uint64_t>() > range->max)) {
    std::string shown = it->dump();
    if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
    return Err(prefix + key, shown + " is not an integer in range" +
                                 (range ? " (" + RangeText(*range) + ")" : std::string()));
  }
  *out = it->get<T>();
  return Status::Ok();
}

Status ReadString(const json& obj, const char* key, const std::string& prefix, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_string()) return Err(prefix + key, "must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadBool(const json& obj, const char* key, const std::string& prefix, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_boolean()) return Err(prefix + key, "must be true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status CheckKeys(const json& obj, const std::set<std::string>& known, const std::string& prefix) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!known.count(it.key())) return Err(prefix + it.key(), "unknown key");
  }
  return Status::Ok();
}

#define CAIRN_TRY(expr)                          \
  do {                                           \
    if (Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

}  // namespace

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s,
                                                       const std::string& key) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return Err(key, "\"" + s + "\" is not host:port");
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return Err(key, "\"" + s + "\" has no valid port");
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoul(port)));
}

Result<NodeConfig> NodeConfig::FromJson(const std::string& text, const std::string& home) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("config: not a JSON object");
  NodeConfig c;
  c.home = home;
  CAIRN_TRY(CheckKeys(
      j,
      {"name", "data_dir", "key_file", "genesis_file", "log_level", "log", "rpc", "consensus",
       "mempool", "p2p", "state_tree", "storage", "metrics", "snapshot", "state_sync"},
      ""));
  CAIRN_TRY(ReadString(j, "name", "", &c.name));
  CAIRN_TRY(ReadString(j, "data_dir", "", &c.data_dir));
  CAIRN_TRY(ReadString(j, "key_file", "", &c.key_file));
  CAIRN_TRY(ReadString(j, "genesis_file", "", &c.genesis_file));
  CAIRN_TRY(ReadString(j, "log_level", "", &c.log_level));
  if (auto log = j.find("log"); log != j.end()) {
    if (!log->is_object()) return Err("log", "must be an object");
    CAIRN_TRY(CheckKeys(*log, {"format", "levels"}, "log."));
    CAIRN_TRY(ReadString(*log, "format", "log.", &c.log_format));
    if (auto levels = log->find("levels"); levels != log->end()) {
      if (!levels->is_object()) return Err("log.levels", "must be an object");
      for (auto it = levels->begin(); it != levels->end(); ++it) {
        if (!it->is_string()) return Err("log.levels." + it.key(), "must be a string");
        c.log_levels[it.key()] = it->get<std::string>();
      }
    }
  }
  if (auto m = j.find("metrics"); m != j.end()) {
    if (!m->is_object()) return Err("metrics", "must be an object");
    CAIRN_TRY(CheckKeys(*m, {"listen"}, "metrics."));
    CAIRN_TRY(ReadString(*m, "listen", "metrics.", &c.metrics_listen));
  }
  if (auto rpc = j.find("rpc"); rpc != j.end()) {
    if (!rpc->is_object()) return Err("rpc", "must be an object");
    CAIRN_TRY(CheckKeys(
        *rpc,
        {"listen", "threads", "max_body_bytes", "max_connections", "max_batch",
         "max_response_bytes", "max_connections_per_ip", "max_inflight_bytes", "max_ws_connections",
         "max_ws_connections_per_ip", "max_ws_message_bytes", "ws_queue_messages", "ws_queue_bytes",
         "ws_send_buffer_bytes", "max_subscriptions_per_connection", "max_resume_blocks",
         "ready_min_peers", "ready_max_lag_blocks", "ready_stall_ms"},
        "rpc."));
    CAIRN_TRY(ReadString(*rpc, "listen", "rpc.", &c.rpc_listen));
    CAIRN_TRY(ReadUint(*rpc, "threads", "rpc.", &c.rpc_threads));
    CAIRN_TRY(ReadUint(*rpc, "max_body_bytes", "rpc.", &c.rpc_max_body_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_connections", "rpc.", &c.rpc_max_connections));
    CAIRN_TRY(ReadUint(*rpc, "max_batch", "rpc.", &c.rpc_max_batch));
    CAIRN_TRY(ReadUint(*rpc, "max_response_bytes", "rpc.", &c.rpc_max_response_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_connections_per_ip", "rpc.", &c.rpc_max_connections_per_ip));
    CAIRN_TRY(ReadUint(*rpc, "max_inflight_bytes", "rpc.", &c.rpc_max_inflight_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_ws_connections", "rpc.", &c.rpc_max_ws_connections));
    CAIRN_TRY(
        ReadUint(*rpc, "max_ws_connections_per_ip", "rpc.", &c.rpc_max_ws_connections_per_ip));
    CAIRN_TRY(ReadUint(*rpc, "max_ws_message_bytes", "rpc.", &c.rpc_max_ws_message_bytes));
    CAIRN_TRY(ReadUint(*rpc, "ws_queue_messages", "rpc.", &c.rpc_ws_queue_messages));
    CAIRN_TRY(ReadUint(*rpc, "ws_queue_bytes", "rpc.", &c.rpc_ws_queue_bytes));
    CAIRN_TRY(ReadUint(*rpc, "ws_send_buffer_bytes", "rpc.", &c.rpc_ws_send_buffer_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_subscriptions_per_connection", "rpc.",
                       &c.rpc_max_subscriptions_per_connection));
    CAIRN_TRY(ReadUint(*rpc, "max_resume_blocks", "rpc.", &c.rpc_max_resume_blocks));
    CAIRN_TRY(ReadUint(*rpc, "ready_min_peers", "rpc.", &c.rpc_ready_min_peers));
    CAIRN_TRY(ReadUint(*rpc, "ready_max_lag_blocks", "rpc.", &c.rpc_ready_max_lag_blocks));
    CAIRN_TRY(ReadUint(*rpc, "ready_stall_ms", "rpc.", &c.rpc_ready_stall_ms));
  }
  if (auto cons = j.find("consensus"); cons != j.end()) {
    if (!cons->is_object()) return Err("consensus", "must be an object");
    CAIRN_TRY(CheckKeys(
        *cons, {"block_interval_ms", "empty_blocks", "tick_ms", "max_block_txs", "compact_blocks"},
        "consensus."));
    CAIRN_TRY(ReadUint(*cons, "block_interval_ms", "consensus.", &c.block_interval_ms));
    CAIRN_TRY(ReadBool(*cons, "empty_blocks", "consensus.", &c.empty_blocks));
    CAIRN_TRY(ReadBool(*cons, "compact_blocks", "consensus.", &c.compact_blocks));
    CAIRN_TRY(ReadUint(*cons, "tick_ms", "consensus.", &c.tick_ms));
    CAIRN_TRY(ReadUint(*cons, "max_block_txs", "consensus.", &c.max_block_txs));
  }
  if (auto mp = j.find("mempool"); mp != j.end()) {
    if (!mp->is_object()) return Err("mempool", "must be an object");
    CAIRN_TRY(CheckKeys(*mp,
                        {"max_txs", "max_bytes", "max_nonce_gap", "max_per_sender", "ttl_blocks",
                         "admission_window_ms", "admission_nice"},
                        "mempool."));
    CAIRN_TRY(ReadUint(*mp, "max_txs", "mempool.", &c.mempool.max_txs));
    CAIRN_TRY(ReadUint(*mp, "max_bytes", "mempool.", &c.mempool.max_bytes));
    CAIRN_TRY(ReadUint(*mp, "max_nonce_gap", "mempool.", &c.mempool.max_nonce_gap));
    CAIRN_TRY(ReadUint(*mp, "max_per_sender", "mempool.", &c.mempool.max_per_sender));
    CAIRN_TRY(ReadUint(*mp, "ttl_blocks", "mempool.", &c.mempool.ttl_blocks));
    CAIRN_TRY(ReadUint(*mp, "admission_window_ms", "mempool.", &c.mempool.admission_window_ms));
    CAIRN_TRY(ReadUint(*mp, "admission_nice", "mempool.", &c.admission_nice));
  }
  if (auto p2p = j.find("p2p"); p2p != j.end()) {
    if (!p2p->is_object()) return Err("p2p", "must be an object");
    CAIRN_TRY(CheckKeys(*p2p,
                        {"listen", "peers", "max_inbound", "max_pending", "max_pending_per_ip",
                         "handshake_timeout_ms"},
                        "p2p."));
    CAIRN_TRY(ReadString(*p2p, "listen", "p2p.", &c.p2p_listen));
    CAIRN_TRY(ReadUint(*p2p, "max_inbound", "p2p.", &c.p2p_max_inbound));
    CAIRN_TRY(ReadUint(*p2p, "max_pending", "p2p.", &c.p2p_max_pending));
    CAIRN_TRY(ReadUint(*p2p, "max_pending_per_ip", "p2p.", &c.p2p_max_pending_per_ip));
    CAIRN_TRY(ReadUint(*p2p, "handshake_timeout_ms", "p2p.", &c.p2p_handshake_timeout_ms));
    if (auto peers = p2p->find("peers"); peers != p2p->end()) {
      if (!peers->is_array()) return Err("p2p.peers", "must be an array");
      if (peers->size() > kMaxPeers) {
        return Err("p2p.peers", "more than the " + std::to_string(kMaxPeers) + " peers allowed");
      }
      for (size_t i = 0; i < peers->size(); ++i) {
        const json& p = (*peers)[i];
        std::string at = "p2p.peers[" + std::to_string(i) + "].";
        if (!p.is_object()) return Err(at, "must be an object");
        PeerConfig pc;
        CAIRN_TRY(ReadString(p, "address", at, &pc.address));
        CAIRN_TRY(ReadString(p, "node_id", at, &pc.node_id));
        c.peers.push_back(pc);
      }
    }
  }
  if (auto t = j.find("state_tree"); t != j.end()) {
    if (!t->is_object()) return Err("state_tree", "must be an object");
    CAIRN_TRY(CheckKeys(*t, {"memory_versions", "retain_heights"}, "state_tree."));
    CAIRN_TRY(ReadUint(*t, "memory_versions", "state_tree.", &c.state_tree_memory_versions));
    CAIRN_TRY(ReadUint(*t, "retain_heights", "state_tree.", &c.state_tree_retain_heights));
  }
  if (auto t = j.find("snapshot"); t != j.end()) {
    if (!t->is_object()) return Err("snapshot", "must be an object");
    CAIRN_TRY(CheckKeys(
        *t,
        {"interval", "keep", "serve_chunks_per_sec", "serve_bytes_per_sec", "target_chunk_bytes"},
        "snapshot."));
    CAIRN_TRY(ReadUint(*t, "interval", "snapshot.", &c.snapshot_interval));
    CAIRN_TRY(ReadUint(*t, "keep", "snapshot.", &c.snapshot_keep));
    CAIRN_TRY(ReadUint(*t, "serve_chunks_per_sec", "snapshot.", &c.snapshot_serve_chunks_per_sec));
    CAIRN_TRY(ReadUint(*t, "serve_bytes_per_sec", "snapshot.", &c.snapshot_serve_bytes_per_sec));
    CAIRN_TRY(ReadUint(*t, "target_chunk_bytes", "snapshot.", &c.snapshot_target_chunk_bytes));
  }
  if (auto t = j.find("state_sync"); t != j.end()) {
    if (!t->is_object()) return Err("state_sync", "must be an object");
    CAIRN_TRY(CheckKeys(*t, {"enable", "trust_height", "trust_hash"}, "state_sync."));
    CAIRN_TRY(ReadBool(*t, "enable", "state_sync.", &c.state_sync_enable));
    CAIRN_TRY(ReadUint(*t, "trust_height", "state_sync.", &c.state_sync_trust_height));
    CAIRN_TRY(ReadString(*t, "trust_hash", "state_sync.", &c.state_sync_trust_hash));
  }
  if (auto st = j.find("storage"); st != j.end()) {
    if (!st->is_object()) return Err("storage", "must be an object");
    CAIRN_TRY(CheckKeys(*st, {"sync", "retain_blocks"}, "storage."));
    CAIRN_TRY(ReadBool(*st, "sync", "storage.", &c.sync_writes));
    CAIRN_TRY(ReadUint(*st, "retain_blocks", "storage.", &c.retain_blocks));
  }
  CAIRN_TRY(c.Validate());
  return c;
}

Result<NodeConfig> NodeConfig::Load(const std::string& path) {
  auto file = ReadRegularFile(path, kMaxConfigFileBytes);
  if (!file.ok()) return file.status().Wrap("config");
  std::string home = std::filesystem::absolute(path).parent_path().string();
  auto c = FromJson(file->data, home);
  if (!c.ok()) return Status::InvalidArgument(path + ": " + c.error());
  return c;
}

Status NodeConfig::Validate() const {
  for (const UintRange& r : kUintRanges) {
    const uint64_t v = r.get(*this);
    if (v < r.min || v > r.max) {
      return Err(std::string(r.key), std::to_string(v) + " is out of range (" + RangeText(r) + ")");
    }
  }
  // The budget must hold one largest request and one largest answer, or a lone client could be
  // refused by an idle server.
  for (const auto& [key, value] :
       {std::pair<const char*, size_t>{"rpc.max_body_bytes", rpc_max_body_bytes},
        {"rpc.max_response_bytes", rpc_max_response_bytes}}) {
    if (rpc_max_inflight_bytes < value) {
      return Err("rpc.max_inflight_bytes", std::to_string(rpc_max_inflight_bytes) + " is below " +
                                               key + " " + std::to_string(value) +
                                               "; raise it to at least " + std::to_string(value));
    }
  }
  // The trust point is a pair: a height without its hash (or the reverse) trusts nothing.
  if (!state_sync_trust_hash.empty() &&
      (state_sync_trust_hash.size() != 64 ||
       !std::all_of(state_sync_trust_hash.begin(), state_sync_trust_hash.end(),
                    [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); }))) {
    return Err("state_sync.trust_hash", "must be a block hash of 64 hex digits");
  }
  // A hash names its height; a height alone is refused when a state sync starts (it needs
  // the hash), so that each key alone keeps its whole range here.
  if (!state_sync_trust_hash.empty() && state_sync_trust_height == 0) {
    return Err("state_sync.trust_hash",
               "needs state_sync.trust_height, the height of the block it names");
  }
  if (name.empty() || name.size() > kMaxNameBytes) {
    return Err("name", "must be 1 to " + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (std::any_of(name.begin(), name.end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
    return Err("name", "must not hold control characters");
  }
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"data_dir", &data_dir},
        {"key_file", &key_file},
        {"genesis_file", &genesis_file}}) {
    if (value->empty() || value->size() > kMaxPathBytes) {
      return Err(key, "must be a path of 1 to " + std::to_string(kMaxPathBytes) + " bytes");
    }
    if (value->find('\0') != std::string::npos) return Err(key, "must not hold a NUL byte");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.count(log_level)) {
    return Err("log_level", "must be one of trace, debug, info, warn, error, off");
  }
  if (log_format != "text" && log_format != "json") {
    return Err("log.format", "must be text or json");
  }
  for (const auto& [component, level] : log_levels) {
    if (std::find(std::begin(kLogComponents), std::end(kLogComponents), component) ==
        std::end(kLogComponents)) {
      return Err("log.levels." + component, "unknown component (node, rpc, consensus, store, p2p)");
    }
    if (!kLevels.count(level)) {
      return Err("log.levels." + component, "must be one of trace, debug, info, warn, error, off");
    }
  }
  if (!metrics_listen.empty()) {
    auto hp = SplitHostPort(metrics_listen, "metrics.listen");
    if (!hp.ok()) return hp.status();
    if (hp->first.empty()) return Err("metrics.listen", "\"" + metrics_listen + "\" has no host");
  }
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"rpc.listen", &rpc_listen},
        {"p2p.listen", &p2p_listen}}) {
    auto hp = SplitHostPort(*value, key);
    if (!hp.ok()) return hp.status();
    if (hp->first.empty()) return Err(key, "\"" + *value + "\" has no host");
  }
  if (peers.size() > kMaxPeers) {
    return Err("p2p.peers", std::to_string(peers.size()) + " peers, more than the " +
                                std::to_string(kMaxPeers) + " allowed");
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    std::string at = "p2p.peers[" + std::to_string(i) + "].";
    if (!SplitHostPort(peers[i].address, at + "address").ok()) {
      return Err(at + "address", "must be host:port");
    }
    if (!crypto::PublicKey::FromHex(peers[i].node_id)) {
      return Err(at + "node_id", "must be 64 hex digits (the peer's public key)");
    }
  }
  return Status::Ok();
}

std::span<const UintRange> UintRanges() { return kUintRanges; }

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // any other name may resolve anywhere
}

std::vector<std::string> ExposureWarnings(const NodeConfig& c) {
  std::vector<std::string> out;
  auto rpc = SplitHostPort(c.rpc_listen, "rpc.listen");
  if (rpc.ok() && !IsLoopbackHost(rpc->first)) {
    out.push_back("rpc.listen is " + c.rpc_listen +
                  ", reachable from other hosts: JSON-RPC has no TLS and no authentication, "
                  "so anyone who reaches it can read the chain and submit transactions. Keep it "
                  "on 127.0.0.1 behind a reverse proxy with TLS and authentication "
                  "(docs/OPERATIONS.md)");
  }
  auto metrics = SplitHostPort(c.metrics_listen, "metrics.listen");
  if (!c.metrics_listen.empty() && metrics.ok() && !IsLoopbackHost(metrics->first)) {
    out.push_back("metrics.listen is " + c.metrics_listen +
                  ", reachable from other hosts: /metrics has no authentication, so anyone who "
                  "reaches it can read the node's height, peers, mempool, RPC traffic and "
                  "process figures. Firewall it to the Prometheus servers (docs/OPERATIONS.md)");
  }
  auto p2p = SplitHostPort(c.p2p_listen, "p2p.listen");
  if (p2p.ok() && !IsLoopbackHost(p2p->first)) {
    out.push_back("p2p.listen is " + c.p2p_listen +
                  ", reachable from other hosts: only nodes in the genesis can complete a "
                  "handshake, but anyone can connect; firewall it to the other nodes' "
                  "addresses (docs/OPERATIONS.md)");
  }
  return out;
}

std::string NodeConfig::ToJson() const {
  json peers_json = json::array();
  for (const PeerConfig& p : peers)
    peers_json.push_back({{"address", p.address}, {"node_id", p.node_id}});
  json j = {{"name", name},
            {"data_dir", data_dir},
            {"key_file", key_file},
            {"genesis_file", genesis_file},
            {"log_level", log_level},
            {"log", {{"format", log_format}, {"levels", log_levels}}},
            {"metrics", {{"listen", metrics_listen}}},
            {"rpc",
             {{"listen", rpc_listen},
              {"threads", rpc_threads},
              {"max_body_bytes", rpc_max_body_bytes},
              {"max_connections", rpc_max_connections},
              {"max_batch", rpc_max_batch},
              {"max_response_bytes", rpc_max_response_bytes},
              {"max_connections_per_ip", rpc_max_connections_per_ip},
              {"max_inflight_bytes", rpc_max_inflight_bytes},
              {"max_ws_connections", rpc_max_ws_connections},
              {"max_ws_connections_per_ip", rpc_max_ws_connections_per_ip},
              {"max_ws_message_bytes", rpc_max_ws_message_bytes},
              {"ws_queue_messages", rpc_ws_queue_messages},
              {"ws_queue_bytes", rpc_ws_queue_bytes},
              {"ws_send_buffer_bytes", rpc_ws_send_buffer_bytes},
              {"max_subscriptions_per_connection", rpc_max_subscriptions_per_connection},
              {"max_resume_blocks", rpc_max_resume_blocks},
              {"ready_min_peers", rpc_ready_min_peers},
              {"ready_max_lag_blocks", rpc_ready_max_lag_blocks},
              {"ready_stall_ms", rpc_ready_stall_ms}}},
            {"consensus",
             {{"block_interval_ms", block_interval_ms},
              {"empty_blocks", empty_blocks},
              {"tick_ms", tick_ms},
              {"max_block_txs", max_block_txs},
              {"compact_blocks", compact_blocks}}},
            {"mempool",
             {{"max_txs", mempool.max_txs},
              {"max_bytes", mempool.max_bytes},
              {"max_nonce_gap", mempool.max_nonce_gap},
              {"max_per_sender", mempool.max_per_sender},
              {"ttl_blocks", mempool.ttl_blocks},
              {"admission_window_ms", mempool.admission_window_ms},
              {"admission_nice", admission_nice}}},
            {"p2p",
             {{"listen", p2p_listen},
              {"peers", peers_json},
              {"max_inbound", p2p_max_inbound},
              {"max_pending", p2p_max_pending},
              {"max_pending_per_ip", p2p_max_pending_per_ip},
              {"handshake_timeout_ms", p2p_handshake_timeout_ms}}},
            {"state_tree",
             {{"memory_versions", state_tree_memory_versions},
              {"retain_heights", state_tree_retain_heights}}},
            {"snapshot",
             {{"interval", snapshot_interval},
              {"keep", snapshot_keep},
              {"serve_chunks_per_sec", snapshot_serve_chunks_per_sec},
              {"serve_bytes_per_sec", snapshot_serve_bytes_per_sec},
              {"target_chunk_bytes", snapshot_target_chunk_bytes}}},
            {"state_sync",
             {{"enable", state_sync_enable},
              {"trust_height", state_sync_trust_height},
              {"trust_hash", state_sync_trust_hash}}},
            {"storage", {{"sync", sync_writes}, {"retain_blocks", retain_blocks}}}};
  return j.dump(2) + "\n";
}

std::string NodeConfig::Resolve(const std::string& p) const {
  if (p.empty() || p.front() == '/') return p;
  return (std::filesystem::path(home) / p).string();
}

}  // namespace cairn::config
