// Node: the composition root. Owns the chain store, the mempool, the consensus engine and
// the RPC server, and runs the loop that drives the engine with real timers, disk and
// (later) network. Thread-safety: Run() owns the calling thread; the NodeApi methods are
// called concurrently by RPC threads; Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "consensus/engine.h"
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/mempool.h"
#include "node/config.h"
#include "rpc/node_api.h"

namespace cairn::node {

class Node : public rpc::NodeApi {
 public:
  // Loads the key, genesis and store named by `config`, creating the data dir on first
  // start. Refuses a data dir of another chain or an inconsistent one.
  static Result<std::unique_ptr<Node>> Open(const NodeConfig& config);
  ~Node() override;

  // Serves RPC and produces blocks until Stop() or SIGINT/SIGTERM; returns when stopped
  // cleanly (RPC closed, block in progress finished, store closed).
  // `on_serving` (optional) is called once RPC is bound, with its port.
  Status Run(const std::function<void(uint16_t rpc_port)>& on_serving = nullptr);
  void Stop();
  // The RPC port actually bound (after Run() started serving; 0 before).
  uint16_t rpc_port() const { return rpc_port_.load(); }

  // rpc::NodeApi
  ledger::Admission SubmitTransaction(ledger::Transaction tx) override;
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override;
  ledger::Head GetHead() const override;
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override;
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override;
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t height) const override;
  Result<rpc::TxLookup> GetTransaction(const crypto::Hash256& hash) const override;
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override;
  uint64_t NextNonce(const ledger::Address& a) const override;
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override;
  rpc::NodeStatus GetStatus() const override;
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<rpc::PeerInfo> GetPeers() const override { return {}; }

 private:
  Node(NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
       std::unique_ptr<ledger::ChainStore> store);

  struct Loop;
  void OnTick(Loop& loop);
  void MaybePropose(Loop& loop);
  Status DrainReady();
  Status ApplyCommitted(const consensus::Block& block);
  uint32_t MaxBlockTxs() const;

  const NodeConfig config_;
  const genesis::Genesis genesis_;
  const crypto::KeyPair key_;
  const crypto::Hash256 genesis_hash_;
  const int validator_index_;
  std::unique_ptr<ledger::ChainStore> store_;

  mutable std::mutex mu_;  // guards mempool_, engine_status_
  ledger::Mempool mempool_;
  consensus::EngineStatus engine_status_;

  // Owned by the loop thread.
  std::unique_ptr<consensus::Engine> engine_;
  // Execution results of blocks this node built, so committing them does not re-execute.
  std::map<crypto::Hash256, ledger::ExecResult> built_;
  std::map<crypto::Hash256, ledger::Block> built_blocks_;
  uint64_t last_block_ms_ = 0;
  uint64_t propose_started_ms_ = 0;

  std::atomic<uint16_t> rpc_port_{0};
  std::atomic<bool> stop_requested_{false};
  Loop* loop_ = nullptr;
  std::mutex loop_mu_;  // guards loop_ for Stop()
};

}  // namespace cairn::node
