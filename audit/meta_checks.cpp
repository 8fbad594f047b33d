// A data-dir audit reads what is not a block too: the metadata records ('M'), which the
// blocks do not cover by any hash, the consensus engine's records ('C'), which a validator
// needs to restart, and the key space itself. Each is read raw, so a damaged record is named
// exactly instead of surfacing as "the store does not open". Layouts: ledger/chain_store.h,
// node/engine_store.cpp, consensus/bft/state.cpp, consensus/raft/messages.cpp.
#include <map>
#include <set>
#include <string>

#include "audit/auditor.h"
#include "audit/source.h"
#include "base/codec.h"
#include "consensus/bft/messages.h"
#include "consensus/bft/state.h"
#include "consensus/raft/messages.h"
#include "crypto/hex.h"
#include "ledger/chain_store.h"

namespace cairn::audit::internal {
namespace {

constexpr uint32_t kFormatVersion = 3;  // PROTOCOL v2 (ledger/chain_store.cpp)
constexpr size_t kMaxEvidenceBytes = 1u << 20;

std::string Record(std::string_view name) {
  return "the metadata record 'M' \"" + std::string(name) + "\"";
}

// A key for a report: printable bytes as text, the rest as hex.
std::string Printable(ByteView b) {
  for (uint8_t c : b) {
    if (c < 0x20 || c > 0x7e) return "0x" + crypto::ToHex(b.first(std::min<size_t>(b.size(), 48)));
  }
  return std::string(b.begin(), b.end());
}

uint64_t BigEndian(ByteView b) {
  uint64_t v = 0;
  for (uint8_t c : b) v = v << 8 | c;
  return v;
}

std::optional<uint64_t> DecodeUndoFrom(ByteView value) {
  codec::Reader r(value, "undo_from record");
  uint64_t v = 0;
  r.U64(&v, "height");
  if (!r.Finish().ok()) return std::nullopt;
  return v;
}

}  // namespace

bool Auditor::CheckUndoHeights(uint64_t from) {
  // Exactly the heights (from, head] hold an undo record ('U' height:u64be); each record's
  // content was compared with the replay block by block.
  std::optional<std::string> bad;
  uint64_t expect = from + 1;
  const uint8_t start[] = {'U'};
  const uint8_t end[] = {'U' + 1};
  Status scan = kv_->Scan(start, end, [&](ByteView k, ByteView) {
    uint64_t h = 0;  // big-endian, so keys sort by height
    for (size_t i = 1; i < k.size() && i < 9; ++i) h = (h << 8) | k[i];
    // Records above the head are CheckStoreAtEnd's ("stored above the head").
    if (k.size() == 9 && h > report_.head_height) return false;
    if (k.size() != 9) {
      bad = "a key outside the store's layout: " + Printable(k);
    } else if (h != expect) {
      bad = h < expect ? "an undo record ('U') at height " + std::to_string(h) +
                             ", at or below undo_from " + std::to_string(from)
                       : "the undo record ('U') of height " + std::to_string(expect) +
                             " is missing (undo_from " + std::to_string(from) +
                             "): proofs at lower heights would fail";
    }
    ++expect;
    return !bad;
  });
  if (!scan.ok()) {
    return Fail(AuditCheck::kRead, std::nullopt, "scanning undo records: " + scan.message());
  }
  if (!bad && expect != report_.head_height + 1) {
    bad = "the undo record ('U') of height " + std::to_string(expect) + " is missing (undo_from " +
          std::to_string(from) + ", head " + std::to_string(report_.head_height) + ")";
  }
  if (bad) return Fail(AuditCheck::kState, std::nullopt, *bad);
  return true;
}

bool Auditor::CheckMetadata() {
  std::map<std::string, Bytes> records;
  const uint8_t start[] = {'M'};
  const uint8_t end[] = {'M' + 1};
  Status scan = kv_->Scan(start, end, [&](ByteView k, ByteView v) {
    records.emplace(std::string(k.begin() + 1, k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  if (!scan.ok())
    return Fail(AuditCheck::kRead, std::nullopt, "scanning the metadata: " + scan.message());
  for (const char* name : {"format", "genesis", "chain_id", "head"}) {
    if (!records.count(name)) {
      // Without a head record the last good block is still known: name it.
      if (std::string_view(name) == "head") {
        return Fail(AuditCheck::kHead, report_.head_height,
                    Record(name) + " is missing; the last stored block is " +
                        std::to_string(report_.head_height) + " (" +
                        crypto::ShortHex(report_.head_hash, 16) + ")");
      }
      return Fail(AuditCheck::kMetadata, std::nullopt, Record(name) + " is missing");
    }
  }
  for (const auto& [name, value] : records) {
    if (name == "format") {
      codec::Reader r(value, "format record");
      uint32_t version = 0;
      r.U32(&version, "version");
      if (Status s = r.Finish(); !s.ok()) {
        return Fail(AuditCheck::kMetadata, std::nullopt,
                    Record(name) + " does not decode: " + s.message());
      }
      if (version != kFormatVersion) {
        return Fail(AuditCheck::kMetadata, std::nullopt,
                    Record(name) + " says version " + std::to_string(version) +
                        "; this audit reads version " + std::to_string(kFormatVersion) +
                        (version < kFormatVersion ? " (versions 1 and 2 are PROTOCOL v1 chains: "
                                                    "audit them with a v1 build)"
                                                  : ""));
      }
    } else if (name == "genesis") {
      if (value.size() != 32 || crypto::Hash256::FromBytes(value) != report_.genesis_hash) {
        return Fail(AuditCheck::kMetadata, std::nullopt,
                    Record(name) + " holds " + crypto::ToHex(value) +
                        ", not the genesis file's hash " + report_.genesis_hash.ToHex() +
                        " (block 0 itself checks out)");
      }
    } else if (name == "chain_id") {
      if (AsString(value) != genesis_.chain_id) {
        return Fail(AuditCheck::kMetadata, std::nullopt,
                    Record(name) + " holds \"" + Printable(value) +
                        "\", but the genesis file's chain id is \"" + genesis_.chain_id +
                        "\"; a node refuses to open this store");
      }
    } else if (name == "head") {
      // Head := height:u64 hash:fixed[32] state_root:fixed[32]
      const uint64_t last = report_.head_height;
      codec::Reader r(value, "head record");
      uint64_t height = 0;
      crypto::Hash256 hash, root;
      r.U64(&height, "height");
      r.Fixed(&hash, "hash");
      r.Fixed(&root, "state_root");
      if (Status s = r.Finish(); !s.ok()) {
        return Fail(AuditCheck::kHead, last,
                    Record(name) + " does not decode (" + s.message() +
                        "); the last stored block is " + std::to_string(last) + " (" +
                        crypto::ShortHex(report_.head_hash, 16) + ")");
      }
      if (height > last) {
        return Fail(AuditCheck::kHead, last + 1,
                    Record(name) + " says height " + std::to_string(height) + ", but block " +
                        std::to_string(last + 1) + " is missing (the last stored block is " +
                        std::to_string(last) + ")");
      }
      if (height < last) {
        // The blocks above it check out, so it is the record that is wrong.
        return Fail(
            AuditCheck::kHead, last,
            Record(name) + " says height " + std::to_string(height) + ", but blocks up to " +
                std::to_string(last) + " are stored and check out" +
                (hash == report_.head_hash ? " (its hash is block " + std::to_string(last) + "'s)"
                                           : ""));
      }
      if (hash != report_.head_hash) {
        return Fail(AuditCheck::kHead, last,
                    Record(name) + " has hash " + crypto::ShortHex(hash, 16) + ", but block " +
                        std::to_string(last) + " hashes to " +
                        crypto::ShortHex(report_.head_hash, 16));
      }
      if (root != report_.state_root) {
        return Fail(AuditCheck::kHead, last,
                    Record(name) + " has state root " + crypto::ShortHex(root, 16) +
                        ", but block " + std::to_string(last) + " and the replay give " +
                        crypto::ShortHex(report_.state_root, 16));
      }
    } else if (name == "blocks_from" || name == "headers_from" || name == "synced_at") {
      // What ReadKeptRanges used; here only its bounds: nothing above the head + 1, and the
      // headers start no higher than the bodies. (An 'M' "import" never gets here: the audit
      // refuses a dir with an import in progress first.)
      auto from = DecodeUndoFrom(value);
      if (!from || *from > report_.head_height + 1 ||
          (report_.coverage && report_.coverage->headers_from > report_.coverage->blocks_from)) {
        return Fail(
            AuditCheck::kMetadata, std::nullopt,
            Record(name) + (from ? " says " + std::to_string(*from) + ", out of bounds (head " +
                                       std::to_string(report_.head_height) + ")"
                                 : " does not decode"));
      }
    } else if (name == "undo_from") {
      auto from = DecodeUndoFrom(value);
      if (!from || *from > report_.head_height) {
        return Fail(AuditCheck::kMetadata, std::nullopt,
                    Record(name) + (from ? " says " + std::to_string(*from) + ", above the head " +
                                               std::to_string(report_.head_height)
                                         : " does not decode"));
      }
      if (!CheckUndoHeights(*from)) return false;
    } else {
      return Fail(AuditCheck::kMetadata, std::nullopt,
                  "unknown metadata record 'M' \"" + Printable(AsBytes(name)) + "\" (" +
                      std::to_string(value.size()) + " bytes)");
    }
  }
  // Without undo_from the store keeps no history (a build before undo records wrote it), so an
  // undo record is one nothing bounds or garbage-collects.
  if (!records.count("undo_from")) {
    std::optional<std::string> stray;
    const uint8_t u[] = {'U'};
    const uint8_t u_end[] = {'U' + 1};
    Status s = kv_->Scan(u, u_end, [&](ByteView k, ByteView) {
      stray = Printable(k);
      return false;
    });
    if (!s.ok())
      return Fail(AuditCheck::kRead, std::nullopt, "scanning undo records: " + s.message());
    if (stray) {
      return Fail(AuditCheck::kState, std::nullopt,
                  "an undo record ('U') is stored (" + *stray + ") but " + Record("undo_from") +
                      " is missing");
    }
  }
  return true;
}

bool Auditor::CheckEngineRecords() {
  const genesis::ConsensusKind kind = genesis_.consensus;
  const char* engine = kind == genesis::ConsensusKind::kBft    ? "BFT"
                       : kind == genesis::ConsensusKind::kRaft ? "Raft"
                                                               : "solo";
  std::optional<AuditFailure> bad;
  auto fail = [&](std::string what) {
    bad = AuditFailure{AuditCheck::kEngineState, std::nullopt, std::move(what)};
    return false;
  };
  const uint8_t start[] = {'C'};
  const uint8_t end[] = {'C' + 1};
  // Block spans ('C' 'm', node/engine_store.cpp): the records that lent their block's bytes
  // to the chain store's 'K', by index, and the hashes they name.
  std::map<uint64_t, std::pair<crypto::Hash256, uint32_t>> spans;
  std::set<crypto::Hash256> lent;
  Status span_scan = kv_->Scan(std::vector<uint8_t>{'C', 'm'}, std::vector<uint8_t>{'C', 'n'},
                               [&](ByteView k, ByteView v) {
                                 codec::Reader r(v, "block span");
                                 crypto::Hash256 h;
                                 uint32_t offset = 0;
                                 r.Fixed(&h, "hash");
                                 r.U32(&offset, "offset");
                                 if (k.size() == 10 && r.Finish().ok()) {
                                   spans[BigEndian(k.subspan(2))] = {h, offset};
                                   lent.insert(h);
                                 }
                                 return true;
                               });
  if (!span_scan.ok())
    return Fail(AuditCheck::kRead, std::nullopt,
                "scanning the consensus records: " + span_scan.message());
  Status scan = kv_->Scan(start, end, [&](ByteView k, ByteView v) {
    const char sub = k.size() >= 2 ? static_cast<char>(k[1]) : '\0';
    if (sub == 'h' && k.size() == 2) {
      const std::string rec =
          "the consensus record 'C' 'h' (the " + std::string(engine) + " engine's hard state)";
      Status s;
      if (kind == genesis::ConsensusKind::kBft) {
        auto hs = consensus::bft::DecodeHardState(v);
        s = hs.status();
        if (hs.ok() && hs->height > report_.head_height + 1) {
          return fail(rec + " is at height " + std::to_string(hs->height) + ", above the head " +
                      std::to_string(report_.head_height) + " + 1");
        }
      } else if (kind == genesis::ConsensusKind::kRaft) {
        s = consensus::raft::DecodeHardState(v).status();
      } else {
        return fail(rec + " is stored, but a solo chain keeps none");
      }
      if (!s.ok()) {
        return fail(rec + " does not decode (" + s.message() +
                    "); the validator will refuse to start without an override (CONSENSUS.md, "
                    "\"Lost validator state\")");
      }
      return true;
    }
    if (sub == 'l' && k.size() == 10) {
      const uint64_t index = BigEndian(k.subspan(2));
      const std::string rec = "the consensus log record 'C' 'l' " + std::to_string(index);
      // A record that lent its block to 'K' is checked whole, its block put back.
      Bytes whole(v.begin(), v.end());
      if (auto span = spans.find(index); span != spans.end()) {
        auto body = ledger::ChainStore::BlockBytesByHash(*kv_, span->second.first);
        if (!body.ok()) return fail(rec + ": reading its block: " + body.status().message());
        if (!body.value() || span->second.second > whole.size()) {
          return fail(rec + ": its block " + crypto::ShortHex(span->second.first, 16) +
                      " is stored nowhere");
        }
        whole.insert(whole.begin() + span->second.second, body.value()->begin(),
                     body.value()->end());
      }
      Status s = kind == genesis::ConsensusKind::kBft
                     ? consensus::bft::DecodeRecord(whole, index).status()
                 : kind == genesis::ConsensusKind::kRaft
                     ? consensus::raft::DecodeEntry(whole, index).status()
                     : Status::Error("a solo chain keeps none");
      if (!s.ok()) return fail(rec + " does not decode: " + s.message());
      return true;
    }
    if (sub == 'm' && k.size() == 10) {
      const uint64_t index = BigEndian(k.subspan(2));
      const std::string rec = "the consensus block span record 'C' 'm' " + std::to_string(index);
      if (!spans.count(index)) return fail(rec + " does not decode");
      auto whole = kv_->Get(Bytes{'C', 'l', k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9]});
      if (!whole.ok() || !whole.value()) return fail(rec + " has no log record 'C' 'l' beside it");
      return true;
    }
    if (sub == 'e' && k.size() == 2 + 32) {
      const std::string id = crypto::ToHex(k.subspan(2)).substr(0, 16);
      codec::Reader r(v, "stored evidence");
      uint64_t ms = 0;
      Bytes raw;
      r.U64(&ms, "recorded_ms");
      r.Var(&raw, kMaxEvidenceBytes, "evidence");
      Status s = r.Finish();
      if (s.ok()) s = consensus::bft::Evidence::Decode(raw).status();
      if (s.ok() && crypto::Hash256::FromBytes(k.subspan(2)) != crypto::Sha256Of(raw)) {
        s = Status::Error("its key is not the sha256 of the evidence");
      }
      if (!s.ok())
        return fail("the evidence record 'C' 'e' " + id + ".. does not decode: " + s.message());
      return true;
    }
    return fail("unknown consensus record " + Printable(k) + " (" + std::to_string(v.size()) +
                " bytes)");
  });
  if (!scan.ok())
    return Fail(AuditCheck::kRead, std::nullopt,
                "scanning the consensus records: " + scan.message());
  if (bad) return Fail(std::move(*bad));

  // Every block body under 'K' is either a committed block ('B' refers to it) or lent by a
  // log record; anything else is an orphan that truncation should have deleted.
  std::optional<AuditFailure> orphan;
  Status bodies =
      kv_->Scan(std::vector<uint8_t>{'K'}, std::vector<uint8_t>{'L'}, [&](ByteView k, ByteView v) {
        auto hash = crypto::Hash256::FromBytes(k.subspan(1));
        if (!hash) {
          orphan = AuditFailure{AuditCheck::kMetadata, std::nullopt,
                                "a block body key of the wrong size: " + Printable(k)};
          return false;
        }
        if (lent.count(*hash)) return true;
        codec::Reader r(v, "block");
        ByteView header_bytes;
        r.VarView(&header_bytes, v.size(), "header");
        auto header = ledger::BlockHeader::Decode(header_bytes);
        std::optional<Bytes> at;
        if (header.ok()) {
          auto got = kv_->Get(BlockKey(header->height));
          if (got.ok()) at = std::move(got.value());
        }
        if (!at || ledger::ChainStore::BodyRefOf(*at) != hash) {
          orphan = AuditFailure{AuditCheck::kEngineState, std::nullopt,
                                "the block body 'K' " + crypto::ShortHex(*hash, 16) +
                                    " belongs to no committed block and no log record"};
          return false;
        }
        return true;
      });
  if (!bodies.ok())
    return Fail(AuditCheck::kRead, std::nullopt, "scanning the block bodies: " + bodies.message());
  if (orphan) return Fail(std::move(*orphan));
  return true;
}

bool Auditor::CheckLayout() {
  // The gaps between the store's prefixes: B C H I K M P Q R S T U V (ledger/chain_store.h;
  // 'I' only while an import is in progress, which the audit refuses before it gets here; 'V'
  // the node's set history, node/set_history.h, which only serves peers and vouches for
  // nothing the audit checks).
  static const std::pair<uint8_t, uint8_t> kGaps[] = {{0x00, 'B'}, {'D', 'H'}, {'I', 'K'},
                                                      {'L', 'M'},  {'N', 'P'}, {'W', 0xff}};
  for (const auto& [from, to] : kGaps) {
    std::optional<std::string> stray;
    const uint8_t start[] = {from};
    const uint8_t end[] = {to};
    // The last gap runs to the end of the key space, 0xff-prefixed keys included.
    Status scan =
        kv_->Scan(start, to == 0xff ? ByteView() : ByteView(end), [&](ByteView k, ByteView v) {
          stray = "a key outside the store's layout: " + Printable(k) + " (" +
                  std::to_string(v.size()) + " bytes)";
          return false;
        });
    if (!scan.ok())
      return Fail(AuditCheck::kRead, std::nullopt, "scanning the store: " + scan.message());
    if (stray) return Fail(AuditCheck::kMetadata, std::nullopt, *stray);
  }
  return true;
}

}  // namespace cairn::audit::internal
