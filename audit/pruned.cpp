// The audit of a data dir that does not keep every block (docs/design/state-sync.md section 4):
// a pruned node keeps headers from genesis but bodies only from 'M' "blocks_from"; a
// state-synced node keeps headers from 'M' "headers_from" (1 once its backfill finished) and
// bodies above its base. Replay cannot start at genesis, so the audit
//   1. checks every kept header from genesis: its hash link to its parent, its proposer
//      signature when the record keeps one, and, where its validator set is known (the
//      genesis set, or the set the proven state holds), the proposer's membership and the
//      BFT certificate; the set history below the base is not kept, so a certificate of
//      another set is counted and reported as not checked;
//   2. rebuilds the state at the base (the oldest height with state: F = blocks_from - 1, or
//      the lowest height the undo records reach) from the stored 'S' entries and the undo
//      records from the head down, and proves it against header F's state_root with
//      ledger::RootOf over the rebuilt entries, not the store's tree;
//   3. leaves the walk to replay F+1..head with chain::BlockRules as for a full audit, and
//      compares the stored state with the replay at the end.
// A damaged header fails the link check at its height; a damaged retained block fails its
// replay; a damaged state entry or undo record fails the proof at F (or the end comparison).
#include <algorithm>
#include <string>
#include <utility>

#include "audit/auditor.h"
#include "audit/source.h"
#include "base/codec.h"
#include "crypto/hex.h"
#include "ledger/governance.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

