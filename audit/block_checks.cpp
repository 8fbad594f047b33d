// The per-block checks, in the order AuditCheck lists them: genesis, header and proposer,
// the BFT certificate, the tx root, transaction signatures (from the signature pass), then the
// replay with ledger::VerifyBlock on the state after the parent, exactly as a node executes it.
#include <optional>
#include <utility>

#include "audit/auditor.h"
#include "consensus/bft/messages.h"
#include "crypto/merkle.h"
#include "ledger/executor.h"

namespace cairn::audit::internal {

using ledger::Block;

Auditor::Auditor(const genesis::Genesis& genesis, const AuditOptions& options, AuditReport& report,
                 const ledger::ChainStore* store, const ledger::KvStore* kv)
    : genesis_(genesis), options_(options), report_(report), store_(store), kv_(kv) {
  if (genesis_.consensus == genesis::ConsensusKind::kBft) {
    std::vector<crypto::PublicKey> keys;
    for (const genesis::Node& v : genesis_.validators) keys.push_back(v.public_key);
    verifier_ = std::make_unique<consensus::Ed25519Verifier>(std::move(keys));
  }
}

bool Auditor::CheckPage(std::vector<Bytes> blocks, std::vector<Bytes> certificates) {
  std::vector<Checked> page;
  std::optional<AuditFailure> decode_failure;
  size_t i = 0;
  if (next_height_ == 0 && !blocks.empty()) {
    if (!CheckGenesis(blocks[0])) return false;
    i = 1;
  }
  for (; i < blocks.size(); ++i) {
    auto block = Block::Decode(blocks[i]);
    if (!block.ok()) {
      // Blocks before it are checked first: one of them may fail at a lower height.
      decode_failure = AuditFailure{AuditCheck::kDecode, next_height_ + page.size(),
                                    "block does not decode: " + block.error()};
      break;
    }
    Bytes cert = i < certificates.size() ? std::move(certificates[i]) : Bytes();
    page.push_back(Checked{std::move(block.value()), std::move(cert), {}, -1, false});
  }
  VerifySignatures(page, options_.verify_threads);
  for (Checked& c : page) {
    if (!CheckBlock(c)) return false;
  }
  if (decode_failure) return Fail(std::move(*decode_failure));
  return true;
}

bool Auditor::Fail(AuditFailure f) {
  report_.failure = std::move(f);
  return false;
}

bool Auditor::Fail(AuditCheck check, std::optional<uint64_t> height, std::string detail) {
  return Fail(AuditFailure{check, height, std::move(detail)});
}

bool Auditor::CheckGenesis(const Bytes& bytes) {
  const Block expected = genesis_.Block0();
  auto block = Block::Decode(bytes);
  if (!block.ok()) {
    return Fail(AuditCheck::kDecode, 0, "block 0 does not decode: " + block.error());
  }
  const crypto::Hash256 hash = block->Hash();
  if (hash != expected.Hash()) {
    return Fail(AuditCheck::kGenesis, 0,
                "block 0 hashes to " + hash.ToHex() + " (chain \"" + block->header.chain_id +
                    "\"), but the genesis file gives " + expected.Hash().ToHex() + " (chain \"" +
                    expected.header.chain_id + "\")");
  }
  if (*block != expected) {
    return Fail(AuditCheck::kGenesis, 0,
                "block 0 has the genesis header but a proposer signature or transactions the "
                "genesis block does not have");
  }
  state_.Apply(genesis_.InitialState());
  if (store_ && !CheckStoredIndexes(*block, hash, {}, {})) return false;
  Accept(*block, hash);
  return true;
}

bool Auditor::CheckHeader(const Checked& c) {
  const uint64_t h = next_height_;
  const ledger::BlockHeader& hd = c.block.header;
  if (hd.height != h) {
    return Fail(AuditCheck::kHeader, h,
                "the block stored at this height says height " + std::to_string(hd.height));
  }
  if (hd.chain_id != genesis_.chain_id) {
    return Fail(AuditCheck::kHeader, h,
                "chain id \"" + hd.chain_id + "\" is not \"" + genesis_.chain_id + "\"");
  }
  if (hd.prev_hash != report_.head_hash) {
    return Fail(AuditCheck::kHeader, h,
                "prev_hash " + Short(hd.prev_hash) + " is not the hash of block " +
                    std::to_string(h - 1) + " (" + Short(report_.head_hash) + ")");
  }
  if (hd.timestamp_ms < parent_.timestamp_ms) {
    return Fail(AuditCheck::kHeader, h,
                "timestamp " + genesis::FormatRfc3339Ms(hd.timestamp_ms) +
                    " is before its parent's " + genesis::FormatRfc3339Ms(parent_.timestamp_ms));
  }
  if (genesis_.ValidatorIndex(hd.proposer) < 0) {
    return Fail(AuditCheck::kProposer, h,
                "proposer " + hd.proposer.ToHex() + " is not a genesis validator");
  }
  if (!c.proposer_sig_ok) {
    return Fail(AuditCheck::kProposerSignature, h,
                "the proposer signature of block " + Short(c.block.Hash()) + " by " +
                    Short(hd.proposer) + " does not verify");
  }
  return true;
}

bool Auditor::CheckBlock(const Checked& c) {
  const uint64_t h = next_height_;
  const ledger::BlockHeader& hd = c.block.header;
  if (!CheckHeader(c)) return false;
  if (verifier_ && !CheckCertificate(c)) return false;
  if (crypto::MerkleRoot(c.tx_hashes) != hd.tx_root) {
    return Fail(AuditCheck::kTxRoot, h,
                "tx_root " + Short(hd.tx_root) + " is not the Merkle root of the block's " +
                    std::to_string(c.block.txs.size()) + " transactions (" +
                    Short(crypto::MerkleRoot(c.tx_hashes)) + ")");
  }
  if (c.first_bad_tx >= 0) {
    const size_t i = static_cast<size_t>(c.first_bad_tx);
    return Fail(AuditCheck::kTxSignature, h,
                "tx " + std::to_string(i) + " (" + Short(c.tx_hashes[i]) + "): signature by " +
                    Short(c.block.txs[i].sender) + " does not verify");
  }
  // Every signature of this block was verified above, so the replay need not redo it.
  ledger::ExecOptions exec_opts;
  exec_opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
  auto exec = ledger::VerifyBlock(state_, parent_, c.block, exec_opts);
  if (!exec.ok()) {
    std::string why = exec.error();
    const std::string prefix = "block " + std::to_string(h) + ": ";
    if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
    return Fail(AuditCheck::kExecution, h, "replay refused the block: " + why);
  }
  const crypto::Hash256 hash = c.block.Hash();
  if (store_ && !CheckStoredIndexes(c.block, hash, exec->tx_hashes, exec->receipts)) {
    return false;
  }
  state_.Apply(exec->diff);
  report_.transactions += c.block.txs.size();
  Accept(c.block, hash);
  return true;
}

bool Auditor::CheckCertificate(const Checked& c) {
  const uint64_t h = next_height_;
  if (c.certificate.empty()) {
    return Fail(AuditCheck::kCertificate, h, "no commit certificate is stored with the block");
  }
  auto cert = consensus::bft::Certificate::Decode(c.certificate);
  if (!cert.ok()) {
    return Fail(AuditCheck::kCertificate, h, "certificate does not decode: " + cert.error());
  }
  Status s = consensus::bft::VerifyCertificate(*cert, report_.genesis_hash, h, c.block.Hash(),
                                               static_cast<uint32_t>(genesis_.validators.size()),
                                               *verifier_);
  if (!s.ok()) return Fail(AuditCheck::kCertificate, h, s.message());
  report_.certificates += 1;
  return true;
}

void Auditor::Accept(const Block& b, const crypto::Hash256& hash) {
  parent_ = b.header;
  report_.blocks += 1;
  report_.head_height = b.header.height;
  report_.head_hash = hash;
  report_.state_root = b.header.state_root;
  report_.state_entries = state_.entries().size();
  next_height_ = b.header.height + 1;
}

}  // namespace cairn::audit::internal
