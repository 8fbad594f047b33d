// NodeApi: what the node's JSON-RPC methods (api/methods.h) need from a node. node/ implements
// it; tests use fakes. Implementations must be thread-safe: the RPC server calls them from
// several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/chain_store.h"
#include "ledger/mempool.h"

namespace cairn::api {

struct TxLookup {
  enum class Status { kUnknown, kPending, kCommitted };
  Status status = Status::kUnknown;
  std::optional<ledger::Transaction> tx;
  uint64_t height = 0;
  uint32_t index = 0;
  crypto::Hash256 block_hash;
  std::optional<ledger::Receipt> receipt;
};

struct PeerInfo {
  std::string node_id;  // hex public key
  std::string name;
  std::string address;
  std::string direction;  // "inbound" | "outbound"
  uint64_t connected_since_ms = 0;
  uint64_t bytes_in = 0, bytes_out = 0, messages_in = 0, messages_out = 0;
};

struct NodeStatus {
  std::string chain_id;
  crypto::Hash256 genesis_hash;
  crypto::PublicKey node_id;
  std::string node_name;
  std::string consensus;  // "solo" | "raft" | "bft"
  bool validator = false;
  ledger::Head head;
  uint64_t head_time_ms = 0;
  size_t mempool_size = 0;
  size_t mempool_bytes = 0;
  size_t peers = 0;
  // Consensus engine view.
  std::string role;
  uint64_t term = 0;
  std::string leader;  // hex public key, "" when unknown
  uint64_t commit_height = 0;
  std::string version;
  // What the store keeps (docs/RPC.md getStatus): bodies from blocks_from, headers from
  // headers_from (1 unless a header backfill is unfinished), the state-sync height if any.
  uint64_t blocks_from = 1;
  uint64_t headers_from = 1;
  std::optional<uint64_t> state_synced_at;
};

// A block's commit certificate as the node decoded it (BFT chains): precommit signatures
// of a quorum of validators over the block hash. `raw` is the stored encoding.
struct CertificateInfo {
  Bytes raw;
  uint64_t height = 0;
  uint32_t round = 0;
  crypto::Hash256 block;
  struct Signer {
    uint32_t validator = 0;  // index in the genesis validator set
    crypto::PublicKey key;
    crypto::Signature sig;
  };
  std::vector<Signer> signers;
};

// Proof that a validator signed two conflicting votes (BFT): same kind, height and round,
// different blocks (nullopt: a nil vote).
struct EvidenceInfo {
  Bytes raw;  // the engine's encoding, verifiable offline
  uint32_t validator = 0;
  crypto::PublicKey key;
  std::string vote_type;  // "prevote" | "precommit"
  uint64_t height = 0;
  uint32_t round = 0;
  std::optional<crypto::Hash256> block_a, block_b;
  uint64_t recorded_ms = 0;  // Unix ms when this node first recorded it
};

class NodeApi {
 public:
  virtual ~NodeApi() = default;

  // Admits a decoded transaction to the mempool (and relays it, when the node has peers).
  virtual ledger::Admission SubmitTransaction(ledger::Transaction tx) = 0;
  // Many at once: one result per transaction, in order. Cheaper than one call per tx.
  virtual std::vector<ledger::Admission> SubmitTransactions(
      std::vector<ledger::Transaction> txs) = 0;

  virtual ledger::Head GetHead() const = 0;
  virtual Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const = 0;
  virtual Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const = 0;
  // The header of the block at `height`, nullopt above the head. The default reads the whole
  // block; a node with a header index overrides it, so getHeaders costs headers, not blocks.
  virtual Result<std::optional<ledger::BlockHeader>> GetHeader(uint64_t height) const {
    auto block = GetBlock(height);
    if (!block.ok()) return block.status();
    if (!block->has_value()) return std::optional<ledger::BlockHeader>();
    return std::optional<ledger::BlockHeader>(std::move((*block)->header));
  }
  virtual Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(
      uint64_t height) const = 0;
  virtual Result<TxLookup> GetTransaction(const crypto::Hash256& hash) const = 0;
  virtual std::optional<ledger::Account> GetAccount(const ledger::Address& a) const = 0;
  // The nonce the account's next new transaction should carry: committed nonce plus the
  // account's contiguous pending transactions.
  virtual uint64_t NextNonce(const ledger::Address& a) const = 0;
  virtual std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const = 0;
  virtual NodeStatus GetStatus() const = 0;
  virtual const genesis::Genesis& GetGenesis() const = 0;
  virtual std::vector<PeerInfo> GetPeers() const = 0;
  // The certificate stored with the block at `height` (BFT chains); nullopt when the chain
  // keeps none or there is no such block.
  virtual Result<std::optional<CertificateInfo>> GetCertificate(uint64_t height) const {
    (void)height;
    return std::optional<CertificateInfo>();
  }
  // The value of a state key (ledger/state.h) after block `height` (default: the head) with
  // its StateProof (PROTOCOL §7.1). kNotFound when the height's state tree is not held.
  virtual Result<ledger::StateProofAt> GetStateProof(ByteView state_key,
                                                     std::optional<uint64_t> height) const {
    (void)state_key;
    (void)height;
    return Status::NotFound("this node serves no state proofs");
  }
  // Every piece of evidence this node holds, oldest first.
  virtual std::vector<EvidenceInfo> GetEvidence() const { return {}; }
  // The lowest height above 0 whose block body, receipts and tx index this node keeps
  // (storage.retain_blocks; 1: nothing pruned): the `oldest` of a 1102 pruned error.
  virtual uint64_t BlocksFrom() const { return 1; }
};

}  // namespace cairn::api
