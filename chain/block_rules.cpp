// The checks run cheapest first within what a reader expects of a report: the header against
// its parent, who proposed it, the proposer's signature, the certificate (a quorum of
// signatures), the transaction root, every transaction signature, then execution.
#include "chain/block_rules.h"

#include <algorithm>

#include "consensus/bft/messages.h"
#include "crypto/merkle.h"
#include "ledger/governance.h"

namespace cairn::chain {
namespace {

Checked Refuse(Verdict v, std::string detail) {
  return Checked{v, std::move(detail), std::nullopt};
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kHeader:
      return "header";
    case Verdict::kProposer:
      return "proposer";
    case Verdict::kClockDrift:
      return "clock_drift";
    case Verdict::kProposerSignature:
      return "proposer_signature";
    case Verdict::kCertificate:
      return "certificate";
    case Verdict::kTxRoot:
      return "tx_root";
    case Verdict::kTxSignature:
      return "tx_signature";
    case Verdict::kExecution:
      return "execution";
  }
  return "unknown";
}

Status Checked::ToStatus(uint64_t height) const {
  if (ok()) return Status::Ok();
  return Status::Error("block " + std::to_string(height) + ": " +
                       std::string(VerdictName(verdict)) + ": " + detail);
}

BlockRules::BlockRules(const genesis::Genesis& genesis)
    : genesis_(genesis),
      genesis_hash_(genesis.Block0().Hash()),
      genesis_set_(genesis.Members().Validators()),
      genesis_set_hash_(ledger::SetHash(genesis_set_)) {}

std::vector<ledger::Member> BlockRules::ValidatorsAt(const ledger::StateReader& state,
                                                     uint64_t height) const {
  // A state without set/members is a bare test state or a chain store opened before genesis
  // was committed: the genesis set governs it.
  if (auto set = ledger::ValidatorSetAt(state, height)) return std::move(*set);
  return genesis_set_;
}

Checked BlockRules::Check(const ledger::StateReader& state, const ledger::BlockHeader& parent,
                          const ledger::StateTree::View& parent_view, const ledger::Block& block,
                          ByteView certificate, const CheckOptions& options) const {
  const std::vector<ledger::Member> set = ValidatorsAt(state, block.header.height);
  if (Checked c = CheckHeader(parent, block, options, set); !c.ok()) return c;
  const bool proposer_ok = options.proposer_signature_ok ? *options.proposer_signature_ok
                                                         : block.VerifyProposerSignature();
  if (!proposer_ok) {
    return Refuse(Verdict::kProposerSignature,
                  "the proposer signature of block " + crypto::ShortHex(block.Hash(), 16) + " by " +
                      crypto::ShortHex(block.header.proposer, 16) + " does not verify");
  }
  if (certificates_required() && options.check_certificate) {
    if (Checked c = CheckCertificate(block, certificate, set); !c.ok()) return c;
  }
  return CheckTransactions(state, parent_view, block, options);
}

Checked BlockRules::CheckHeader(const ledger::BlockHeader& parent, const ledger::Block& block,
                                const CheckOptions& options,
                                std::span<const ledger::Member> set) const {
  const ledger::BlockHeader& hd = block.header;
  if (hd.height != parent.height + 1) {
    return Refuse(Verdict::kHeader, "height " + std::to_string(hd.height) +
                                        " does not follow its parent's " +
                                        std::to_string(parent.height));
  }
  if (hd.chain_id != genesis_.chain_id) {
    return Refuse(Verdict::kHeader,
                  "chain id \"" + hd.chain_id + "\" is not \"" + genesis_.chain_id + "\"");
  }
  // next_validators_hash depends on this block's transactions: CheckTransactions checks it.
  if (const crypto::Hash256 want = ledger::SetHash(set); hd.validators_hash != want) {
    return Refuse(Verdict::kHeader, "validators_hash " + crypto::ShortHex(hd.validators_hash, 16) +
                                        " is not SetHash(set(" + std::to_string(hd.height) + ")) " +
                                        crypto::ShortHex(want, 16));
  }
  const crypto::Hash256 parent_hash = parent.Hash();
  if (hd.prev_hash != parent_hash) {
    return Refuse(Verdict::kHeader, "prev_hash " + crypto::ShortHex(hd.prev_hash, 16) +
                                        " is not the hash of block " +
                                        std::to_string(parent.height) + " (" +
                                        crypto::ShortHex(parent_hash, 16) + ")");
  }
  if (hd.timestamp_ms < parent.timestamp_ms) {
    return Refuse(Verdict::kHeader, "timestamp " + genesis::FormatRfc3339Ms(hd.timestamp_ms) +
                                        " is before its parent's " +
                                        genesis::FormatRfc3339Ms(parent.timestamp_ms));
  }
  const bool in_set = std::any_of(set.begin(), set.end(), [&](const ledger::Member& m) {
    return m.consensus_key == hd.proposer;
  });
  if (!in_set) {
    return Refuse(Verdict::kProposer, "proposer " + hd.proposer.ToHex() +
                                          " is not a validator of height " +
                                          std::to_string(hd.height));
  }
  if (options.now_unix_ms && hd.timestamp_ms > *options.now_unix_ms + kMaxClockDriftMs) {
    return Refuse(Verdict::kClockDrift, "timestamp " + genesis::FormatRfc3339Ms(hd.timestamp_ms) +
                                            " is more than " +
                                            std::to_string(kMaxClockDriftMs / 1000) +
                                            " s ahead of this validator's clock");
  }
  return Checked{};
}

Checked BlockRules::CheckCertificate(const ledger::Block& block, ByteView certificate,
                                     std::span<const ledger::Member> set) const {
  if (!certificates_required()) return Checked{};
  const uint64_t height = block.header.height;
  if (certificate.empty()) {
    return Refuse(Verdict::kCertificate, "the block has no commit certificate");
  }
  auto cert = consensus::bft::Certificate::Decode(certificate);
  if (!cert.ok()) {
    return Refuse(Verdict::kCertificate, "certificate does not decode: " + cert.error());
  }
  std::vector<consensus::ValidatorInfo> signers;
  signers.reserve(set.size());
  for (const ledger::Member& m : set) signers.push_back({m.id, m.consensus_key});
  Status s = consensus::bft::VerifyCertificate(*cert, genesis_hash_, height, block.Hash(), signers);
  if (!s.ok()) return Refuse(Verdict::kCertificate, s.message());
  return Checked{};
}

Checked BlockRules::CheckTransactions(const ledger::StateReader& state,
                                      const ledger::StateTree::View& parent_view,
                                      const ledger::Block& block,
                                      const CheckOptions& options) const {
  const ledger::BlockHeader& hd = block.header;
  std::vector<crypto::Hash256> hashes;
  hashes.reserve(block.txs.size());
  for (const ledger::Transaction& tx : block.txs) hashes.push_back(tx.Hash());
  const crypto::Hash256 root = crypto::MerkleRoot(hashes);
  if (root != hd.tx_root) {
    return Refuse(Verdict::kTxRoot, "tx_root " + crypto::ShortHex(hd.tx_root, 16) +
                                        " is not the Merkle root of the block's " +
                                        std::to_string(block.txs.size()) + " transactions (" +
                                        crypto::ShortHex(root, 16) + ")");
  }
  ledger::ExecOptions exec_opts;
  exec_opts.signature_known_valid = options.signature_known_valid;
  exec_opts.verify_threads = options.verify_threads;
  const auto verify_start = std::chrono::steady_clock::now();
  if (long bad = ledger::FirstBadSignature(block.txs, hashes, exec_opts); bad >= 0) {
    const size_t i = static_cast<size_t>(bad);
    return Refuse(Verdict::kTxSignature, "tx " + std::to_string(i) + " (" +
                                             crypto::ShortHex(hashes[i], 16) + "): signature by " +
                                             crypto::ShortHex(block.txs[i].sender, 16) +
                                             " does not verify");
  }
  // Every signature was verified above: execution need not redo it.
  exec_opts.signature_known_valid = [](const crypto::Hash256&) { return true; };
  const auto execute_start = std::chrono::steady_clock::now();
  auto exec = ledger::ExecuteBlock(state, parent_view, block, exec_opts);
  const auto execute_end = std::chrono::steady_clock::now();
  if (!exec.ok()) {
    std::string why = exec.error();
    const std::string prefix = "block " + std::to_string(hd.height) + ": ";
    if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
    return Refuse(Verdict::kExecution, why);
  }
  if (exec->next_validators_hash != hd.next_validators_hash) {
    return Refuse(Verdict::kHeader,
                  "next_validators_hash " + crypto::ShortHex(hd.next_validators_hash, 16) +
                      " is not SetHash(set(" + std::to_string(hd.height + 1) +
                      ")) after execution " + crypto::ShortHex(exec->next_validators_hash, 16));
  }
  if (exec->state_root != hd.state_root) {
    return Refuse(Verdict::kExecution, "state_root " + crypto::ShortHex(hd.state_root, 16) +
                                           " differs from executed " +
                                           crypto::ShortHex(exec->state_root, 16));
  }
  Checked out;
  out.exec = std::move(exec.value());
  out.verify_time = execute_start - verify_start;
  out.execute_time = execute_end - execute_start;
  return out;
}

}  // namespace cairn::chain
