// cairn snapshot export|import: offline copies of a chain's state for backup and restore
// (docs/CLI.md "cairn snapshot", docs/OPERATIONS.md "Backup and restore").
//   export: a stopped node's data dir (or a copy) -> one file: the state at a height as the
//           snapshot manifest and chunks of docs/PROTOCOL.md section 10, that header with its
//           certificate, and every header below it (cli/snapshot_file.h).
//   import: the file -> a new data dir that cairnd opens and block-syncs from, after proving
//           everything in it from the genesis file: the headers hash-linked from genesis to
//           h (BFT certificates where the set is the genesis set), header h against
//           --trust-hash, the manifest against header h, every chunk against the manifest.
//           It writes into NEW.importing and renames it to NEW only when complete, so a
//           refused file leaves nothing behind and a killed import resumes when re-run.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "audit/header_trust.h"
#include "base/codec.h"
#include "cli/common.h"
#include "cli/snapshot_file.h"
#include "crypto/hex.h"
#include "genesis/genesis.h"
#include "ledger/chain_store.h"
#include "ledger/kv.h"
#include "ledger/snapshot.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Headers written per ChainStore::PutHeadersBelow batch (one synced write each).
constexpr size_t kHeaderBatch = 1000;

struct ExportOptions {
  std::string data_dir;
  std::string height;  // empty: the head
  std::string out;
};

struct ImportOptions {
  std::string file;
  std::string data_dir;
  std::string genesis_file;
  std::string trust_hash;
};

// A progress line on stderr at most every 2 s (and the last one always), newline-terminated
// so that logs and pipes get whole lines.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  template <typename F>
  void Maybe(F line, bool last = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!last && now < next_) return;
    next_ = now + std::chrono::seconds(2);
    std::fprintf(stderr, "%s\n", line().c_str());
    std::fflush(stderr);
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  bool enabled_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point next_ = start_ + std::chrono::seconds(2);
};

std::string Mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / 1e6);
  return buf;
}

Bytes MetaKey(std::string_view name) {
  Bytes k(1 + name.size());
  k[0] = 'M';
  std::copy(name.begin(), name.end(), k.begin() + 1);
  return k;
}

// The header of `height` as the store keeps it: from its block, or its header-only record
// ('P', once the body is pruned or on a state-synced node). nullopt: not kept.
Result<std::optional<ledger::BlockHeader>> KeptHeader(const ledger::KvStore& kv, uint64_t h) {
  using Out = std::optional<ledger::BlockHeader>;
  auto block = ledger::ChainStore::BlockBytesAt(kv, h);
  if (!block.ok()) return block.status();
  if (block.value()) {
    auto b = ledger::Block::Decode(**block);
    if (!b.ok()) return Status::Error("block " + std::to_string(h) + ": " + b.error());
    return Out(std::move(b->header));
  }
  auto p = kv.Get(ledger::ChainStore::PrunedHeaderKey(h));
  if (!p.ok()) return p.status();
  if (!p.value()) return Out();
  auto hd = ledger::BlockHeader::Decode(**p);
  if (!hd.ok()) return Status::Error("header " + std::to_string(h) + ": " + hd.error());
  return Out(std::move(hd.value()));
}

Result<std::optional<uint64_t>> U64Record(const ledger::KvStore& kv, std::string_view name) {
  auto got = kv.Get(MetaKey(name));
  if (!got.ok()) return got.status();
  if (!got.value()) return std::optional<uint64_t>();
  codec::Reader r(**got, "'M' \"" + std::string(name) + "\"");
  uint64_t v = 0;
  r.U64(&v, "value");
  if (Status s = r.Finish(); !s.ok()) return s;
  return std::optional<uint64_t>(v);
}

