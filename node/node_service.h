// NodeService: the node as its JSON-RPC methods see it (api::NodeApi): reads of the store,
// admission through the TxPool, and the status of consensus, peers and evidence. It owns no
// state of its own. Thread-safety: called concurrently by RPC threads; every part it reads
// is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "api/node_api.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "node/engine_driver.h"
#include "node/evidence_pool.h"
#include "node/membership.h"
#include "node/network.h"
#include "node/tx_pool.h"

namespace cairn::node {

class NodeService final : public api::NodeApi {
 public:
  struct Parts {
    std::string node_name;
    const genesis::Genesis& genesis;
    const crypto::PublicKey node_id;
    const ledger::ChainStore& store;
    TxPool& pool;
    const EngineDriver& driver;
    const EvidencePool& evidence;
    // Member ids, keys and names as the applied state says; whether an engine runs here.
    const Membership& membership;
    const std::atomic<bool>& engine_open;
    // Called on the RPC thread after a call admitted at least one transaction; may be empty.
    std::function<void()> on_admitted;
  };
  explicit NodeService(Parts parts) : p_(std::move(parts)) {}
  // Where peers are read from; null (before the network starts, and after) reports none.
  void set_network(const Network* net) { net_.store(net); }

  ledger::Admission SubmitTransaction(ledger::Transaction tx) override;
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override;
  ledger::Head GetHead() const override { return p_.store.head(); }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override {
    return p_.store.BlockAt(height);
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    return p_.store.BlockByHash(h);
  }
  Result<std::optional<ledger::BlockHeader>> GetHeader(uint64_t height) const override {
    return p_.store.HeaderAt(height);
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t height) const override {
    return p_.store.ReceiptsAt(height);
  }
  Result<api::TxLookup> GetTransaction(const crypto::Hash256& hash) const override;
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    return p_.store.GetAccount(a);
  }
  uint64_t NextNonce(const ledger::Address& a) const override;
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    return p_.store.GetRecord(a, key);
  }
  api::NodeStatus GetStatus() const override;
  const genesis::Genesis& GetGenesis() const override { return p_.genesis; }
  std::vector<api::PeerInfo> GetPeers() const override;
  Result<std::optional<api::CertificateInfo>> GetCertificate(uint64_t height) const override;
  Result<ledger::StateProofAt> GetStateProof(ByteView state_key,
                                             std::optional<uint64_t> height) const override {
    return p_.store.ProveState(state_key, height);
  }
  std::vector<api::EvidenceInfo> GetEvidence() const override { return p_.evidence.List(); }
  uint64_t BlocksFrom() const override { return p_.store.BlocksFrom(); }

 private:
  Parts p_;
  std::atomic<const Network*> net_{nullptr};
};

}  // namespace cairn::node
