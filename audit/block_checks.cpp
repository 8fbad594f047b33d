// The per-block checks: genesis, then for every other block chain::BlockRules (header and
// proposer, proposer signature, the BFT certificate, the tx root, transaction signatures,
// then the replay on the state after the parent), exactly as a node checks a block before it
// commits it. The signatures and the certificate were verified ahead by the VerifyPool; their
// outcomes are reported here, in the rules' order.
#include <cassert>
#include <optional>
#include <utility>

#include "audit/auditor.h"
#include "ledger/executor.h"

namespace cairn::audit::internal {

using ledger::Block;

Auditor::Auditor(const genesis::Genesis& genesis, const AuditOptions& options, AuditReport& report,
                 const ledger::ChainStore* store, const ledger::KvStore* kv)
    : genesis_(genesis),
      options_(options),
      report_(report),
      store_(store),
      kv_(kv),
      rules_(genesis) {}

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
  view_ = ledger::ProcessStateTree().Update(ledger::StateTree::View(), genesis_.InitialState(), 0);
  if (store_ && !CheckStoredIndexes(*block, hash, {}, {})) return false;
  Accept(*block, hash);
  return true;
}

// The rules are chain::BlockRules, the ones a node applies before it commits a block; the audit
// adds what only a stored chain can get wrong (a block filed under another height) and maps the
// verdict to its own check names.
bool Auditor::CheckBlock(const Checked& c) {
  const uint64_t h = next_height_;
  if (c.block.header.height != h) {
    return Fail(
        AuditCheck::kHeader, h,
        "the block stored at this height says height " + std::to_string(c.block.header.height));
  }
  chain::CheckOptions opts;
  opts.proposer_signature_ok = c.proposer_sig_ok;
  // The pool verified every transaction: only its first failure is checked again.
  opts.signature_known_valid = [&c](const crypto::Hash256& tx) {
    return c.first_bad_tx < 0 || tx != c.first_bad_hash;
  };
  // The pool checked the certificate too when the block's set is the genesis set. The rules
  // check it after the header, the proposer and its signature and before everything else, so
  // its verdict goes exactly there. Otherwise the rules check it against set(H) from state.
  opts.check_certificate = !c.certificate_verdict.has_value();
  chain::Checked checked = rules_.Check(state_, parent_, view_, c.block, c.certificate, opts);
  const bool before_certificate = checked.verdict == chain::Verdict::kHeader ||
                                  checked.verdict == chain::Verdict::kProposer ||
                                  checked.verdict == chain::Verdict::kClockDrift ||
                                  checked.verdict == chain::Verdict::kProposerSignature;
  if (!before_certificate && c.certificate_verdict && !c.certificate_verdict->ok()) {
    return Fail(AuditCheck::kCertificate, h, DetailOf(*c.certificate_verdict));
  }
  if (!checked.ok()) return Fail(AuditCheckOf(checked.verdict), h, DetailOf(checked));
  if (rules_.certificates_required()) report_.certificates += 1;
  const crypto::Hash256& hash = c.hash;
  const ledger::ExecResult& exec = *checked.exec;
  if (store_ && !CheckStoredIndexes(c.block, hash, exec.tx_hashes, exec.receipts)) return false;
  if (store_ && !CheckStoredUndo(h, exec.undo)) return false;
  state_.Apply(exec.diff);
  view_ = exec.view;
  report_.transactions += c.block.txs.size();
  Accept(c.block, hash);
  return true;
}

AuditCheck Auditor::AuditCheckOf(chain::Verdict v) {
  switch (v) {
    case chain::Verdict::kHeader:
    case chain::Verdict::kClockDrift:  // not asked for: committed blocks are final whatever their
                                       // time
      return AuditCheck::kHeader;
    case chain::Verdict::kProposer:
      return AuditCheck::kProposer;
    case chain::Verdict::kProposerSignature:
      return AuditCheck::kProposerSignature;
    case chain::Verdict::kCertificate:
      return AuditCheck::kCertificate;
    case chain::Verdict::kTxRoot:
      return AuditCheck::kTxRoot;
    case chain::Verdict::kTxSignature:
      return AuditCheck::kTxSignature;
    case chain::Verdict::kAccepted:
    case chain::Verdict::kExecution:
      break;
  }
  return AuditCheck::kExecution;
}

std::string Auditor::DetailOf(const chain::Checked& checked) {
  if (checked.verdict == chain::Verdict::kExecution)
    return "replay refused the block: " + checked.detail;
  return checked.detail;
}

bool Auditor::CheckTreeAtEnd() {
  std::vector<ledger::TreeEntry> entries;
  entries.reserve(state_.entries().size());
  for (const auto& [key, value] : state_.entries()) {
    entries.push_back(ledger::TreeEntry{ledger::KeyHash(key), ledger::ValueHash(value)});
  }
  const crypto::Hash256 root = ledger::RootOf(std::move(entries));
  if (root != report_.state_root) {
    return Fail(AuditCheck::kStateTree, report_.head_height,
                "the replayed state's tree built from scratch has root " +
                    crypto::ShortHex(root, 16) + ", but the block's state_root is " +
                    crypto::ShortHex(report_.state_root, 16));
  }
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