// The state after block `h` as a frozen copy of 'S' rows: the stored state with the undo
// records of head..h+1 applied. Holds the whole state in memory (an offline tool's choice:
// the node's own snapshots under D/snapshots/ avoid it).
Result<std::unique_ptr<ledger::KvSnapshot>> StateAt(const ledger::KvStore& kv, uint64_t h,
                                                    uint64_t head) {
  std::map<Bytes, Bytes> rows;
  const uint8_t s_begin[] = {'S'};
  const uint8_t s_end[] = {'S' + 1};
  Status scan = kv.Scan(s_begin, s_end, [&](ByteView k, ByteView v) {
    rows.emplace_hint(rows.end(), Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  if (!scan.ok()) return scan;
  for (uint64_t u = head; u > h; --u) {
    auto got = kv.Get(ledger::ChainStore::UndoKey(u));
    if (!got.ok()) return got.status();
    if (!got.value())
      return Status::Error("the undo record of height " + std::to_string(u) + " is missing");
    auto undo = ledger::ChainStore::DecodeUndo(**got);
    if (!undo.ok()) return Status::Error("undo record " + std::to_string(u) + ": " + undo.error());
    for (const auto& [key, value] : *undo) {
      Bytes sk(1 + key.size());
      sk[0] = 'S';
      std::copy(key.begin(), key.end(), sk.begin() + 1);
      if (value) {
        rows[sk] = *value;
      } else {
        rows.erase(sk);
      }
    }
  }
  std::vector<std::pair<Bytes, Bytes>> sorted;
  sorted.reserve(rows.size());
  for (auto& [k, v] : rows) sorted.emplace_back(k, std::move(v));
  return ledger::MakeCopiedSnapshot(std::move(sorted));
}

Result<Bytes> ReadWholeFile(const fs::path& p, size_t max) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) return Status::Error(p.string() + ": " + ec.message());
  if (size > max) return Status::Error(p.string() + ": larger than " + std::to_string(max));
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return Status::Error(p.string() + ": cannot open");
  Bytes b(size);
  const size_t n = size ? std::fread(b.data(), 1, size, f) : 0;
  std::fclose(f);
  if (n != size) return Status::Error(p.string() + ": short read");
  return b;
}

// ---- export ----

Status RunExport(const GlobalOptions& g, const ExportOptions& o) {
  Progress progress(true);
  auto opened = ledger::OpenLevelDb(o.data_dir, /*create=*/false);
  if (!opened.ok()) {
    std::string why = "--data-dir " + o.data_dir + ": " + opened.error();
    if (opened.code() == StatusCode::kLocked) why += "; stop the node, or export a copy of it";
    return Status::Error(why);
  }
  const ledger::KvStore& kv = **opened;
  auto import = kv.Get(MetaKey("import"));
  if (!import.ok()) return import.status();
  if (import.value()) {
    return Status::Error("a snapshot import (state sync) is in progress in " + o.data_dir +
                         ": there is no chain to export yet");
  }
  auto head_rec = kv.Get(MetaKey("head"));
  if (!head_rec.ok()) return head_rec.status();
  if (!head_rec.value()) return Status::Error(o.data_dir + " holds no chain (no head record)");
  codec::Reader hr(**head_rec, "head record");
  uint64_t head = 0;
  crypto::Hash256 head_hash, head_root;
  hr.U64(&head, "height");
  hr.Fixed(&head_hash, "hash");
  hr.Fixed(&head_root, "state_root");
  if (Status s = hr.Finish(); !s.ok()) return s;
  const uint64_t h = o.height.empty() ? head : U64Of(o.height);
  if (h == 0 || h > head) {
    return Status::Error("--height " + std::to_string(h) + ": the chain's heights are 1.." +
                         std::to_string(head));
  }
  auto header = KeptHeader(kv, h);
  if (!header.ok()) return header.status();
  if (!header.value()) return Status::Error("header " + std::to_string(h) + " is not kept");
  if (h == head && header.value()->Hash() != head_hash) {
    return Status::Error("the head record and header " + std::to_string(h) +
                         " disagree; run `cairn audit` on this dir");
  }
  auto headers_from = U64Record(kv, "headers_from");
  if (!headers_from.ok()) return headers_from.status();
  if (headers_from.value() && **headers_from > 1) {
    return Status::Error("headers below " + std::to_string(**headers_from) +
                         " are not kept yet (this node's header backfill after its state sync "
                         "has not finished): an export must link height " +
                         std::to_string(h) + " to genesis; let cairnd finish the backfill");
  }
  auto cert = kv.Get(ledger::ChainStore::CertificateKey(h));
  if (!cert.ok()) return cert.status();

  // Where the state at h comes from: the store itself at the head, the node's own snapshot
  // files, or the undo records.
  std::string source;
  std::unique_ptr<ledger::KvSnapshot> rebuilt;
  const fs::path files = fs::path(o.data_dir) / "snapshots" / std::to_string(h);
  Bytes manifest_bytes;
  std::map<uint32_t, Bytes> file_chunks;  // from the node's files only
  const bool from_files = h != head && fs::is_directory(files);
  if (from_files) {
    source = "the node's snapshot files in " + files.string();
    auto m = ReadWholeFile(files / "manifest", ledger::kMaxManifestBytes);
    if (!m.ok()) return m.status();
    manifest_bytes = std::move(m.value());
  } else if (h != head) {
    auto undo_from = U64Record(kv, "undo_from");
    if (!undo_from.ok()) return undo_from.status();
    const uint64_t floor = undo_from.value().value_or(head);
    if (h < floor) {
      return Status::Error("height " + std::to_string(h) + ": no snapshot files in " +
                           files.string() + ", and the undo records reach down to " +
                           std::to_string(floor) +
                           " only (state_tree.retain_heights); export the head, or a height in " +
                           std::to_string(floor) + ".." + std::to_string(head));
    }
    std::fprintf(stderr, "snapshot export: rebuilding the state at %llu from %llu undo records\n",
                 static_cast<unsigned long long>(h), static_cast<unsigned long long>(head - h));
    auto state = StateAt(kv, h, head);
    if (!state.ok()) return state.status();
    rebuilt = std::move(state.value());
    source = "the state at the head and " + std::to_string(head - h) + " undo records";
  } else {
    source = "the stored state at the head";
  }

  auto writer = SnapshotFileWriter::Create(o.out);
  if (!writer.ok()) return writer.status();
  // The chunks go to a side file first: the manifest, which comes before them in the file,
  // is known only once every chunk is built.
  auto side = SnapshotFileWriter::Create(o.out + ".chunks");
  if (!side.ok()) return side.status();
  uint64_t chunk_bytes = 0;
  uint32_t chunks = 0;
  auto on_chunk = [&](uint32_t index, Bytes chunk) -> Status {
    chunks += 1;
    chunk_bytes += chunk.size();
    if (Status s = (*side)->WriteU32(index); !s.ok()) return s;
    if (Status s = (*side)->WriteBytes(chunk); !s.ok()) return s;
    progress.Maybe([&] {
      return "snapshot export: " + std::to_string(chunks) + " chunks, " + Mb(chunk_bytes) + " MB";
    });
    return Status::Ok();
  };
  ledger::Manifest manifest;
  if (from_files) {
    auto m = ledger::Manifest::Decode(manifest_bytes);
    if (!m.ok()) return Status::Error(files.string() + "/manifest: " + m.error());
    if (Status s = ledger::VerifyManifest(*m, **header); !s.ok()) {
      return Status::Error(files.string() + "/manifest: " + s.message());
    }
    manifest = std::move(m.value());
    for (uint32_t i = 0; i < manifest.slots.size(); ++i) {
      if (manifest.slots[i].count == 0) continue;
      const fs::path p = files / ("chunk-" + std::to_string(i));
      auto c = ReadWholeFile(p, ledger::kMaxChunkBytes);
      if (!c.ok()) return c.status();
      if (auto v = ledger::VerifyChunk(manifest, i, *c); !v.ok()) {
        return Status::Error(p.string() + ": " + v.error());
      }
      if (Status s = on_chunk(i, std::move(c.value())); !s.ok()) return s;
    }
  } else {
    const ledger::KvReader& state = rebuilt ? static_cast<const ledger::KvReader&>(*rebuilt) : kv;
    Status built =
        ledger::BuildSnapshot(state, h, header.value()->state_root, on_chunk, &manifest_bytes);
    if (!built.ok())
      return Status::Error("building the snapshot at " + std::to_string(h) + ": " +
                           built.message());
    auto m = ledger::Manifest::Decode(manifest_bytes);
    if (!m.ok()) return Status::Error("the built manifest does not decode: " + m.error());
    manifest = std::move(m.value());
  }
  if (Status s = (*side)->Finish(); !s.ok()) return s;

  SnapshotFileWriter& w = **writer;
  Status s = w.Write(AsBytes(std::string_view(kSnapshotFileMagic, kSnapshotMagicBytes)));
  if (s.ok()) s = w.WriteU64(h);
  if (s.ok()) s = w.WriteBytes(header.value()->Encode());
  if (s.ok()) s = w.WriteBytes(cert.value() ? ByteView(**cert) : ByteView());
  if (s.ok()) s = w.WriteBytes(manifest_bytes);
  if (s.ok()) s = w.WriteU32(chunks);
  if (!s.ok()) return s;
  {
    std::FILE* in = std::fopen((o.out + ".chunks").c_str(), "rb");
    if (!in) return Status::Error(o.out + ".chunks: cannot reopen");
    std::vector<uint8_t> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
      if (s = w.Write(ByteView(buf.data(), n)); !s.ok()) break;
    }
    std::fclose(in);
    ::unlink((o.out + ".chunks").c_str());
    if (!s.ok()) return s;
  }
  if (s = w.WriteU64(h - 1); !s.ok()) return s;
  // Headers from h-1 down to 1, each linked to the one above: refuse to write a file that
  // the import would refuse.
  crypto::Hash256 expect = header.value()->prev_hash;
  for (uint64_t i = h - 1; i >= 1; --i) {
    auto hd = KeptHeader(kv, i);
    if (!hd.ok()) return hd.status();
    if (!hd.value()) return Status::Error("header " + std::to_string(i) + " is not kept");
    if (hd.value()->Hash() != expect) {
      return Status::Error("header " + std::to_string(i) + " is not the parent of header " +
                           std::to_string(i + 1) + "; run `cairn audit` on this dir");
    }
    expect = hd.value()->prev_hash;
    auto c = kv.Get(ledger::ChainStore::CertificateKey(i));
    if (!c.ok()) return c.status();
    if (s = w.WriteBytes(hd.value()->Encode()); !s.ok()) return s;
    if (s = w.WriteBytes(c.value() ? ByteView(**c) : ByteView()); !s.ok()) return s;
    progress.Maybe([&] {
      return "snapshot export: headers " + std::to_string(h - i) + "/" + std::to_string(h - 1);
    });
  }
  if (s = w.Finish(); !s.ok()) return s;

  const double secs = progress.seconds();
  const crypto::Hash256 hash = header.value()->Hash();
  if (g.json) {
    PrintJson(Json{{"file", o.out},
                   {"height", h},
                   {"hash", hash.ToHex()},
                   {"state_root", header.value()->state_root.ToHex()},
                   {"chunks", chunks},
                   {"entries", manifest.entries},
                   {"state_bytes", manifest.bytes},
                   {"headers", h - 1},
                   {"file_bytes", w.written()},
                   {"source", source},
                   {"seconds", secs}});
  } else {
    Print(RenderFields(
        {{"exported", o.out},
         {"height", std::to_string(h)},
         {"block hash", hash.ToHex()},
         {"state root", header.value()->state_root.ToHex()},
         {"state", std::to_string(manifest.entries) + " entries, " + std::to_string(chunks) +
                       " chunks, " + FormatBytes(manifest.bytes)},
         {"headers", "1.." + std::to_string(h - 1) + " (with their certificates, if any)"},
         {"file size", FormatBytes(w.written())},
         {"state from", source},
         {"time taken", FormatDuration(static_cast<uint64_t>(secs * 1000))}}));
  }
  return Status::Ok();
}

