// api::NodeApi over a real ChainStore, for method tests that need real state and proofs
// (getLease, getValidators, the governance reads): reads go to the store, writes are refused.
// Thread-compatible, like the store's readers.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "api/node_api.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"

namespace cairn::testing {

class StoreNode final : public api::NodeApi {
 public:
  StoreNode(const ledger::ChainStore& store, genesis::Genesis genesis)
      : store_(store), genesis_(std::move(genesis)) {}

  ledger::Admission SubmitTransaction(ledger::Transaction) override {
    return ledger::Admission{ledger::TxCode::kMempoolFull, "read-only test node", {}};
  }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override {
    return std::vector<ledger::Admission>(txs.size(), SubmitTransaction({}));
  }
  ledger::Head GetHead() const override { return store_.head(); }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override {
    return store_.BlockAt(height);
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    return store_.BlockByHash(h);
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    return store_.ReceiptsAt(h);
  }
  Result<api::TxLookup> GetTransaction(const crypto::Hash256&) const override {
    return api::TxLookup{};
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    return store_.GetAccount(a);
  }
  uint64_t NextNonce(const ledger::Address&) const override { return 0; }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    return store_.GetRecord(a, key);
  }
  api::NodeStatus GetStatus() const override { return api::NodeStatus{}; }
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<api::PeerInfo> GetPeers() const override { return {}; }
  Result<ledger::StateProofAt> GetStateProof(ByteView key,
                                             std::optional<uint64_t> height) const override {
    return store_.ProveState(key, height);
  }
  Result<std::optional<ledger::BlockHeader>> GetHeader(uint64_t height) const override {
    return store_.HeaderAt(height);
  }

 private:
  const ledger::ChainStore& store_;
  genesis::Genesis genesis_;
};

}  // namespace cairn::testing
