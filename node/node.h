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
#include <unordered_set>

#include "api/node_api.h"
#include "consensus/bft/bft.h"
#include "consensus/engine.h"
#include "consensus/signer.h"
#include "crypto/ed25519.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/mempool.h"
#include "node/config.h"
#include "node/sig_cache.h"
#include "p2p/host.h"

namespace cairn::node {

// Test-only seams. Production cairnd passes none; tests/integration builds a misbehaving
// validator with them (never part of the released binaries).
struct NodeHooks {
  // Wraps the consensus engine once it is opened (e.g. to make it equivocate).
  std::function<std::unique_ptr<consensus::Engine>(std::unique_ptr<consensus::Engine>,
                                                   const crypto::KeyPair& key,
                                                   const genesis::Genesis& genesis)>
      wrap_engine;
};

class Node : public rpc::NodeApi {
 public:
  // Loads the key, genesis and store named by `config`, creating the data dir on first
  // start. Refuses a data dir of another chain or an inconsistent one.
  static Result<std::unique_ptr<Node>> Open(const NodeConfig& config, NodeHooks hooks = {});
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
  Result<std::optional<rpc::CertificateInfo>> GetCertificate(uint64_t height) const override;
  std::vector<rpc::EvidenceInfo> GetEvidence() const override;

 private:
  Node(NodeConfig config, genesis::Genesis genesis, crypto::KeyPair key,
       std::unique_ptr<ledger::ChainStore> store, NodeHooks hooks);
  Status OpenEngine(const ledger::Head& head);

  struct Loop;
  void OnTick(Loop& loop);
  // Drains the engine's Ready batches, proposes if wanted, compacts; after every input.
  void AfterEngineInput(Loop& loop);
  void OnConsensusMessage(Loop& loop, const p2p::NodeId& from, Bytes payload);
  void MaybePropose(Loop& loop);
  Status DrainReady();
  Status ApplyCommitted(const consensus::Block& block);
  // Verifies (unless this node built or validated it) and commits the block at head + 1 with
  // its certificate, then updates the mempool and tells peers. On a BFT chain a block from a
  // peer must carry a valid certificate. An error means the block is invalid or the disk
  // failed (the message then contains "store commit").
  Status CommitBlock(ledger::Block block, std::optional<ledger::ExecResult> exec, bool built,
                     ByteView certificate = {});

  // BFT (node_bft.cpp).
  class ProposalCheck;
  std::unique_ptr<consensus::bft::ProposalValidator> MakeProposalCheck();
  // That the block's bytes decode to the block of its hash and height (any thread).
  static Status CheckBlockIdentity(const consensus::Block& block);
  // Whether this validator may vote for `block` as the next block on `parent`: everything a
  // block from a peer is checked for, executed on this node's state. Caches the result.
  Status ValidateProposal(const consensus::Block& block, const consensus::BlockRef& parent);
  // That `certificate` proves `block` final for the genesis validator set.
  Status CheckCertificate(const ledger::Block& block, ByteView certificate) const;
  void RecordEvidence(ByteView raw);
  rpc::EvidenceInfo DescribeEvidence(const consensus::bft::Evidence& ev, ByteView raw,
                                     uint64_t recorded_ms) const;
  Status LoadEvidence();
  // Tells a BFT engine about blocks the node applied through block sync on its own.
  void CatchUpEngine(Loop& loop);
  bool IsAllowedProposer(const crypto::PublicKey& key) const;
  uint32_t MaxBlockTxs() const;
  // Where transactions being admitted come from; it decides what is verified and relayed.
  enum class TxSource { kClient, kValidatorPeer, kOtherPeer };
  // Verifies signatures (unless a trusted validator already did), admits to the mempool and
  // queues admitted txs for gossip (unless a validator peer already broadcast them).
  std::vector<ledger::Admission> Admit(std::vector<ledger::Transaction> txs, TxSource source);
  // Raft trusts its validators (crash faults only, authenticated links): a transaction a
  // validator admitted, or a block a validator proposed, had its signatures checked there.
  bool TrustValidators() const { return genesis_.consensus == genesis::ConsensusKind::kRaft; }

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

  // Transactions whose signatures this node verified (~32 MiB at capacity).
  SigCache sig_cache_{400000};

  mutable std::mutex mu_;  // guards mempool_
  ledger::Mempool mempool_;
  mutable std::mutex status_mu_;  // guards engine_status_
  consensus::EngineStatus engine_status_;

  const NodeHooks hooks_;
  const bool bft_;
  // BFT: this validator's vote signer (null for observers) and every validator's key.
  std::unique_ptr<consensus::Signer> signer_;
  std::unique_ptr<consensus::Verifier> verifier_;
  std::unique_ptr<consensus::bft::ProposalValidator> proposal_check_;

  // Owned by the loop thread.
  std::unique_ptr<consensus::Engine> engine_;
  // The BFT engine inside engine_ (which a test hook may wrap); null on other chains.
  consensus::bft::BftEngine* bft_engine_ = nullptr;
  // Proposals of other validators this node validated for the next height (BFT), so
  // committing the decided one does not execute it again.
  struct Validated {
    ledger::Block block;
    ledger::ExecResult exec;
  };
  std::map<crypto::Hash256, Validated> validated_;
  std::deque<crypto::Hash256> validated_order_;  // oldest first, bounds validated_
  std::deque<crypto::Hash256> built_order_;      // oldest first, bounds built_
  // Execution results of blocks this node built, so committing them does not re-execute.
  std::map<crypto::Hash256, ledger::ExecResult> built_;
  std::map<crypto::Hash256, ledger::Block> built_blocks_;
  uint64_t last_block_ms_ = 0;
  std::map<crypto::Hash256, uint64_t> built_at_ms_;
  struct RefusedLog {
    uint64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  std::map<consensus::ReplicaId, RefusedLog>
      refused_log_;  // rate limit of refusal lines  // when each block in built_ was built
  std::optional<consensus::BlockRef> pending_sync_to_;
  uint64_t last_compact_ = 0;

  // Network state. host_ is set while running; peer_heads_ and sync_* are loop-thread only.
  std::unique_ptr<p2p::Host> host_;
  std::map<p2p::NodeId, std::pair<uint64_t, crypto::Hash256>> peer_heads_;
  std::optional<p2p::NodeId> sync_peer_;
  uint64_t sync_sent_ms_ = 0;
  std::mutex gossip_mu_;  // guards gossip_out_, seen_
  std::vector<Bytes> gossip_out_;
  std::unordered_set<crypto::Hash256, crypto::Hash256Hasher> seen_;
  std::deque<crypto::Hash256> seen_order_;

  mutable std::mutex evidence_mu_;  // guards evidence_
  std::vector<rpc::EvidenceInfo> evidence_;
  std::set<crypto::Hash256> evidence_ids_;  // sha256 of each piece in evidence_
  bool evidence_full_logged_ = false;

  std::atomic<uint16_t> rpc_port_{0};
  std::atomic<bool> stop_requested_{false};
  Loop* loop_ = nullptr;
  std::mutex loop_mu_;  // guards loop_ for Stop()
};

}  // namespace cairn::node
