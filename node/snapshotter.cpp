// A snapshot on disk (docs/design/state-sync.md section 3):
//   <dir>/<h>/manifest      Manifest (ledger/snapshot.h)
//   <dir>/<h>/header        BlockHeader encoding of block h
//   <dir>/<h>/certificate   its certificate (empty file: none, Raft and solo)
//   <dir>/<h>/chunk-<i>     Chunk i, for each slot with entries
// written into <dir>/<h>.tmp, each file fsynced, then renamed: a directory named by a bare
// height is complete. Served from these files only, never from the live store.
#include "node/snapshotter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "base/file.h"
#include "node/logging.h"
#include "node/metrics.h"

namespace cairn::node {
namespace fs = std::filesystem;
namespace {

Status WriteSynced(const std::string& path, ByteView data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(path + ": cannot create");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Status::IoError(path + ": write failed");
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced) return Status::IoError(path + ": fsync failed");
  return Status::Ok();
}

Status SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path + ": cannot open directory");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  return synced ? Status::Ok() : Status::IoError(path + ": fsync failed");
}

std::optional<uint64_t> HeightOfName(std::string_view name) {
  uint64_t h = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), h);
  if (ec != std::errc() || end != name.data() + name.size() || name.empty()) return std::nullopt;
  return h;
}

wire::SnapshotOffer OfferOf(const ledger::Manifest& m) {
  wire::SnapshotOffer o;
  o.height = m.height;
  o.manifest_hash = m.Hash();
  o.bits = m.bits;
  o.bytes = m.bytes;
  o.chunks = static_cast<uint32_t>(
      std::count_if(m.slots.begin(), m.slots.end(), [](const auto& s) { return s.count > 0; }));
  return o;
}

Result<Bytes> ReadPart(const std::string& path, size_t max) {
  auto f = ReadRegularFile(path, max);
  if (!f.ok()) return f.status();
  return Bytes(f->data.begin(), f->data.end());
}

}  // namespace

Snapshotter::Snapshotter(Options options, const ledger::ChainStore& store, const Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {}

std::string Snapshotter::DirOf(uint64_t height) const {
  return options_.dir + "/" + std::to_string(height);
}

Status Snapshotter::Open() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return Status::IoError(options_.dir + ": " + ec.message());
  std::vector<Entry> found;
  for (const fs::directory_entry& d : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = d.path().filename().string();
    if (name.size() > 4 && name.ends_with(".tmp")) {
      // A build a crash interrupted: never complete, never offered.
      fs::remove_all(d.path(), ec);
      Log("node")->info("removed {}, a snapshot left unfinished", d.path().string());
      continue;
    }
    const auto height = HeightOfName(name);
    if (!height) continue;
    auto bytes = ReadPart(d.path().string() + "/manifest", ledger::kMaxManifestBytes);
    auto manifest =
        bytes.ok() ? ledger::Manifest::Decode(*bytes) : Result<ledger::Manifest>(bytes.status());
    if (!manifest.ok() || manifest->height != *height) {
      Log("node")->warn("ignoring {}: {}", d.path().string(),
                        manifest.ok() ? "its manifest is of another height" : manifest.error());
      continue;
    }
    found.push_back(Entry{OfferOf(*manifest), manifest->entries, 0});
  }
  std::sort(found.begin(), found.end(),
            [](const Entry& a, const Entry& b) { return a.offer.height > b.offer.height; });
  {
    MutexLock lock(&mu_);
    entries_ = std::move(found);
  }
  Prune();
  return Status::Ok();
}

void Snapshotter::OnCommitted(const ledger::BlockHeader& header) {
  if (options_.interval == 0 || header.height == 0 || header.height % options_.interval != 0) {
    return;
  }
  if (busy_.exchange(true)) {
    skipped_.fetch_add(1);
    if (metrics_) metrics_->OnSnapshotSkipped();
    Log("node")->warn(
        "snapshot at height {}: skipped, the previous snapshot is still being written",
        header.height);
    return;
  }
  // The loop is the only committer and calls this right after Commit(h): the pin is the state
  // after block h exactly. The certificate was written in the same batch.
  std::shared_ptr<ledger::KvSnapshot> pin = store_.kv().Pin();
  auto cert = store_.CertificateAt(header.height);
  Bytes certificate = cert.ok() && cert->has_value() ? std::move(**cert) : Bytes();
  auto job = [this, height = header.height, header, certificate = std::move(certificate),
              pin = std::move(pin)]() mutable {
    Build(height, std::move(header), std::move(certificate), std::move(pin));
  };
  if (post_) {
    post_(std::move(job));
  } else {
    job();
  }
}

