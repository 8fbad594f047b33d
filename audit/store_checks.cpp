// A data-dir audit also compares what the node stored with the replay: beside each block its
// receipts, tx index and block-hash index, and at the end the head record, nothing stored above
// it, and every state entry.
#include <algorithm>
#include <optional>
#include <string>

#include "audit/auditor.h"
#include "audit/source.h"
#include "base/codec.h"
#include "crypto/hex.h"

namespace cairn::audit::internal {
namespace {

// At most `max_chars` hex digits of `b`, marked when cut.
std::string HexPrefix(ByteView b, size_t max_chars = 64) {
  std::string hex = crypto::ToHex(b);
  if (hex.size() <= max_chars) return hex;
  return hex.substr(0, max_chars) + "..(" + std::to_string(b.size()) + " bytes)";
}

// Names a state key for a report: "account ADDR" or "record ADDR key HEX".
std::string DescribeStateKey(ByteView key) {
  constexpr size_t kAddr = ledger::Address::kSize;
  if (key.size() == 1 + kAddr && key[0] == 0x01) {
    return "account " + crypto::ToHex(key.subspan(1));
  }
  if (key.size() > 1 + kAddr && key[0] == 0x02) {
    return "record " + crypto::ToHex(key.subspan(1, kAddr)) + " key " +
           HexPrefix(key.subspan(1 + kAddr));
  }
  return "state key " + HexPrefix(key);
}

}  // namespace

bool Auditor::CheckStoreAtEnd() {
  const uint64_t h = report_.head_height;
  const ledger::Head head = store_->head();
  if (head.height != h || head.hash != report_.head_hash || head.state_root != report_.state_root) {
    return Fail(AuditCheck::kHead, h,
                "the head record says height " + std::to_string(head.height) + " hash " +
                    crypto::ShortHex(head.hash, 16) + " state root " +
                    crypto::ShortHex(head.state_root, 16) + ", but the last block is " +
                    crypto::ShortHex(report_.head_hash, 16) + " with state root " +
                    crypto::ShortHex(report_.state_root, 16));
  }
  auto above = kv_->Get(BlockKey(h + 1));
  if (!above.ok()) return Fail(AuditCheck::kRead, h + 1, "reading block: " + above.error());
  if (above.value()) {
    return Fail(AuditCheck::kHead, h + 1,
                "a block is stored above the head (height " + std::to_string(h) + ")");
  }
  // What one Commit batch writes beside a block: none of it may outlive the block.
  for (const auto& [prefix, what] : {std::pair<uint8_t, const char*>{'R', "receipts are"},
                                     std::pair<uint8_t, const char*>{'Q', "a certificate is"},
                                     std::pair<uint8_t, const char*>{'U', "an undo record is"}}) {
    Bytes key = BlockKey(h + 1);
    key[0] = prefix;
    auto got = kv_->Get(key);
    if (!got.ok()) return Fail(AuditCheck::kRead, h + 1, "reading: " + got.error());
    if (got.value()) {
      return Fail(AuditCheck::kHead, h + 1,
                  std::string(what) + " stored above the head (height " + std::to_string(h) + ")");
    }
  }
  return CompareState();
}

bool Auditor::CheckStoredUndo(uint64_t h, const ledger::StateDiff& undo) {
  auto got = kv_->Get(ledger::ChainStore::UndoKey(h));
  if (!got.ok()) return Fail(AuditCheck::kRead, h, "reading the undo record: " + got.error());
  // Absent below the retained window; whether every retained height has one is checked with
  // the metadata.
  if (!got.value()) return true;
  if (**got != ledger::ChainStore::EncodeUndo(undo)) {
    return Fail(AuditCheck::kState, h,
                "the stored undo record ('U') is not what the replay's writes replaced; proofs "
                "of earlier heights would be refused or wrong");
  }
  return true;
}

bool Auditor::CheckStoredIndexes(const ledger::Block& b, const crypto::Hash256& hash,
                                 const std::vector<crypto::Hash256>& tx_hashes,
                                 const std::vector<ledger::Receipt>& receipts) {
  const uint64_t h = b.header.height;
  auto stored = store_->ReceiptsAt(h);
  if (!stored.ok()) return Fail(AuditCheck::kReceipts, h, stored.error());
  if (!stored.value()) return Fail(AuditCheck::kReceipts, h, "no receipts are stored");
  const std::vector<ledger::Receipt>& got = **stored;
  if (got.size() != receipts.size()) {
    return Fail(AuditCheck::kReceipts, h,
                std::to_string(got.size()) + " receipts are stored for " +
                    std::to_string(receipts.size()) + " transactions");
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == receipts[i]) continue;
    return Fail(AuditCheck::kReceipts, h,
                "receipt of tx " + std::to_string(i) + ": stored " +
                    std::string(ledger::TxCodeName(got[i].code)) + " at " +
                    std::to_string(got[i].height) + "/" + std::to_string(got[i].index) +
                    ", replay gives " + std::string(ledger::TxCodeName(receipts[i].code)) + " at " +
                    std::to_string(receipts[i].height) + "/" + std::to_string(receipts[i].index));
  }
  for (size_t i = 0; i < tx_hashes.size(); ++i) {
    auto loc = store_->FindTx(tx_hashes[i]);
    const std::string tx =
        "tx " + std::to_string(i) + " (" + crypto::ShortHex(tx_hashes[i], 16) + ")";
    if (!loc.ok()) return Fail(AuditCheck::kTxIndex, h, tx + ": " + loc.error());
    if (!loc.value()) return Fail(AuditCheck::kTxIndex, h, tx + " is missing from the tx index");
    if (loc.value()->height != h || loc.value()->index != i) {
      return Fail(AuditCheck::kTxIndex, h,
                  tx + ": the tx index says " + std::to_string(loc.value()->height) + "/" +
                      std::to_string(loc.value()->index));
    }
  }
  // The index record itself ('H' hash -> height:u64, ledger/chain_store.h), not BlockByHash:
  // the block at that height is the one just checked, and decoding it again would cost as
  // much as reading it did.
  Bytes key{'H'};
  key.insert(key.end(), hash.view().begin(), hash.view().end());
  auto indexed = kv_->Get(key);
  if (!indexed.ok()) return Fail(AuditCheck::kBlockIndex, h, indexed.error());
  uint64_t indexed_height = 0;
  if (indexed.value()) {
    codec::Reader r(**indexed, "block-hash index");
    r.U64(&indexed_height, "height");
    if (Status s = r.Finish(); !s.ok()) return Fail(AuditCheck::kBlockIndex, h, s.message());
  }
  if (!indexed.value() || indexed_height != h) {
    return Fail(AuditCheck::kBlockIndex, h,
                "block " + crypto::ShortHex(hash, 16) + " is missing from the block-hash index");
  }
  return true;
}

