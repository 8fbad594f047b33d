// Private to client/: the Client's nested types (client/client.h declares them), shared by
// client.cpp (nodes, health, reads) and submit.cpp (sending). Not a public header.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/client.h"

namespace cairn::client {

// Whether the answer says the node itself is unusable now, rather than refusing the request:
// it could not be reached, answered garbage or HTTP 5xx without JSON-RPC, is busy or shutting
// down (-32002), or its handler failed (-32603).
inline bool NodeFailure(const rpc::CallResult& r) {
  if (r.is_transport_error()) return true;
  if (r.is_rpc_error()) {
    const int code = r.rpc_error().code;
    return code == rpc::kResourceUnavailable || code == rpc::kInternalError;
  }
  return false;
}

struct Client::Node {
  Node(BackoffOptions b, uint64_t seed) : backoff(b, seed) {}
  bool healthy = true;
  bool probing = false;
  uint64_t next_probe_ms = 0;
  Backoff backoff;
  uint64_t outstanding = 0;
  uint64_t calls = 0;
  uint64_t failures = 0;
  std::string last_error;
  std::vector<std::unique_ptr<rpc::Client>> idle;
};

// Owned by the one thread that submits for the sender (the class contract), so unguarded.
struct Client::Sender {
  std::vector<size_t> rank;
  // The node the unconfirmed transactions were all last accepted by; SIZE_MAX: none yet.
  size_t home = SIZE_MAX;
  std::deque<SignedTx> unconfirmed;  // ascending nonce
  size_t prune_at = 0;
};

// One sender's part of a Submit: its inputs in nonce order, [next, end) still unresolved.
struct Client::Group {
  Sender* s = nullptr;
  std::vector<size_t> idx;
  size_t next = 0;
  std::vector<size_t> skip;  // nodes that answered `syncing` for it in this call
  std::string last_error;
};

// A connection to one node for one call, counted as outstanding while held.
class Client::Lease {
 public:
  Lease(Client* c, size_t node) : c_(c), node_(node) {
    {
      MutexLock lock(&c_->mu_);
      Node& n = *c_->nodes_[node];
      ++n.outstanding;
      ++n.calls;
      if (!n.idle.empty()) {
        conn_ = std::move(n.idle.back());
        n.idle.pop_back();
      }
    }
    if (!conn_) {
      // The URL was checked when the Client was created, so this cannot fail.
      auto r = rpc::Client::Create(c_->ring_.nodes()[node], c_->options_.rpc);
      if (r.ok()) conn_ = std::make_unique<rpc::Client>(std::move(r.value()));
    }
  }
  ~Lease() {
    MutexLock lock(&c_->mu_);
    Node& n = *c_->nodes_[node_];
    --n.outstanding;
    if (keep_ && conn_ && n.healthy && n.idle.size() < c_->options_.max_idle_connections) {
      n.idle.push_back(std::move(conn_));
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  rpc::CallResult Call(std::string_view method, const Json& params) {
    if (!conn_) return Status::Unavailable("client: no connection to " + c_->ring_.nodes()[node_]);
    rpc::CallResult r = conn_->Call(method, params);
    keep_ = !NodeFailure(r);
    return r;
  }
  Result<std::vector<rpc::RpcResult>> Batch(
      const std::vector<std::pair<std::string, Json>>& calls) {
    if (!conn_) return Status::Unavailable("client: no connection to " + c_->ring_.nodes()[node_]);
    auto r = conn_->CallBatch(calls);
    keep_ = r.ok();
    return r;
  }

 private:
  Client* const c_;
  const size_t node_;
  std::unique_ptr<rpc::Client> conn_;
  bool keep_ = false;
};

}  // namespace cairn::client
