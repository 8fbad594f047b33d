#include "ledger/executor.h"

#include <atomic>
#include <thread>

#include "crypto/merkle.h"
#include "ledger/governance.h"
#include "ledger/lease.h"

namespace cairn::ledger {
namespace {

TxCode ExecuteTransfer(StateOverlay& state, const Address& from, Account& sender,
                       const Transfer& t) {
  if (t.amount == 0) return TxCode::kZeroAmount;
  if (t.to == from) return TxCode::kSelfTransfer;
  auto to = state.GetAccount(t.to);
  if (!to) return TxCode::kUnknownRecipient;
  if (sender.balance < t.amount) return TxCode::kInsufficientBalance;
  if (to->balance > UINT64_MAX - t.amount) return TxCode::kBalanceOverflow;
  sender.balance -= t.amount;
  to->balance += t.amount;
  state.PutAccount(t.to, *to);
  return TxCode::kOk;
}

}  // namespace

TxCode CheckTxValidity(const StateReader& state, const std::string& chain_id,
                       const Transaction& tx) {
  if (tx.chain_id != chain_id) return TxCode::kWrongChain;
  auto sender = state.GetAccount(tx.sender);
  if (!sender) return TxCode::kUnknownSender;
  if (tx.nonce < sender->nonce) return TxCode::kNonceTooLow;
  if (tx.nonce > sender->nonce) return TxCode::kNonceTooHigh;
  return TxCode::kOk;
}

TxCode ExecuteTx(StateOverlay& state, const Transaction& tx, uint64_t height,
                 const crypto::Hash256& hash) {
  Account sender = *state.GetAccount(tx.sender);
  sender.nonce += 1;
  TxCode code = TxCode::kOk;
  if (std::holds_alternative<GovPropose>(tx.payload) ||
      std::holds_alternative<GovApprove>(tx.payload)) {
    // Governance writes only system records, never the sender's account.
    code = ExecuteGov(state, tx, hash, height);
  } else if (IsLease(tx.payload)) {
    // Open to every account: a lease record, never the sender's account, is what changes.
    code = ExecuteLease(state, tx, height);
  } else if (IsAdminOnly(tx.payload) && sender.role != Role::kAdmin) {
    code = TxCode::kNotPermitted;
  } else if (auto* t = std::get_if<Transfer>(&tx.payload)) {
    // The sender's own account is written last so a failed transfer changes only its nonce.
    code = ExecuteTransfer(state, tx.sender, sender, *t);
  } else if (auto* p = std::get_if<Put>(&tx.payload)) {
    state.PutRecord(tx.sender, p->key, p->value);
  } else if (auto* r = std::get_if<RegisterAccount>(&tx.payload)) {
    if (state.GetAccount(r->public_key)) {
      code = TxCode::kAccountExists;
    } else {
      state.PutAccount(r->public_key, Account{.balance = 0, .nonce = 0, .role = r->role});
    }
  } else if (auto* s = std::get_if<SetRole>(&tx.payload)) {
    if (s->account == tx.sender) {
      sender.role = s->role;
    } else if (auto acct = state.GetAccount(s->account)) {
      acct->role = s->role;
      state.PutAccount(s->account, *acct);
    } else {
      code = TxCode::kUnknownAccount;
    }
  }
  state.PutAccount(tx.sender, sender);
  return code;
}

long FirstBadSignature(std::span<const Transaction> txs, std::span<const crypto::Hash256> hashes,
                       const ExecOptions& opts) {
  auto check = [&](size_t i) {
    if (opts.signature_known_valid && opts.signature_known_valid(hashes[i])) return true;
    return txs[i].VerifySignature();
  };
  unsigned threads = std::max(1u, std::min<unsigned>(opts.verify_threads, txs.size() / 64 + 1));
  if (threads == 1) {
    for (size_t i = 0; i < txs.size(); ++i) {
      if (!check(i)) return static_cast<long>(i);
    }
    return -1;
  }
  // Strided work split; the smallest bad index wins so the error is deterministic.
  std::atomic<long> first_bad{-1};
  auto worker = [&](unsigned t) {
    for (size_t i = t; i < txs.size(); i += threads) {
      if (check(i)) continue;
      long cur = first_bad.load();
      while ((cur < 0 || static_cast<long>(i) < cur) &&
             !first_bad.compare_exchange_weak(cur, static_cast<long>(i))) {
      }
      return;
    }
  };
  std::vector<std::jthread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  pool.clear();
  return first_bad.load();
}

void VerifyEach(std::span<const Transaction> txs, std::span<const size_t> which, unsigned threads,
                std::vector<uint8_t>& ok) {
  threads = std::max(1u, std::min<unsigned>(threads, which.size() / 16 + 1));
  auto worker = [&](unsigned t) {
    for (size_t k = t; k < which.size(); k += threads) {
      ok[which[k]] = txs[which[k]].VerifySignature() ? 1 : 0;
    }
  };
  std::vector<std::jthread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
}

std::vector<uint8_t> VerifyEach(std::span<const Transaction> txs, unsigned threads) {
  std::vector<uint8_t> ok(txs.size(), 0);
  std::vector<size_t> all(txs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  VerifyEach(txs, all, threads, ok);
  return ok;
}

std::pair<crypto::Hash256, crypto::Hash256> SetHashesFor(const StateReader& parent_state,
                                                         const StateReader& after,
                                                         const BlockHeader& parent,
                                                         uint64_t height) {
  auto now = ValidatorSetAt(parent_state, height);
  auto next = ValidatorSetAt(after, height + 1);
  if (!now || !next) return {parent.validators_hash, parent.next_validators_hash};
  return {SetHash(*now), SetHash(*next)};
}

crypto::Hash256 StateRootOf(const StateDiff& entries) {
  std::vector<TreeEntry> present;
  present.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    if (value) present.push_back(TreeEntry{KeyHash(key), ValueHash(*value)});
  }
  return RootOf(std::move(present));
}

Result<ExecResult> ExecuteBlock(const StateReader& state, const StateTree::View& parent_view,
                                const Block& block, const ExecOptions& opts) {
  ExecResult out;
  const uint64_t height = block.header.height;
  out.tx_hashes.reserve(block.txs.size());
  for (const Transaction& tx : block.txs) out.tx_hashes.push_back(tx.Hash());
  if (long bad = FirstBadSignature(block.txs, out.tx_hashes, opts); bad >= 0) {
    return Status::Error("block " + std::to_string(height) + ": tx " + std::to_string(bad) + " (" +
                         crypto::ShortHex(out.tx_hashes[bad], 16) + "): bad_signature");
  }
  StateOverlay overlay(state);
  overlay.CaptureBaseReads();
  BeginBlock(overlay, height);
  out.receipts.reserve(block.txs.size());
  for (size_t i = 0; i < block.txs.size(); ++i) {
    const Transaction& tx = block.txs[i];
    TxCode valid = CheckTxValidity(overlay, block.header.chain_id, tx);
    if (valid != TxCode::kOk) {
      return Status::Error("block " + std::to_string(height) + ": tx " + std::to_string(i) + " (" +
                           crypto::ShortHex(out.tx_hashes[i], 16) +
                           "): " + std::string(TxCodeName(valid)));
    }
    TxCode code = ExecuteTx(overlay, tx, height, out.tx_hashes[i]);
    out.receipts.push_back(Receipt{code, height, static_cast<uint32_t>(i)});
  }
  auto [vh, nvh] = SetHashesFor(state, overlay, block.header, height);
  out.validators_hash = vh;
  out.next_validators_hash = nvh;
  out.diff = overlay.Diff();
  out.undo = overlay.Undo();
  out.view = ProcessStateTree().Update(parent_view, out.diff, height);
  out.state_root = StateTree::Root(out.view);
  return out;
}

Result<ExecResult> VerifyBlock(const StateReader& state, const BlockHeader& parent,
                               const StateTree::View& parent_view, const Block& block,
                               const ExecOptions& opts) {
  const BlockHeader& h = block.header;
  const std::string at = "block " + std::to_string(h.height) + ": ";
  if (h.chain_id != parent.chain_id) {
    return Status::Error(at + "chain id \"" + h.chain_id + "\" is not \"" + parent.chain_id + "\"");
  }
  if (h.height != parent.height + 1) {
    return Status::Error(at + "height does not follow parent height " +
                         std::to_string(parent.height));
  }
  if (h.prev_hash != parent.Hash()) {
    return Status::Error(at + "prev_hash " + crypto::ShortHex(h.prev_hash, 16) +
                         " is not the parent's hash " + crypto::ShortHex(parent.Hash(), 16));
  }
  if (h.timestamp_ms < parent.timestamp_ms) {
    return Status::Error(at + "timestamp " + std::to_string(h.timestamp_ms) +
                         " is before the parent's " + std::to_string(parent.timestamp_ms));
  }
  if (h.tx_count != block.txs.size()) {
    return Status::Error(at + "tx_count " + std::to_string(h.tx_count) + " but the block holds " +
                         std::to_string(block.txs.size()) + " transactions");
  }
  if (block.ComputeTxRoot() != h.tx_root) {
    return Status::Error(at + "tx_root does not match the transactions");
  }
  if (!block.VerifyProposerSignature()) return Status::Error(at + "bad proposer signature");
  auto exec = ExecuteBlock(state, parent_view, block, opts);
  if (!exec.ok()) return exec;
  // ExecuteBlock falls back to the header's own hashes for a state without a member set;
  // the parent's are what such a chain must carry.
  if (!ReadMembers(state)) {
    exec->validators_hash = parent.validators_hash;
    exec->next_validators_hash = parent.next_validators_hash;
  }
  if (h.validators_hash != exec->validators_hash) {
    return Status::Error(at + "validators_hash " + crypto::ShortHex(h.validators_hash, 16) +
                         " is not SetHash(set(" + std::to_string(h.height) + ")) " +
                         crypto::ShortHex(exec->validators_hash, 16));
  }
  if (h.next_validators_hash != exec->next_validators_hash) {
    return Status::Error(at + "next_validators_hash " +
                         crypto::ShortHex(h.next_validators_hash, 16) + " is not SetHash(set(" +
                         std::to_string(h.height + 1) + ")) " +
                         crypto::ShortHex(exec->next_validators_hash, 16));
  }
  if (exec->state_root != h.state_root) {
    return Status::Error(at + "state_root " + crypto::ShortHex(h.state_root, 16) +
                         " differs from executed " + crypto::ShortHex(exec->state_root, 16));
  }
  return exec;
}

BuiltBlock BuildBlock(const StateReader& state, const BlockHeader& parent,
                      const StateTree::View& parent_view, std::vector<Transaction> candidates,
                      uint64_t timestamp_ms, const crypto::KeyPair& proposer, Bytes consensus_data,
                      const ExecOptions& opts) {
  BuiltBlock out;
  Block& block = out.block;
  block.header.chain_id = parent.chain_id;
  block.header.height = parent.height + 1;
  block.header.prev_hash = parent.Hash();
  block.header.timestamp_ms = std::max(timestamp_ms, parent.timestamp_ms);
  block.header.consensus_data = std::move(consensus_data);

  std::vector<crypto::Hash256> hashes;
  hashes.reserve(candidates.size());
  for (const Transaction& tx : candidates) hashes.push_back(tx.Hash());
  StateOverlay overlay(state);
  overlay.CaptureBaseReads();
  BeginBlock(overlay, block.header.height);
  for (size_t i = 0; i < candidates.size(); ++i) {
    Transaction& tx = candidates[i];
    bool sig_ok = (opts.signature_known_valid && opts.signature_known_valid(hashes[i])) ||
                  tx.VerifySignature();
    if (!sig_ok || CheckTxValidity(overlay, parent.chain_id, tx) != TxCode::kOk) {
      out.skipped.push_back(hashes[i]);
      continue;
    }
    TxCode code = ExecuteTx(overlay, tx, block.header.height, hashes[i]);
    out.exec.receipts.push_back(
        Receipt{code, block.header.height, static_cast<uint32_t>(block.txs.size())});
    out.exec.tx_hashes.push_back(hashes[i]);
    block.txs.push_back(std::move(tx));
  }
  std::tie(block.header.validators_hash, block.header.next_validators_hash) =
      SetHashesFor(state, overlay, parent, block.header.height);
  out.exec.validators_hash = block.header.validators_hash;
  out.exec.next_validators_hash = block.header.next_validators_hash;
  out.exec.diff = overlay.Diff();
  out.exec.undo = overlay.Undo();
  out.exec.view = ProcessStateTree().Update(parent_view, out.exec.diff, block.header.height);
  out.exec.state_root = StateTree::Root(out.exec.view);
  block.header.tx_count = static_cast<uint32_t>(block.txs.size());
  block.header.tx_root = crypto::MerkleRoot(out.exec.tx_hashes);
  block.header.state_root = out.exec.state_root;
  block.Sign(proposer);
  return out;
}

}  // namespace cairn::ledger
