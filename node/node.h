// Node: the daemon's composition root. It opens the key, genesis and chain store, wires a
// NodeCore to the p2p network, the JSON-RPC server and real time, and runs the threads:
// the loop (consensus, commits, block sync: one thread runs every loop-lane handler), the
// worker (gossip admission, serving block requests), the p2p thread (routing only) and the
// RPC threads (NodeService). A node joining by state sync (state_sync.enable on a data dir
// with no chain) runs StateSync on the loop first, with p2p up and RPC not yet served, then
// the rest as usual from the snapshot's height. Thread-safety: Run() owns the calling thread;
// Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "base/clock.h"
#include "base/mutex.h"
#include "config/node_config.h"
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/node_core.h"
#include "rpc/subscription.h"

namespace cairn::node {

class Node {
 public:
  // Loads the key, genesis and store named by `config`, creating the data dir on first
  // start. Refuses a data dir of another chain or an inconsistent one.
  static Result<std::unique_ptr<Node>> Open(const config::NodeConfig& config, NodeHooks hooks = {});
  ~Node();

  // Serves RPC and produces blocks until Stop() or SIGINT/SIGTERM; returns when stopped
  // cleanly (RPC closed, block in progress finished, store closed), or the error that
  // halted it. `on_serving` (optional) is called once RPC is bound, with its port.
  Status Run(const std::function<void(uint16_t rpc_port)>& on_serving = nullptr);
  void Stop();
  // The RPC port actually bound (after Run() started serving; 0 before).
  uint16_t rpc_port() const { return rpc_port_.load(); }

 private:
  struct Loop;
  Node(config::NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
       std::unique_ptr<ledger::ChainStore> store, std::unique_ptr<ledger::KvStore> sync_kv,
       NodeHooks hooks);
  // The store's settings from the config (state tree windows).
  static Status ConfigureStore(ledger::ChainStore& store, const config::NodeConfig& config);
  // Makes and starts the core over store_, and routes messages to it from then on.
  Status StartCore(Loop& loop);
  // Runs the state sync on the loop until it hands over a chain store, or stops. Sets store_.
  Status RunStateSync(Loop& loop);
  Status Serve(Loop& loop, const std::function<void(uint16_t)>& on_serving);
  void Route(Loop& loop);
  rpc::Readiness Readiness(NodeCore& core, uint64_t last_commit_ms) const;

  const config::NodeConfig config_;
  const genesis::Genesis genesis_;
  const crypto::KeyPair key_;
  std::unique_ptr<ledger::ChainStore> store_;
  // A data dir with no chain (or a state sync in progress), held until the sync makes it one.
  std::unique_ptr<ledger::KvStore> sync_kv_;
  NodeHooks hooks_;
  SystemClock clock_;

  std::atomic<uint16_t> rpc_port_{0};
  std::atomic<bool> stop_requested_{false};
  Mutex loop_mu_;  // guards loop_ for Stop()
  Loop* loop_ GUARDED_BY(loop_mu_) = nullptr;
};

}  // namespace cairn::node
