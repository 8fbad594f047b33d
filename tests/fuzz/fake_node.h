// FakeNode: an api::NodeApi over the fixture chain (block 0 and block 1 of fixtures.h) for
// the RPC harnesses. It never fails, so an internal error in a response means a method threw
// on its parameters. Immutable after construction; thread-compatible.
#pragma once
#include <optional>
#include <vector>

#include "api/node_api.h"
#include "tests/fuzz/fixtures.h"

namespace cairn::fuzz {

class FakeNode final : public api::NodeApi {
 public:
  FakeNode() : genesis_(BftGenesis()) {
    blocks_.push_back(genesis_.Block0());
    blocks_.push_back(Block1(genesis_));
    for (uint32_t i = 0; i < blocks_[1].txs.size(); ++i) {
      receipts_.push_back({ledger::TxCode::kOk, 1, i});
    }
    cert_ = MakeCertificate(blocks_[0].Hash(), 1, 0, blocks_[1].Hash(), 3);
  }

  ledger::Admission SubmitTransaction(ledger::Transaction tx) override {
    if (tx.chain_id != kChainId) return {ledger::TxCode::kWrongChain, "wrong chain", tx.Hash()};
    return {ledger::TxCode::kOk, "", tx.Hash()};
  }
  std::vector<ledger::Admission> SubmitTransactions(std::vector<ledger::Transaction> txs) override {
    std::vector<ledger::Admission> out;
    for (ledger::Transaction& tx : txs) out.push_back(SubmitTransaction(std::move(tx)));
    return out;
  }
  ledger::Head GetHead() const override {
    return {1, blocks_[1].Hash(), blocks_[1].header.state_root};
  }
  Result<std::optional<ledger::Block>> GetBlock(uint64_t height) const override {
    if (height < blocks_.size()) return std::optional<ledger::Block>(blocks_[height]);
    return std::optional<ledger::Block>();
  }
  Result<std::optional<ledger::Block>> GetBlockByHash(const crypto::Hash256& h) const override {
    for (const ledger::Block& b : blocks_) {
      if (b.Hash() == h) return std::optional<ledger::Block>(b);
    }
    return std::optional<ledger::Block>();
  }
  Result<std::optional<std::vector<ledger::Receipt>>> GetReceipts(uint64_t h) const override {
    if (h != 1) return std::optional<std::vector<ledger::Receipt>>();
    return std::optional<std::vector<ledger::Receipt>>(receipts_);
  }
  Result<api::TxLookup> GetTransaction(const crypto::Hash256& hash) const override {
    api::TxLookup out;
    for (size_t i = 0; i < blocks_[1].txs.size(); ++i) {
      if (blocks_[1].txs[i].Hash() != hash) continue;
      out.status = api::TxLookup::Status::kCommitted;
      out.tx = blocks_[1].txs[i];
      out.height = 1;
      out.index = static_cast<uint32_t>(i);
      out.block_hash = blocks_[1].Hash();
      out.receipt = receipts_[i];
    }
    return out;
  }
  std::optional<ledger::Account> GetAccount(const ledger::Address& a) const override {
    if (a != AdminKey().public_key()) return std::nullopt;
    return ledger::Account{1000, 4, ledger::Role::kAdmin};
  }
  uint64_t NextNonce(const ledger::Address&) const override { return 4; }
  std::optional<Bytes> GetRecord(const ledger::Address& a, ByteView key) const override {
    if (a != AdminKey().public_key() || Bytes(key.begin(), key.end()) != Bytes{0x6b, 0x65, 0x79}) {
      return std::nullopt;
    }
    return Bytes{0x76, 0x00};
  }
  api::NodeStatus GetStatus() const override {
    api::NodeStatus s;
    s.chain_id = kChainId;
    s.genesis_hash = blocks_[0].Hash();
    s.node_id = ValidatorKey(0).public_key();
    s.node_name = "v0";
    s.consensus = "bft";
    s.validator = true;
    s.head = GetHead();
    s.role = "leader";
    s.version = "fuzz";
    return s;
  }
  const genesis::Genesis& GetGenesis() const override { return genesis_; }
  std::vector<api::PeerInfo> GetPeers() const override {
    return {
        {ValidatorKey(1).public_key().ToHex(), "v1", "127.0.0.1:26657", "outbound", 1, 2, 3, 4, 5}};
  }
  Result<std::optional<api::CertificateInfo>> GetCertificate(uint64_t height) const override {
    if (height != 1) return std::optional<api::CertificateInfo>();
    api::CertificateInfo c;
    c.raw = cert_.Encode();
    c.height = cert_.height;
    c.round = cert_.round;
    c.block = cert_.block;
    for (const auto& s : cert_.sigs) {
      c.signers.push_back({s.validator, ValidatorKey(s.validator).public_key(), s.sig});
    }
    return std::optional<api::CertificateInfo>(std::move(c));
  }

 private:
  genesis::Genesis genesis_;
  std::vector<ledger::Block> blocks_;
  std::vector<ledger::Receipt> receipts_;
  consensus::bft::Certificate cert_;
};

}  // namespace cairn::fuzz