// ---- import ----

// Every check on the file that needs no data dir: the headers from h-1 down to 1 each the
// parent of the one above and header 1 the child of genesis, BFT certificates where the set is
// the genesis set, the trusted hash, the manifest against header h.
struct HeaderCheck {
  uint64_t certified = 0;
  uint64_t uncertified = 0;
};

Result<HeaderCheck> CheckFileHeaders(SnapshotFileReader& r, const audit::HeaderTrust& trust,
                                     Progress& progress) {
  HeaderCheck out;
  const bool bft = trust.certified();
  auto certify = [&](const ledger::BlockHeader& hd, ByteView cert) -> Status {
    if (!bft) return Status::Ok();
    if (trust.NeedsSet(hd)) {
      out.uncertified += 1;
      return Status::Ok();
    }
    auto c = trust.CheckCertified(hd, cert);
    if (!c.ok()) return c.status();
    out.certified += 1;
    return Status::Ok();
  };
  const ledger::BlockHeader& top = r.header();
  if (top.chain_id != trust.genesis().chain_id) {
    return Status::Error("the file's header is of chain \"" + top.chain_id +
                         "\", not the genesis file's \"" + trust.genesis().chain_id + "\"");
  }
  if (Status s = certify(top, r.certificate()); !s.ok()) return s;
  if (Status s = r.SkipChunksToHeaders(); !s.ok()) return s;
  ledger::BlockHeader above = top;
  for (;;) {
    auto next = r.NextHeader();
    if (!next.ok()) return next.status();
    if (!next.value()) break;
    const ledger::BlockHeader& hd = next.value()->first;
    const uint64_t want = above.height - 1;
    const std::string name = "header " + std::to_string(want);
    if (hd.height != want) {
      return Status::Error(name + ": the file holds a header of height " +
                           std::to_string(hd.height) + " there");
    }
    if (hd.Hash() != above.prev_hash) {
      return Status::Error(name + ": hashes to " + crypto::ShortHex(hd.Hash(), 16) +
                           ", not the prev_hash " + crypto::ShortHex(above.prev_hash, 16) +
                           " of header " + std::to_string(above.height) +
                           " (the header chain is broken: the file is damaged)");
    }
    if (hd.chain_id != top.chain_id || hd.timestamp_ms > above.timestamp_ms ||
        hd.next_validators_hash != above.validators_hash) {
      return Status::Error(name +
                           ": its chain id, timestamp or next_validators_hash does not "
                           "lead to header " +
                           std::to_string(above.height));
    }
    if (Status s = certify(hd, next.value()->second); !s.ok()) return s;
    above = next.value()->first;
    progress.Maybe(
        [&] { return "snapshot import: headers checked down to " + std::to_string(above.height); });
  }
  if (above.prev_hash != trust.genesis_hash()) {
    return Status::Error("header 1: its prev_hash " + crypto::ShortHex(above.prev_hash, 16) +
                         " is not the genesis file's hash " +
                         crypto::ShortHex(trust.genesis_hash(), 16) +
                         " (the file is of another chain, or damaged)");
  }
  return out;
}