namespace cairn::audit::internal {
namespace {

Result<std::optional<uint64_t>> ReadU64Record(const ledger::KvStore& kv, std::string_view name) {
  Bytes key{'M'};
  key.insert(key.end(), name.begin(), name.end());
  auto got = kv.Get(key);
  if (!got.ok()) return got.status();
  if (!got.value()) return std::optional<uint64_t>();
  codec::Reader r(**got, "'M' \"" + std::string(name) + "\" record");
  uint64_t v = 0;
  r.U64(&v, "height");
  if (Status s = r.Finish(); !s.ok()) return s;
  return std::optional<uint64_t>(v);
}

std::string Range(uint64_t from, uint64_t to) {
  return from == to ? std::to_string(from) : std::to_string(from) + ".." + std::to_string(to);
}

}  // namespace

Result<KeptRanges> ReadKeptRanges(const ledger::KvStore& kv) {
  KeptRanges k;
  auto head = kv.Get(Bytes{'M', 'h', 'e', 'a', 'd'});
  if (!head.ok()) return head.status();
  if (head.value()) {
    // Only the height, and only a pruned store needs it: a damaged record is CheckMetadata's
    // to name, at the height the walk reached.
    codec::Reader r(**head, "head record");
    k.head_known = r.U64(&k.head, "height");
  }
  for (auto [name, field] :
       {std::pair<std::string_view, uint64_t*>{"blocks_from", &k.blocks_from},
        std::pair<std::string_view, uint64_t*>{"headers_from", &k.headers_from}}) {
    auto v = ReadU64Record(kv, name);
    if (!v.ok()) return v.status();
    if (v.value()) *field = std::max<uint64_t>(1, **v);
  }
  auto undo = ReadU64Record(kv, "undo_from");
  if (!undo.ok()) return undo.status();
  k.undo_from = undo.value();
  auto synced = ReadU64Record(kv, "synced_at");
  if (!synced.ok()) return synced.status();
  k.synced_at = synced.value();
  auto import = kv.Get(Bytes{'M', 'i', 'm', 'p', 'o', 'r', 't'});
  if (!import.ok()) return import.status();
  k.import_in_progress = import.value().has_value();
  return k;
}

Result<std::optional<Auditor::KeptHeader>> Auditor::ReadKeptHeader(uint64_t h,
                                                                   uint64_t blocks_from) const {
  using Out = std::optional<KeptHeader>;
  if (h >= blocks_from) {
    auto bytes = ledger::ChainStore::BlockBytesAt(*kv_, h);
    if (!bytes.ok()) return bytes.status();
    if (!bytes.value()) return Out();
    auto block = ledger::Block::Decode(**bytes);
    if (!block.ok()) return Status::Error("block does not decode: " + block.error());
    return Out(KeptHeader{std::move(block->header), block->proposer_sig});
  }
  auto got = kv_->Get(ledger::ChainStore::PrunedHeaderKey(h));
  if (!got.ok()) return got.status();
  if (!got.value()) return Out();
  // 'P' := a BlockHeader encoding (state-sync.md section 2), or a block without its
  // transactions (the header and its proposer signature), whichever the record holds.
  if (auto header = ledger::BlockHeader::Decode(**got); header.ok()) {
    return Out(KeptHeader{std::move(header.value()), std::nullopt});
  }
  auto block = ledger::Block::Decode(**got);
  if (!block.ok()) return Status::Error("the header-only record does not decode: " + block.error());
  return Out(KeptHeader{std::move(block->header), block->proposer_sig});
}

std::optional<ledger::BlockHeader> Auditor::CheckKeptHeaders(
    std::optional<ledger::BlockHeader> parent, uint64_t from, uint64_t to, uint64_t blocks_from,
    const std::vector<std::vector<ledger::Member>>& known_sets) {
  AuditCoverage& cov = *report_.coverage;
  std::vector<crypto::Hash256> known_hashes;
  for (const auto& set : known_sets) known_hashes.push_back(ledger::SetHash(set));
  const bool bft = rules_.certificates_required();
  for (uint64_t h = from; h <= to; ++h) {
    auto got = ReadKeptHeader(h, blocks_from);
    if (!got.ok()) {
      Fail(AuditCheck::kRead, h, "reading the header: " + got.error());
      return std::nullopt;
    }
    if (!got.value()) {
      Fail(AuditCheck::kRead, h,
           "the header is missing (this dir keeps headers from " + std::to_string(from) +
               " and bodies from " + std::to_string(blocks_from) + ")");
      return std::nullopt;
    }
    const ledger::BlockHeader& hd = got.value()->header;
    auto fail = [&](AuditCheck check, std::string detail) {
      Fail(check, h, std::move(detail));
      return std::nullopt;
    };
    if (hd.height != h) {
      return fail(AuditCheck::kHeader,
                  "the header stored at this height says height " + std::to_string(hd.height));
    }
    if (hd.chain_id != genesis_.chain_id) {
      return fail(AuditCheck::kHeader,
                  "chain id \"" + hd.chain_id + "\" is not \"" + genesis_.chain_id + "\"");
    }
    const crypto::Hash256 hash = hd.Hash();
    if (parent) {
      const crypto::Hash256 parent_hash = parent->Hash();
      if (hd.prev_hash != parent_hash) {
        return fail(AuditCheck::kHeader, "prev_hash " + crypto::ShortHex(hd.prev_hash, 16) +
                                             " is not the hash of header " +
                                             std::to_string(parent->height) + " (" +
                                             crypto::ShortHex(parent_hash, 16) + ")");
      }
      if (hd.timestamp_ms < parent->timestamp_ms) {
        return fail(AuditCheck::kHeader, "timestamp is before its parent's");
      }
      if (hd.validators_hash != parent->next_validators_hash) {
        return fail(AuditCheck::kHeader, "validators_hash " +
                                             crypto::ShortHex(hd.validators_hash, 16) +
                                             " is not the next_validators_hash of header " +
                                             std::to_string(parent->height));
      }
    }
    // The block-hash index is kept for every height, pruned or not.
    Bytes index_key{'H'};
    index_key.insert(index_key.end(), hash.view().begin(), hash.view().end());
    auto indexed = kv_->Get(index_key);
    if (!indexed.ok()) return fail(AuditCheck::kBlockIndex, indexed.error());
    uint64_t indexed_height = 0;
    if (indexed.value()) {
      codec::Reader r(**indexed, "block-hash index");
      r.U64(&indexed_height, "height");
      if (Status s = r.Finish(); !s.ok()) return fail(AuditCheck::kBlockIndex, s.message());
    }
    if (!indexed.value() || indexed_height != h) {
      // A header record altered after it was written no longer hashes to what its child
      // links to: name it as the broken link, at its own height.
      auto child = ReadKeptHeader(h + 1, blocks_from);
      if (child.ok() && child.value() && child.value()->header.prev_hash != hash) {
        return fail(AuditCheck::kHeader,
                    "the header stored here hashes to " + crypto::ShortHex(hash, 16) +
                        ", but header " + std::to_string(h + 1) + "'s prev_hash is " +
                        crypto::ShortHex(child.value()->header.prev_hash, 16) +
                        " and the block-hash index does not know it: this header record is "
                        "damaged");
      }
      return fail(AuditCheck::kBlockIndex,
                  "header " + crypto::ShortHex(hash, 16) + " is missing from the block-hash index");
    }
    if (const auto& sig = got.value()->proposer_sig) {
      ledger::Block b;
      b.header = hd;
      b.proposer_sig = *sig;
      if (!b.VerifyProposerSignature()) {
        return fail(AuditCheck::kProposerSignature,
                    "the signature by " + crypto::ShortHex(hd.proposer, 16) + " over header " +
                        crypto::ShortHex(hash, 16) + " does not verify");
      }
    } else {
      cov.signatures_unchecked += 1;
    }
    const auto known = std::find(known_hashes.begin(), known_hashes.end(), hd.validators_hash);
    if (known != known_hashes.end()) {
      const auto& set = known_sets[known - known_hashes.begin()];
      const bool in_set = std::any_of(set.begin(), set.end(), [&](const ledger::Member& m) {
        return m.consensus_key == hd.proposer;
      });
      if (!in_set) {
        return fail(AuditCheck::kProposer, "proposer " + hd.proposer.ToHex() +
                                               " is not a validator of height " +
                                               std::to_string(h));
      }
      if (bft) {
        auto cert = kv_->Get(ledger::ChainStore::CertificateKey(h));
        if (!cert.ok()) return fail(AuditCheck::kRead, "reading the certificate: " + cert.error());
        ledger::Block b;
        b.header = hd;
        chain::Checked c =
            rules_.CheckCertificate(b, cert.value() ? ByteView(**cert) : ByteView(), set);
        if (!c.ok()) return fail(AuditCheck::kCertificate, c.detail);
        cov.headers_certified += 1;
      }
    } else if (bft) {
      cov.certificates_unchecked += 1;
      if (!cov.uncertified_range) cov.uncertified_range.emplace(h, h);
      cov.uncertified_range->second = h;
    }
    cov.headers_checked += 1;
    parent = hd;
  }
  return parent;
}

Status Auditor::RebuildState(uint64_t base, uint64_t head, ledger::MemoryState* out) {
  ledger::StateDiff stored;
  Status scan = store_->ScanState([&](ByteView k, ByteView v) {
    stored.emplace_hint(stored.end(), Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  if (!scan.ok()) return Status::Error("scanning the stored state: " + scan.message());
  out->Apply(stored);
  stored.clear();
  for (uint64_t u = head; u > base; --u) {
    auto got = kv_->Get(ledger::ChainStore::UndoKey(u));
    if (!got.ok()) return Status::Error("undo record " + std::to_string(u) + ": " + got.error());
    if (!got.value())
      return Status::Error("the undo record of height " + std::to_string(u) + " is missing");
    auto undo = ledger::ChainStore::DecodeUndo(**got);
    if (!undo.ok()) {
      return Status::Error("the undo record of height " + std::to_string(u) +
                           " does not decode: " + undo.error());
    }
    out->Apply(*undo);
    report_.coverage->undo_records_applied += 1;
  }
  return Status::Ok();
}

bool Auditor::StartFromKeptState(const KeptRanges& kept) {
  report_.coverage.emplace();
  AuditCoverage& cov = *report_.coverage;
  cov.headers_from = kept.headers_from;
  cov.blocks_from = kept.blocks_from;
  cov.synced_at = kept.synced_at;
  if (!kept.head_known) {
    return Fail(AuditCheck::kHead, std::nullopt,
                "the metadata record 'M' \"head\" is missing or does not decode: a store that "
                "does not keep every block (blocks_from " +
                    std::to_string(kept.blocks_from) + ") cannot be audited without its head");
  }
  if (!store_) {
    return Fail(AuditCheck::kSource, std::nullopt,
                "the pruned store does not open, so its state cannot be read");
  }
  // Block 0 is the genesis file's, whether its body or a header-only record is kept.
  const ledger::Block genesis_block = genesis_.Block0();
  const crypto::Hash256 genesis_hash = genesis_block.Hash();
  auto zero = ReadKeptHeader(0, /*blocks_from=*/0);
  if (zero.ok() && !zero.value()) zero = ReadKeptHeader(0, /*blocks_from=*/1);  // header-only
  if (!zero.ok()) return Fail(AuditCheck::kRead, 0, "reading block 0: " + zero.error());
  if (zero.value() && zero.value()->header.Hash() != genesis_hash) {
    return Fail(AuditCheck::kGenesis, 0,
                "block 0 hashes to " + zero.value()->header.Hash().ToHex() +
                    ", but the genesis file gives " + genesis_hash.ToHex());
  }

  // The oldest height with state: below blocks_from there are no blocks to replay, and the
  // undo records may not reach that far down.
  const uint64_t f = kept.blocks_from - 1;
  const uint64_t undo_floor = kept.undo_from.value_or(kept.head);
  const uint64_t base = std::min(kept.head, std::max(f, undo_floor));
  cov.state_base = base;

  ledger::MemoryState state;
  Status rebuilt = RebuildState(base, kept.head, &state);
  std::optional<ledger::BlockHeader> base_header;
  bool proven = false;
  crypto::Hash256 rebuilt_root;
  if (rebuilt.ok()) {
    std::vector<ledger::TreeEntry> entries;
    entries.reserve(state.entries().size());
    for (const auto& [key, value] : state.entries()) {
      entries.push_back(ledger::TreeEntry{ledger::KeyHash(key), ledger::ValueHash(value)});
    }
    rebuilt_root = ledger::RootOf(std::move(entries));
    auto hd = ReadKeptHeader(base, kept.blocks_from);
    if (hd.ok() && hd.value()) {
      base_header = hd.value()->header;
      proven = rebuilt_root == base_header->state_root;
    }
  }
  // Sets whose certificates can be checked without the set history: the genesis set, and,
  // once the state is proven, the set it holds for the next height.
  std::vector<std::vector<ledger::Member>> known_sets{rules_.genesis_validators()};
  if (proven) known_sets.push_back(rules_.ValidatorsAt(state, base + 1));

  std::optional<ledger::BlockHeader> parent;
  if (kept.headers_from <= 1) parent = genesis_block.header;
  const uint64_t first = std::max<uint64_t>(1, kept.headers_from);
  auto last =
      base >= first ? CheckKeptHeaders(parent, first, base, kept.blocks_from, known_sets) : parent;
  if (report_.failure) return false;
  if (!rebuilt.ok()) return Fail(AuditCheck::kState, base, rebuilt.message());
  if (!last || !base_header || last->Hash() != base_header->Hash()) {
    return Fail(AuditCheck::kRead, base, "the header of the state base is not kept");
  }
  if (!proven) {
    return Fail(AuditCheck::kState, base,
                "the state at " + std::to_string(base) + ", rebuilt from the stored state and " +
                    std::to_string(cov.undo_records_applied) + " undo records, has root " +
                    crypto::ShortHex(rebuilt_root, 16) + ", but header " + std::to_string(base) +
                    "'s state_root is " + crypto::ShortHex(base_header->state_root, 16) +
                    ": a stored state entry or an undo record is damaged");
  }
  // The replay's tree starts from the proven entries.
  ledger::StateDiff all;
  for (const auto& [key, value] : state.entries()) all.emplace_hint(all.end(), key, value);
  view_ = ledger::ProcessStateTree().Update(ledger::StateTree::View(), all, base);
  all.clear();
  state_ = std::move(state);
  parent_ = *base_header;
  next_height_ = base + 1;
  replay_from_ = base + 1;
  report_.head_height = base;
  report_.head_hash = base_header->Hash();
  report_.state_root = base_header->state_root;
  report_.state_entries = state_.entries().size();
  return true;
}

void Auditor::DescribeCoverage() {
  if (!report_.coverage || !report_.coverage->state_base) return;
  AuditCoverage& cov = *report_.coverage;
  const uint64_t base = *cov.state_base;
  const uint64_t first = std::max<uint64_t>(1, cov.headers_from);
  const bool bft = rules_.certificates_required();
  const bool passed = report_.ok();
  auto& yes = cov.verified;
  auto& no = cov.not_verified;
  yes.clear();
  no.clear();
  yes.push_back("block 0: the genesis file's");
  if (cov.synced_at) {
    yes.push_back("state-synced at " + std::to_string(*cov.synced_at) +
                  ": the snapshot's state is proven below like any other base");
  }
  if (cov.headers_checked > 0) {
    std::string what = cov.headers_from <= 1 ? "linked by hash from genesis" : "linked by hash";
    if (bft) {
      what += cov.certificates_unchecked == 0
                  ? ", every certificate verified"
                  : ", " + std::to_string(cov.headers_certified) + " certificates verified";
    } else if (cov.signatures_unchecked < cov.headers_checked) {
      what += ", proposer-signed";
    }
    yes.push_back("headers " + Range(first, first + cov.headers_checked - 1) + ": " + what);
  }
  if (passed || report_.head_height > base) {
    yes.push_back("state at " + std::to_string(base) + ": rebuilt from the stored state and " +
                  std::to_string(cov.undo_records_applied) +
                  " undo records, proven against header " + std::to_string(base) + "'s state_root");
  }
  if (report_.head_height > base) {
    yes.push_back("blocks " + Range(base + 1, report_.head_height) +
                  ": replayed (signatures, certificates, execution, receipts, indexes)");
  }
  if (passed && report_.store_checked) {
    yes.push_back("the stored state at the head equals the replay");
  }
  if (cov.headers_from > 1) {
    no.push_back("headers " + Range(1, cov.headers_from - 1) +
                 " not kept (the state sync's header backfill has not finished): header " +
                 std::to_string(cov.headers_from) + " is not linked to genesis");
  }
  if (cov.blocks_from > 1) {
    const bool synced = cov.synced_at && *cov.synced_at + 1 >= cov.blocks_from;
    no.push_back(
        "bodies " + Range(1, cov.blocks_from - 1) +
        (synced ? " not kept (the state sync started at " + std::to_string(*cov.synced_at) + ")"
                : " pruned") +
        ": their transactions, receipts and tx index not verified");
  }
  if (report_.head_height == base && base > 0) {
    no.push_back("header " + std::to_string(base) +
                 " is the head: no replayed block above it confirms it, so it is trusted as "
                 "the state sync or import trusted it (its certificate, or the hash the "
                 "operator gave)");
  }
  if (base + 1 > cov.blocks_from) {
    no.push_back("blocks " + Range(cov.blocks_from, base) +
                 " kept but not replayed: the undo records reach down to " + std::to_string(base) +
                 " only (state_tree.retain_heights)");
  }
  if (cov.certificates_unchecked > 0 && cov.uncertified_range) {
    no.push_back(std::to_string(cov.certificates_unchecked) + " certificates of headers " +
                 Range(cov.uncertified_range->first, cov.uncertified_range->second) +
                 " not checked: their validator set is neither the genesis set nor the proven "
                 "state's, and the set history below " +
                 std::to_string(base) + " is not kept (hash links still fix those headers)");
  }
  if (cov.signatures_unchecked > 0) {
    no.push_back(std::to_string(cov.signatures_unchecked) +
                 " header-only records keep no proposer signature: those headers are fixed "
                 "by hash links to the headers above them, not by signatures");
  }
}

}  // namespace cairn::audit::internal
