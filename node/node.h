// Node: the composition root. Owns the chain store, the mempool, the consensus engine and
// the RPC server, and runs the loop that drives the engine with real timers, disk and
// (later) network. Thread-safety: Run() owns the calling thread; the NodeApi methods are
// called concurrently by RPC threads; Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "consensus/engine.h"
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/mempool.h"
#include "node/config.h"
#include "p2p/host.h"
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
  std::vector<rpc::PeerInfo> GetPeers() const override;

 private:
  Node(NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
       std::unique_ptr<ledger::ChainStore> store);

  struct Loop;
  void OnTick(Loop& loop);
  // Drains the engine's Ready batches, proposes if wanted, compacts; after every input.
  void AfterEngineInput(Loop& loop);
  void OnConsensusMessage(Loop& loop, const p2p::NodeId& from, Bytes payload);
  void MaybePropose(Loop& loop);
  Status DrainReady();
  Status ApplyCommitted(const consensus::Block& block);
  // Verifies (unless this node built it) and commits the block at head + 1, then updates
  // the mempool and tells peers. An error means the block is invalid or the disk failed.
  Status CommitBlock(ledger::Block block, std::optional<ledger::ExecResult> exec, bool built);
  bool IsAllowedProposer(const crypto::PublicKey& key) const;
  uint32_t MaxBlockTxs() const;
  // Verifies signatures, admits to the mempool and queues admitted txs for gossip.
  std::vector<ledger::Admission> Admit(std::vector<ledger::Transaction> txs);

  // Peer-to-peer (node_network.cpp). Handlers run on the p2p thread and post work to the
  // loop thread (blocks, status) or the worker thread (gossip, serving sync requests).
  Status StartNetwork(Loop& loop);
  void StopNetwork();
  void OnGossip(const p2p::NodeId& from, Bytes payload);
  void OnGetBlocks(const p2p::NodeId& from, Bytes payload);
  void OnBlocks(Loop& loop, const p2p::NodeId& from, Bytes payload, bool announced);
  void OnPeerStatus(Loop& loop, const p2p::NodeId& from, Bytes payload);
  void MaybeSync();
  void FlushGossip();
  void TrimSeenLocked();  // REQUIRES: gossip_mu_ held
  void SendPendingTo(const p2p::NodeId& peer);
  void BroadcastStatus();

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
  std::optional<consensus::BlockRef> pending_sync_to_;
  uint64_t last_compact_ = 0;

  // Network state. host_ is set while running; peer_heads_ and sync_* are loop-thread only.
  std::unique_ptr<p2p::Host> host_;
  std::map<p2p::NodeId, std::pair<uint64_t, crypto::Hash256>> peer_heads_;
  std::optional<p2p::NodeId> sync_peer_;
  uint64_t sync_sent_ms_ = 0;
  std::mutex gossip_mu_;  // guards gossip_out_, seen_
  std::vector<Bytes> gossip_out_;
  std::set<crypto::Hash256> seen_;
  std::deque<crypto::Hash256> seen_order_;

  std::atomic<uint16_t> rpc_port_{0};
  std::atomic<bool> stop_requested_{false};
  Loop* loop_ = nullptr;
  std::mutex loop_mu_;  // guards loop_ for Stop()
};

}  // namespace cairn::node