void Snapshotter::Build(uint64_t height, ledger::BlockHeader header, Bytes certificate,
                        std::shared_ptr<ledger::KvSnapshot> pin) {
  const uint64_t start = clock_.SteadyMs();
  const std::string tmp = DirOf(height) + ".tmp";
  Entry entry;
  Status s = BuildInto(tmp, height, header, certificate, *pin, &entry);
  pin.reset();  // let LevelDB drop the versions it held
  std::error_code ec;
  if (s.ok()) {
    fs::remove_all(DirOf(height), ec);
    fs::rename(tmp, DirOf(height), ec);
    if (ec) s = Status::IoError("rename " + tmp + ": " + ec.message());
  }
  if (s.ok()) s = SyncDir(options_.dir);
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    Log("node")->error("snapshot at height {} failed: {}", height, s.message());
    if (metrics_) metrics_->OnSnapshotFailed();
    busy_.store(false);
    return;
  }
  entry.build_ms = clock_.SteadyMs() - start;
  Log("node")->info("snapshot at height {}: {} chunks ({} bits), {} entries, {:.1f} MB in {} ms",
                    height, entry.offer.chunks, entry.offer.bits, entry.entries,
                    entry.offer.bytes / 1e6, entry.build_ms);
  if (metrics_) metrics_->OnSnapshotTaken(height, entry.build_ms / 1000.0);
  {
    MutexLock lock(&mu_);
    entries_.insert(entries_.begin(), entry);
  }
  Prune();
  busy_.store(false);
}

Status Snapshotter::BuildInto(const std::string& tmp, uint64_t height,
                              const ledger::BlockHeader& header, ByteView certificate,
                              const ledger::KvSnapshot& pin, Entry* entry) {
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::IoError(tmp + ": " + ec.message());
  Bytes manifest_bytes;
  ledger::SnapshotBuildOptions opts;
  opts.target_chunk_bytes = options_.target_chunk_bytes;
  Status s = ledger::BuildSnapshot(
      pin, height, header.state_root,
      [&tmp](uint32_t index, Bytes chunk) {
        return WriteSynced(tmp + "/chunk-" + std::to_string(index), chunk);
      },
      &manifest_bytes, opts);
  if (!s.ok()) return s;
  auto manifest = ledger::Manifest::Decode(manifest_bytes);
  if (!manifest.ok()) return manifest.status().Wrap("the manifest just built");
  if (s = WriteSynced(tmp + "/header", header.Encode()); !s.ok()) return s;
  if (s = WriteSynced(tmp + "/certificate", certificate); !s.ok()) return s;
  // The manifest last: its presence is what Open trusts.
  if (s = WriteSynced(tmp + "/manifest", manifest_bytes); !s.ok()) return s;
  if (s = SyncDir(tmp); !s.ok()) return s;
  entry->offer = OfferOf(*manifest);
  entry->entries = manifest->entries;
  return Status::Ok();
}

void Snapshotter::Prune() {
  std::vector<uint64_t> gone;
  {
    MutexLock lock(&mu_);
    while (entries_.size() > options_.keep) {
      gone.push_back(entries_.back().offer.height);
      entries_.pop_back();
    }
  }
  for (uint64_t h : gone) {
    std::error_code ec;
    fs::remove_all(DirOf(h), ec);
  }
}

std::vector<Snapshotter::Entry> Snapshotter::List() const {
  MutexLock lock(&mu_);
  return entries_;
}

