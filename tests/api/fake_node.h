// FakeNode: an api::NodeApi over a fixed chain that the test describes (FakeChain), for the
// tests and fuzz harnesses of the node's RPC methods. It fails only where the chain says so,
// so a harness that leaves the failures unset can treat any internal error as a bug.
// Immutable after construction; thread-compatible. Header-only, so a fuzz harness links only
// the libraries it fuzzes.
#pragma once
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "api/node_api.h"

namespace cairn::api::testing {

// What the fake node holds. blocks[h] is the block at height h; the last one is the head.
struct FakeChain {
  genesis::Genesis genesis;
  std::vector<ledger::Block> blocks;
  std::vector<ledger::Receipt> head_receipts;        // one per transaction of the head block
  std::optional<ledger::Transaction> pending;        // in the mempool
  std::optional<CertificateInfo> certificate;        // of the block at certificate->height
  std::map<uint64_t, CertificateInfo> certificates;  // more, by height (a light client's chain)
  std::vector<EvidenceInfo> evidence;
  std::vector<PeerInfo> peers;
  NodeStatus status;  // as reported, but for `head`, which is the chain's
  // The one account the node knows, with its one record; NextNonce is next_nonce for anyone.
  ledger::Address account_address;
  ledger::Account account;
  uint64_t next_nonce = 0;
  Bytes record_key, record_value;
  // Reads of this height, or of a block or transaction by this hash, fail with a storage
  // error (the -32603 paths).
  std::optional<uint64_t> failing_height;
  std::optional<crypto::Hash256> failing_hash;
  // The state after each height this node retains, by state key (what GetStateProof reads;
  // its proof is left empty). Empty: the node serves no state, as before state proofs.
  std::map<uint64_t, std::map<Bytes, Bytes>> states;
};

class FakeNode final : public NodeApi {
 public:
  // A transaction for another chain is refused as kWrongChain, nonce 99 as kNonceTooHigh,
  // and everything else is admitted (and forgotten).
  static constexpr uint64_t kRefusedNonce = 99;

  // REQUIRES: chain.blocks holds at least block 0.
  explicit FakeNode(FakeChain chain) : chain_(std::move(chain)) {}

  const FakeChain& chain() const { return chain_; }
  const ledger::Block& head() const { return chain_.blocks.back(); }

  ledger::Admission SubmitTransaction(ledger::Transaction tx) override {
    if (tx.chain_id != chain_.genesis.chain_id) {
      return {ledger::TxCode::kWrongChain, "wrong chain", tx.Hash()};
    }
    if (tx.nonce == kRefusedNonce) {
      return {ledger::TxCode::kNonceTooHigh,
              "expected nonce " + std::to_string(chain_.account.nonce), tx.Hash()};
    }
    return {ledger::TxCode::kOk, "", tx.Hash()};
  }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override {
    std::vector<ledger::Admission> out;
    for (ledger::Transaction& tx : txs) out.push_back(SubmitTransaction(std::move(tx)));
    return out;
  }
  ledger::Head GetHead() const override {
    return {head().header.height, head().Hash(), head().header.state_root};
  }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override {
    if (height == chain_.failing_height) {
      return Status::Error("store read failed at height " + std::to_string(height));
    }
    if (height < chain_.blocks.size()) return std::optional<ledger::Block>(chain_.blocks[height]);
    return std::optional<ledger::Block>();
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    if (h == chain_.failing_hash) return Status::Error("store read failed by hash");
    for (const ledger::Block& b : chain_.blocks) {
      if (b.Hash() == h) return std::optional<ledger::Block>(b);
    }
    return std::optional<ledger::Block>();
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    if (h != head().header.height) return std::optional<std::vector<ledger::Receipt>>();
    return std::optional<std::vector<ledger::Receipt>>(chain_.head_receipts);
  }
  Result<TxLookup> GetTransaction(const crypto::Hash256& hash) const override {
    if (hash == chain_.failing_hash) return Status::Error("store read failed by tx hash");
    TxLookup out;
    for (size_t i = 0; i < head().txs.size(); ++i) {
      if (head().txs[i].Hash() != hash) continue;
      out.status = TxLookup::Status::kCommitted;
      out.tx = head().txs[i];
      out.height = head().header.height;
      out.index = static_cast<uint32_t>(i);
      out.block_hash = head().Hash();
      out.receipt = chain_.head_receipts.at(i);
      return out;
    }
    if (chain_.pending && hash == chain_.pending->Hash()) {
      out.status = TxLookup::Status::kPending;
      out.tx = *chain_.pending;
    }
    return out;
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    if (a != chain_.account_address) return std::nullopt;
    return chain_.account;
  }
  uint64_t NextNonce(const ledger::Address&) const override { return chain_.next_nonce; }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    if (a != chain_.account_address || Bytes(key.begin(), key.end()) != chain_.record_key) {
      return std::nullopt;
    }
    return chain_.record_value;
  }
  NodeStatus GetStatus() const override {
    NodeStatus s = chain_.status;
    s.head = GetHead();
    return s;
  }
  const genesis::Genesis& GetGenesis() const override { return chain_.genesis; }
  std::vector<PeerInfo> GetPeers() const override { return chain_.peers; }
  Result<std::optional<CertificateInfo>> GetCertificate(uint64_t height) const override {
    if (auto it = chain_.certificates.find(height); it != chain_.certificates.end()) {
      return std::optional<CertificateInfo>(it->second);
    }
    if (!chain_.certificate || chain_.certificate->height != height) {
      return std::optional<CertificateInfo>();
    }
    return chain_.certificate;
  }
  std::vector<EvidenceInfo> GetEvidence() const override { return chain_.evidence; }
  Result<ledger::StateProofAt> GetStateProof(ByteView state_key,
                                             std::optional<uint64_t> height) const override {
    if (chain_.states.empty()) return Status::NotFound("this node serves no state proofs");
    const uint64_t at = height.value_or(head().header.height);
    auto state = chain_.states.find(at);
    if (state == chain_.states.end()) {
      return Status::NotFound("height " + std::to_string(at) +
                              " is outside the state history this node keeps");
    }
    ledger::StateProofAt out;
    out.height = at;
    if (auto v = state->second.find(Bytes(state_key.begin(), state_key.end()));
        v != state->second.end()) {
      out.value = v->second;
    }
    return out;
  }

 private:
  FakeChain chain_;
};

}  // namespace cairn::api::testing