bool Auditor::CompareState() {
  const auto& want = state_.entries();
  auto it = want.begin();
  std::optional<std::string> problem;
  auto compare = [&](ByteView key, ByteView value) {
    if (it != want.end() &&
        std::lexicographical_compare(it->first.begin(), it->first.end(), key.begin(), key.end())) {
      problem = DescribeStateKey(it->first) + ": in the replayed state but not stored";
      return false;
    }
    if (it == want.end() ||
        !std::equal(it->first.begin(), it->first.end(), key.begin(), key.end())) {
      problem = DescribeStateKey(key) + ": stored (value " + HexPrefix(value) +
                ") but not in the replayed state";
      return false;
    }
    if (!std::equal(it->second.begin(), it->second.end(), value.begin(), value.end())) {
      problem = DescribeStateKey(key) + ": stored value " + HexPrefix(value) +
                " differs from the replayed " + HexPrefix(it->second);
      return false;
    }
    ++it;
    return true;
  };
  const uint64_t h = report_.head_height;
  if (Status s = store_->ScanState(compare); !s.ok()) {
    return Fail(AuditCheck::kRead, h, "scanning the stored state: " + s.message());
  }
  if (!problem && it != want.end()) {
    problem = DescribeStateKey(it->first) + ": in the replayed state but not stored";
  }
  if (problem) {
    return Fail(AuditCheck::kState, h,
                "state at head height " + std::to_string(h) + ": " + *problem);
  }
  return true;
}

}  // namespace cairn::audit::internal