bool Snapshotter::Spend(const p2p::NodeId& from, size_t bytes, bool part) {
  const uint64_t now = clock_.SteadyMs();
  MutexLock lock(&mu_);
  // Only allowlisted peers reach here; the cap keeps a churn of ids from growing the map.
  if (budgets_.size() > 1024 && !budgets_.count(from)) budgets_.clear();
  PeerBudget& b = budgets_[from];
  if (!b.parts) {
    b.parts = std::make_unique<RateLimiter>(
        options_.serve_parts_per_sec, std::max<uint64_t>(4, options_.serve_parts_per_sec), &clock_);
    b.bytes_milli = static_cast<int64_t>(options_.serve_bytes_per_sec) * 1000;
    b.last_ms = now;
  }
  const int64_t cap = static_cast<int64_t>(options_.serve_bytes_per_sec) * 1000;
  b.bytes_milli = std::min<int64_t>(
      cap, b.bytes_milli + static_cast<int64_t>((now - b.last_ms) * options_.serve_bytes_per_sec));
  b.last_ms = now;
  if (b.bytes_milli <= 0) return false;
  if (part && !b.parts->Allow()) return false;
  b.bytes_milli -= static_cast<int64_t>(bytes) * 1000;
  return true;
}

uint32_t Snapshotter::RetryAfterMs(const p2p::NodeId& from) const {
  MutexLock lock(&mu_);
  auto it = budgets_.find(from);
  uint64_t wait = 1000 / std::max<uint64_t>(1, options_.serve_parts_per_sec) + 1;
  if (it != budgets_.end() && it->second.bytes_milli <= 0) {
    // The byte bucket refills serve_bytes_per_sec milli-bytes a millisecond.
    wait = std::max<uint64_t>(wait, static_cast<uint64_t>(-it->second.bytes_milli) /
                                            std::max<uint64_t>(1, options_.serve_bytes_per_sec) +
                                        1);
  }
  return static_cast<uint32_t>(std::min<uint64_t>(wire::kMaxRetryAfterMs, wait));
}

void Snapshotter::Drop(const p2p::NodeId& from, const char* what) {
  dropped_.fetch_add(1);
  if (metrics_) metrics_->OnSnapshotRequestDropped();
  uint64_t suppressed = 0;
  if (drop_log_.Allow(&suppressed)) {
    Log("node")->info(
        "peer {} asks for {} faster than snapshot.serve_*_per_sec: dropped ({} "
        "similar suppressed)",
        crypto::ShortHex(from), what, suppressed);
  }
}

void Snapshotter::Serve(Network& net, const p2p::NodeId& from, p2p::MessageType type,
                        ByteView payload) {
  if (!net.IsConnected(from)) return;  // gone while the request waited in the queue
  switch (type) {
    case wire::kGetSnapshots:
      if (Status s = wire::DecodeGetSnapshots(payload); !s.ok()) {
        net.Disconnect(from, "malformed snapshot request: " + s.message());
        return;
      }
      ServeList(net, from);
      return;
    case wire::kGetSnapshotPart: {
      auto ref = wire::DecodeGetSnapshotPart(payload);
      if (!ref.ok()) {
        net.Disconnect(from, "malformed snapshot part request: " + ref.error());
        return;
      }
      ServePart(net, from, *ref);
      return;
    }
    case wire::kGetHeaders: {
      auto req = wire::DecodeGetHeaders(payload);
      if (!req.ok()) {
        net.Disconnect(from, "malformed header request: " + req.error());
        return;
      }
      ServeHeaders(net, from, *req);
      return;
    }
    case wire::kGetValidators: {
      auto height = wire::DecodeGetValidators(payload);
      if (!height.ok()) {
        net.Disconnect(from, "malformed validators request: " + height.error());
        return;
      }
      ServeValidators(net, from, *height);
      return;
    }
    default:
      return;
  }
}

void Snapshotter::ServeList(Network& net, const p2p::NodeId& from) {
  if (!Spend(from, 64, /*part=*/false)) return Drop(from, "snapshot lists");
  std::vector<wire::SnapshotOffer> offers;
  for (const Entry& e : List()) offers.push_back(e.offer);
  (void)net.Send(from, wire::kSnapshots, wire::EncodeSnapshots(offers));
}