Status RunImport(const GlobalOptions& g, const ImportOptions& o) {
  Progress progress(true);
  auto genesis = genesis::Genesis::Load(o.genesis_file);
  if (!genesis.ok()) return Status::Error("--genesis " + o.genesis_file + ": " + genesis.error());
  std::optional<crypto::Hash256> trusted;
  if (!o.trust_hash.empty()) {
    trusted = crypto::Hash256::FromHex(o.trust_hash);
    if (!trusted) return Status::Error("--trust-hash: not a 64-digit hex hash");
  }
  const fs::path dest(o.data_dir);
  const fs::path work = dest.string() + ".importing";
  std::error_code ec;
  if (fs::exists(dest, ec) && !fs::is_empty(dest, ec)) {
    return Status::Error("--data-dir " + o.data_dir +
                         " exists and is not empty: import into a new directory");
  }

  auto reader = SnapshotFileReader::Open(o.file);
  if (!reader.ok()) return Status::Error(o.file + ": refused: " + reader.error());
  SnapshotFileReader& r = **reader;
  const uint64_t h = r.height();
  const crypto::Hash256 hash = r.header().Hash();

  audit::HeaderTrust trust(genesis.value());
  auto headers = CheckFileHeaders(r, trust, progress);
  if (!headers.ok()) return Status::Error(o.file + ": refused: " + headers.error());
  if (trusted && *trusted != hash) {
    return Status::Error(o.file + ": refused: header " + std::to_string(h) + " hashes to " +
                         hash.ToHex() + ", not --trust-hash " + trusted->ToHex());
  }
  if (Status s = ledger::VerifyManifest(r.manifest(), r.header()); !s.ok()) {
    return Status::Error(o.file + ": refused: " + s.message());
  }
  if (!trusted) {
    std::fprintf(stderr,
                 "snapshot import: trusting header %llu, hash %s, linked by hash to the genesis "
                 "file%s. Compare this hash with a running node's (`cairn block %llu`), or pass "
                 "--trust-hash.\n",
                 static_cast<unsigned long long>(h), hash.ToHex().c_str(),
                 trust.certified() && headers->uncertified == 0
                     ? " and certified by the genesis validators"
                     : "",
                 static_cast<unsigned long long>(h));
  }

  // Into NEW.importing: a refused chunk removes it; a killed import leaves it to resume.
  const bool resuming = fs::exists(work, ec);
  auto kv = ledger::OpenLevelDb(work.string(), /*create=*/true);
  if (!kv.ok()) return Status::Error(work.string() + ": " + kv.error());
  auto begun = ledger::SnapshotImport::Begin(std::move(kv.value()), genesis->Block0(),
                                             r.manifest_bytes(), r.header(), r.certificate());
  if (!begun.ok()) {
    if (!resuming) fs::remove_all(work, ec);  // Begin closed the store it was given
    return Status::Error(work.string() + ": " + begun.error() +
                         (resuming ? " (an earlier import left this directory; remove it to "
                                     "start over)"
                                   : ""));
  }
  std::unique_ptr<ledger::SnapshotImport> import = std::move(begun.value());
  std::unique_ptr<ledger::ChainStore> chain;  // after Finish
  auto abandon = [&](Status why) {
    import.reset();  // each closes LevelDB before its directory goes
    chain.reset();
    fs::remove_all(work, ec);
    return Status::Error(o.file + ": refused: " + why.message() + " (nothing was kept)");
  };
  const std::vector<uint32_t> missing = import->Missing();
  std::vector<bool> want(r.manifest().slots.size(), false);
  for (uint32_t i : missing) want[i] = true;
  if (resuming) {
    std::fprintf(stderr, "snapshot import: resuming in %s: %zu of %u chunks still to write\n",
                 work.c_str(), missing.size(), r.chunk_count());
  }
  if (Status s = r.RewindToChunks(); !s.ok()) return abandon(s);
  uint64_t done_bytes = 0;
  uint32_t done = 0;
  const uint64_t total_bytes = r.manifest().bytes;
  for (;;) {
    auto chunk = r.NextChunk();
    if (!chunk.ok()) return abandon(chunk.status());
    if (!chunk.value()) break;
    auto& [index, bytes] = *chunk.value();
    if (want[index]) {
      if (Status s = import->AddChunk(index, bytes); !s.ok()) return abandon(s);
    }
    done += 1;
    done_bytes += bytes.size();
    progress.Maybe([&] {
      const double secs = std::max(0.001, progress.seconds());
      const double rate = static_cast<double>(done_bytes) / secs;
      const double eta = rate > 0 ? static_cast<double>(total_bytes - done_bytes) / rate : 0;
      char buf[160];
      std::snprintf(
          buf, sizeof buf, "snapshot import: %u/%u chunks, %s/%s MB, %.1f MB/s, ETA %.0f s", done,
          r.chunk_count(), Mb(done_bytes).c_str(), Mb(total_bytes).c_str(), rate / 1e6, eta);
      return std::string(buf);
    });
  }
  auto finished = import->Finish();
  if (!finished.ok()) return abandon(finished.status());
  chain = std::move(finished.value());
  import.reset();
  // The headers below h, in batches, as the store's backfill takes them (descending).
  if (Status s = r.RewindToHeaders(); !s.ok()) return abandon(s);
  std::vector<std::pair<ledger::BlockHeader, Bytes>> batch;
  uint64_t written = 0;
  for (;;) {
    auto next = r.NextHeader();
    if (!next.ok()) return abandon(next.status());
    if (next.value()) batch.push_back(std::move(*next.value()));
    if (batch.size() == kHeaderBatch || (!next.value() && !batch.empty())) {
      if (Status s = chain->PutHeadersBelow(batch); !s.ok()) return abandon(s);
      written += batch.size();
      batch.clear();
      progress.Maybe([&] {
        return "snapshot import: headers " + std::to_string(written) + "/" + std::to_string(h - 1) +
               " written";
      });
    }
    if (!next.value()) break;
  }
  chain.reset();                                   // closes LevelDB before the rename
  if (fs::exists(dest, ec)) fs::remove(dest, ec);  // empty (checked above)
  fs::rename(work, dest, ec);
  if (ec)
    return Status::Error("renaming " + work.string() + " to " + o.data_dir + ": " + ec.message());
  const double secs = progress.seconds();
  if (g.json) {
    PrintJson(Json{{"data_dir", o.data_dir},
                   {"height", h},
                   {"hash", hash.ToHex()},
                   {"trusted_by", trusted ? "trust_hash" : "genesis_links"},
                   {"state_root", r.header().state_root.ToHex()},
                   {"chunks", r.chunk_count()},
                   {"entries", r.manifest().entries},
                   {"headers", h - 1},
                   {"certificates_verified", headers->certified},
                   {"certificates_unchecked", headers->uncertified},
                   {"seconds", secs}});
  } else {
    std::vector<std::pair<std::string, std::string>> f = {
        {"imported", o.file + " -> " + o.data_dir},
        {"height", std::to_string(h)},
        {"block hash", hash.ToHex() + (trusted ? " (equals --trust-hash)"
                                               : " (compare it with a running node's)")},
        {"state root", r.header().state_root.ToHex() + " (the manifest and " +
                           std::to_string(r.chunk_count()) + " chunks prove it)"},
        {"headers", "1.." + std::to_string(h) + " linked by hash from the genesis file"}};
    if (trust.certified()) {
      f.emplace_back("certificates",
                     std::to_string(headers->certified) + " verified (genesis validators)" +
                         (headers->uncertified ? ", " + std::to_string(headers->uncertified) +
                                                     " of other sets not checked"
                                               : ""));
    }
    f.emplace_back("time taken", FormatDuration(static_cast<uint64_t>(secs * 1000)));
    f.emplace_back("next", "start cairnd on it (it block-syncs from " + std::to_string(h) +
                               "), or check it: cairn audit --data-dir " + o.data_dir +
                               " --genesis " + o.genesis_file);
    Print(RenderFields(f));
  }
  return Status::Ok();
}

}  // namespace

