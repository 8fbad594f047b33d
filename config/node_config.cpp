#include "config/node_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace cairn::config {
namespace {

using nlohmann::json;

Status Err(const std::string& key, const std::string& problem) {
  return Status::Error("config: " + key + ": " + problem);
}

template <typename T>
Status ReadUint(const json& obj, const char* key, const std::string& prefix, T* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_number_unsigned() || it->get<uint64_t>() > std::numeric_limits<T>::max()) {
    return Err(prefix + key, "must be a non-negative integer");
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
  CAIRN_TRY(CheckKeys(j,
                      {"name", "data_dir", "key_file", "genesis_file", "log_level", "rpc",
                       "consensus", "mempool", "p2p", "storage"},
                      ""));
  CAIRN_TRY(ReadString(j, "name", "", &c.name));
  CAIRN_TRY(ReadString(j, "data_dir", "", &c.data_dir));
  CAIRN_TRY(ReadString(j, "key_file", "", &c.key_file));
  CAIRN_TRY(ReadString(j, "genesis_file", "", &c.genesis_file));
  CAIRN_TRY(ReadString(j, "log_level", "", &c.log_level));
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.count(c.log_level)) {
    return Err("log_level", "must be one of trace, debug, info, warn, error, off");
  }
  if (auto rpc = j.find("rpc"); rpc != j.end()) {
    if (!rpc->is_object()) return Err("rpc", "must be an object");
    CAIRN_TRY(CheckKeys(*rpc,
                        {"listen", "threads", "max_body_bytes", "max_connections", "max_batch",
                         "max_response_bytes", "max_connections_per_ip"},
                        "rpc."));
    CAIRN_TRY(ReadString(*rpc, "listen", "rpc.", &c.rpc_listen));
    CAIRN_TRY(ReadUint(*rpc, "threads", "rpc.", &c.rpc_threads));
    CAIRN_TRY(ReadUint(*rpc, "max_body_bytes", "rpc.", &c.rpc_max_body_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_connections", "rpc.", &c.rpc_max_connections));
    CAIRN_TRY(ReadUint(*rpc, "max_batch", "rpc.", &c.rpc_max_batch));
    if (c.rpc_threads == 0) return Err("rpc.threads", "must be at least 1");
    CAIRN_TRY(ReadUint(*rpc, "max_response_bytes", "rpc.", &c.rpc_max_response_bytes));
    CAIRN_TRY(ReadUint(*rpc, "max_connections_per_ip", "rpc.", &c.rpc_max_connections_per_ip));
    // Below 64 KiB a single block could not be answered; above 1 GiB one answer could hold
    // more memory than a node has to spare.
    if (c.rpc_max_response_bytes < (64u << 10) || c.rpc_max_response_bytes > (1u << 30)) {
      return Err("rpc.max_response_bytes", "must be between 65536 and 1073741824");
    }
    if (c.rpc_max_connections_per_ip < 1 || c.rpc_max_connections_per_ip > 65536) {
      return Err("rpc.max_connections_per_ip", "must be between 1 and 65536");
    }
  }
  if (auto cons = j.find("consensus"); cons != j.end()) {
    if (!cons->is_object()) return Err("consensus", "must be an object");
    CAIRN_TRY(CheckKeys(*cons, {"block_interval_ms", "empty_blocks", "tick_ms", "max_block_txs"},
                        "consensus."));
    CAIRN_TRY(ReadUint(*cons, "block_interval_ms", "consensus.", &c.block_interval_ms));
    CAIRN_TRY(ReadBool(*cons, "empty_blocks", "consensus.", &c.empty_blocks));
    CAIRN_TRY(ReadUint(*cons, "tick_ms", "consensus.", &c.tick_ms));
    CAIRN_TRY(ReadUint(*cons, "max_block_txs", "consensus.", &c.max_block_txs));
    if (c.tick_ms == 0) return Err("consensus.tick_ms", "must be at least 1");
  }
  if (auto mp = j.find("mempool"); mp != j.end()) {
    if (!mp->is_object()) return Err("mempool", "must be an object");
    CAIRN_TRY(CheckKeys(*mp,
                        {"max_txs", "max_bytes", "max_nonce_gap", "max_per_sender", "ttl_blocks"},
                        "mempool."));
    CAIRN_TRY(ReadUint(*mp, "max_txs", "mempool.", &c.mempool.max_txs));
    CAIRN_TRY(ReadUint(*mp, "max_bytes", "mempool.", &c.mempool.max_bytes));
    CAIRN_TRY(ReadUint(*mp, "max_nonce_gap", "mempool.", &c.mempool.max_nonce_gap));
    CAIRN_TRY(ReadUint(*mp, "max_per_sender", "mempool.", &c.mempool.max_per_sender));
    CAIRN_TRY(ReadUint(*mp, "ttl_blocks", "mempool.", &c.mempool.ttl_blocks));
  }
  if (auto p2p = j.find("p2p"); p2p != j.end()) {
    if (!p2p->is_object()) return Err("p2p", "must be an object");
    CAIRN_TRY(CheckKeys(*p2p, {"listen", "peers"}, "p2p."));
    CAIRN_TRY(ReadString(*p2p, "listen", "p2p.", &c.p2p_listen));
    if (auto peers = p2p->find("peers"); peers != p2p->end()) {
      if (!peers->is_array()) return Err("p2p.peers", "must be an array");
      for (size_t i = 0; i < peers->size(); ++i) {
        const json& p = (*peers)[i];
        std::string at = "p2p.peers[" + std::to_string(i) + "].";
        if (!p.is_object()) return Err(at, "must be an object");
        PeerConfig pc;
        CAIRN_TRY(ReadString(p, "address", at, &pc.address));
        CAIRN_TRY(ReadString(p, "node_id", at, &pc.node_id));
        if (!SplitHostPort(pc.address, at + "address").ok()) {
          return Err(at + "address", "must be host:port");
        }
        c.peers.push_back(pc);
      }
    }
  }
  if (auto st = j.find("storage"); st != j.end()) {
    if (!st->is_object()) return Err("storage", "must be an object");
    CAIRN_TRY(CheckKeys(*st, {"sync"}, "storage."));
    CAIRN_TRY(ReadBool(*st, "sync", "storage.", &c.sync_writes));
  }
  if (auto hp = SplitHostPort(c.rpc_listen, "rpc.listen"); !hp.ok()) return hp.status();
  if (auto hp = SplitHostPort(c.p2p_listen, "p2p.listen"); !hp.ok()) return hp.status();
  return c;
}

Result<NodeConfig> NodeConfig::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error("config: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string home = std::filesystem::absolute(path).parent_path().string();
  auto c = FromJson(ss.str(), home);
  if (!c.ok()) return Status::Error(path + ": " + c.error());
  return c;
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
            {"rpc",
             {{"listen", rpc_listen},
              {"threads", rpc_threads},
              {"max_body_bytes", rpc_max_body_bytes},
              {"max_connections", rpc_max_connections},
              {"max_batch", rpc_max_batch},
              {"max_response_bytes", rpc_max_response_bytes},
              {"max_connections_per_ip", rpc_max_connections_per_ip}}},
            {"consensus",
             {{"block_interval_ms", block_interval_ms},
              {"empty_blocks", empty_blocks},
              {"tick_ms", tick_ms},
              {"max_block_txs", max_block_txs}}},
            {"mempool",
             {{"max_txs", mempool.max_txs},
              {"max_bytes", mempool.max_bytes},
              {"max_nonce_gap", mempool.max_nonce_gap},
              {"max_per_sender", mempool.max_per_sender},
              {"ttl_blocks", mempool.ttl_blocks}}},
            {"p2p", {{"listen", p2p_listen}, {"peers", peers_json}}},
            {"storage", {{"sync", sync_writes}}}};
  return j.dump(2) + "\n";
}

std::string NodeConfig::Resolve(const std::string& p) const {
  if (p.empty() || p.front() == '/') return p;
  return (std::filesystem::path(home) / p).string();
}

}  // namespace cairn::config