void Snapshotter::ServePart(Network& net, const p2p::NodeId& from, const wire::PartRef& ref) {
  bool offered = false;
  for (const Entry& e : List()) {
    offered =
        offered || (e.offer.height == ref.height && e.offer.manifest_hash == ref.manifest_hash);
  }
  // The budget is checked before the disk is read: a peer over it costs nothing but a short
  // "busy" answer saying when to ask again (a dropped request would cost it a part timeout).
  if (!Spend(from, offered ? 1 : 0, /*part=*/true)) {
    Drop(from, "snapshot parts");
    (void)net.Send(from, wire::kSnapshotPart, wire::EncodeSnapshotBusy(ref, RetryAfterMs(from)));
    return;
  }
  Result<Bytes> data = Status::NotFound("not offered");
  if (offered) {
    const std::string dir = DirOf(ref.height);
    if (ref.part == wire::kPartManifest) {
      data = ReadPart(dir + "/manifest", ledger::kMaxManifestBytes);
    } else if (ref.part == wire::kPartHeader) {
      auto header = ReadPart(dir + "/header", wire::kMaxHeaderBytes);
      auto cert = ReadPart(dir + "/certificate", wire::kMaxCertificateBytes);
      data = header.ok() && cert.ok() ? Result<Bytes>(wire::EncodeHeaderPart(*header, *cert))
                                      : Result<Bytes>(Status::NotFound("header"));
    } else {
      data = ReadPart(dir + "/chunk-" + std::to_string(ref.part), ledger::kMaxChunkBytes);
    }
  }
  if (data.ok()) {
    // The bytes go on the peer's budget after the fact: a part is served whole.
    (void)Spend(from, data->size(), /*part=*/false);
    (void)net.Send(from, wire::kSnapshotPart, wire::EncodeSnapshotPart(ref, true, *data));
  } else {
    (void)net.Send(from, wire::kSnapshotPart, wire::EncodeSnapshotPart(ref, false, {}));
  }
}

void Snapshotter::ServeHeaders(Network& net, const p2p::NodeId& from, const wire::GetHeaders& req) {
  // Bytes only (a page is at most 4 MiB, read from the store): a joiner's header walk or
  // backfill asks one page at a time, and a dropped page costs it a part timeout.
  // Each request costs at least 4 KiB of the byte budget, answered or not, so a stream of
  // requests for nothing is bounded too.
  if (!Spend(from, 4096, /*part=*/false)) return Drop(from, "headers");
  std::vector<wire::CertifiedBlock> out;
  size_t bytes = 0;
  const uint64_t head = store_.head().height;
  for (uint64_t h = req.from, n = 0; h >= 1 && n < req.count && h <= head; --h, ++n) {
    auto header = store_.HeaderAt(h);
    if (!header.ok() || !header->has_value()) break;
    auto cert = store_.CertificateAt(h);
    if (!cert.ok()) break;
    Bytes enc = (*header)->Encode();
    const size_t size = enc.size() + (cert->has_value() ? (*cert)->size() : 0);
    if (!out.empty() && bytes + size > wire::kMaxHeadersBytes) break;
    bytes += size;
    out.push_back({std::move(enc), cert->has_value() ? std::move(**cert) : Bytes()});
  }
  (void)Spend(from, bytes, /*part=*/false);
  (void)net.Send(from, wire::kHeaders, wire::EncodeHeaders(out));
}

void Snapshotter::ServeValidators(Network& net, const p2p::NodeId& from, uint64_t height) {
  // One part of the budget, as a header page: reading an old set may read the state tree.
  if (!Spend(from, 0, /*part=*/true)) return Drop(from, "validator sets");
  wire::ValidatorsAnswer a{height, false, {}};
  if (validators_of_ && height >= 1 && height <= store_.head().height + 1) {
    for (const ledger::Member& m : validators_of_(height)) {
      a.set.push_back({m.id, m.consensus_key});
    }
    a.found = !a.set.empty() && a.set.size() <= wire::kMaxValidators;
    if (!a.found) a.set.clear();
  }
  (void)Spend(from, a.set.size() * 36, /*part=*/false);
  (void)net.Send(from, wire::kValidators, wire::EncodeValidators(a));
}

}  // namespace cairn::node