void AddSnapshotCommands(CLI::App& app, const GlobalOptions& g, Action* action) {
  CLI::App* snap = app.add_subcommand(
      "snapshot", "offline copies of a chain's state for backup and restore (export, import)");
  snap->require_subcommand(1);

  auto e = std::make_shared<ExportOptions>();
  CLI::App* ex = snap->add_subcommand(
      "export",
      "write the state at a height, its header and every header below it to one file, from a "
      "stopped node's data dir (or a copy)");
  ex->add_option("--data-dir", e->data_dir, "the node's LevelDB directory (HOME/data)")
      ->required()
      ->type_name("DIR");
  ex->add_option("--height", e->height,
                 "the height to export (default: the head); below the head it uses "
                 "DIR/snapshots/H when the node made one, else the undo records")
      ->check(U64Validator())
      ->type_name("H");
  ex->add_option("--out", e->out, "the file to write (refuses to overwrite)")
      ->required()
      ->type_name("FILE");
  ex->callback([&g, e, action] { *action = [&g, e] { return RunExport(g, *e); }; });

  auto i = std::make_shared<ImportOptions>();
  CLI::App* im = snap->add_subcommand(
      "import", "verify a snapshot file against the genesis file and write a new data dir from it");
  im->add_option("file", i->file, "the snapshot file")->required()->type_name("FILE");
  im->add_option("--data-dir", i->data_dir, "the new data dir (must not exist, or be empty)")
      ->required()
      ->type_name("NEW");
  im->add_option("--genesis", i->genesis_file, "the chain's genesis file")
      ->required()
      ->type_name("FILE");
  im->add_option("--trust-hash", i->trust_hash,
                 "the block hash of the snapshot's height as a node you trust reports it; "
                 "without it the hash is printed for you to compare")
      ->check(HashValidator())
      ->type_name("HEX");
  im->footer(
      "Exit status: 0 when the file checks out and the data dir is written; 1 when a part of "
      "the file is refused (named on stderr; nothing is left behind).");
  im->callback([&g, i, action] { *action = [&g, i] { return RunImport(g, *i); }; });
}

}  // namespace cairn::cli
