// KvStore on LevelDB. Gets verify block checksums when paranoid_checks is set, so a flipped
// bit on disk surfaces as a "corrupt" error instead of a wrong value; scans read one
// LevelDB snapshot and do not fill the block cache (they are audits, not hot reads).
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <filesystem>
#include <system_error>

#include "ledger/kv.h"

namespace cairn::ledger {
namespace {

namespace fs = std::filesystem;

leveldb::Slice ToSlice(ByteView b) {
  return leveldb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}

ByteView ToView(const leveldb::Slice& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// LevelDB's codes mapped to ours. A held lock is an IOError naming the LOCK file (LevelDB
// gives it no code of its own); this is the one place that reads LevelDB's text for it.
Status FromLevelDb(const leveldb::Status& s, const std::string& what) {
  if (s.IsCorruption()) {
    return Status::Corruption(what + ": data is corrupt (" + s.ToString() + ")");
  }
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(what + ": " + s.ToString());
  if (s.IsIOError() && s.ToString().find("LOCK") != std::string::npos) {
    return Status::Locked(what + ": " + s.ToString() +
                          " (is another process using this directory?)");
  }
  if (s.IsIOError()) return Status::IoError(what + ": " + s.ToString());
  return Status::Error(what + ": " + s.ToString());
}

// Reads of one LevelDB snapshot. Holds the DB by a raw pointer: KvSnapshot's contract is
// that it is destroyed before its store.
class LevelDbSnapshot final : public KvSnapshot {
 public:
  LevelDbSnapshot(leveldb::DB* db, std::string path, bool verify_checksums)
      : db_(db),
        snapshot_(db->GetSnapshot()),
        path_(std::move(path)),
        verify_checksums_(verify_checksums) {}
  ~LevelDbSnapshot() override { db_->ReleaseSnapshot(snapshot_); }
  LevelDbSnapshot(const LevelDbSnapshot&) = delete;
  LevelDbSnapshot& operator=(const LevelDbSnapshot&) = delete;

  Result<std::optional<Bytes>> Get(ByteView key) const override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = verify_checksums_;
    ro.snapshot = snapshot_;
    std::string value;
    leveldb::Status s = db_->Get(ro, ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<Bytes>();
    if (!s.ok()) return FromLevelDb(s, "leveldb " + path_ + ": get (pinned)");
    return std::optional<Bytes>(Bytes(value.begin(), value.end()));
  }

  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = verify_checksums_;
    ro.fill_cache = false;
    ro.snapshot = snapshot_;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    const leveldb::Slice limit = ToSlice(end);
    for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
      if (!end.empty() && it->key().compare(limit) >= 0) break;
      if (!fn(ToView(it->key()), ToView(it->value()))) break;
    }
    if (!it->status().ok()) {
      return FromLevelDb(it->status(), "leveldb " + path_ + ": scan (pinned)");
    }
    return Status::Ok();
  }

 private:
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
  std::string path_;
  bool verify_checksums_;
};

class LevelDbKv final : public KvStore {
 public:
  LevelDbKv(std::string path, std::unique_ptr<leveldb::Cache> cache,
            std::unique_ptr<const leveldb::FilterPolicy> filter, std::unique_ptr<leveldb::DB> db,
            bool verify_checksums)
      : path_(std::move(path)),
        cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)),
        verify_checksums_(verify_checksums) {}

  Result<std::optional<Bytes>> Get(ByteView key) const override {
    leveldb::ReadOptions ro;
    ro.verify_checksums = verify_checksums_;
    std::string value;
    leveldb::Status s = db_->Get(ro, ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<Bytes>();
    if (!s.ok()) return FromLevelDb(s, "leveldb " + path_ + ": get");
    return std::optional<Bytes>(Bytes(value.begin(), value.end()));
  }

  Status Write(const WriteBatch& batch, bool sync) override {
    leveldb::WriteBatch b;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.value) {
        b.Put(ToSlice(op.key), ToSlice(*op.value));
      } else {
        b.Delete(ToSlice(op.key));
      }
    }
    leveldb::WriteOptions wo;
    wo.sync = sync;
    leveldb::Status s = db_->Write(wo, &b);
    if (!s.ok()) return FromLevelDb(s, "leveldb " + path_ + ": write");
    return Status::Ok();
  }

  std::unique_ptr<KvSnapshot> Pin() const override {
    return std::make_unique<LevelDbSnapshot>(db_.get(), path_, verify_checksums_);
  }

  void CompactRange(ByteView start, ByteView end) override {
    const leveldb::Slice s = ToSlice(start), e = ToSlice(end);
    db_->CompactRange(&s, &e);
  }

  std::optional<std::string> Property(std::string_view name) const override {
    std::string value;
    if (!db_->GetProperty(leveldb::Slice(name.data(), name.size()), &value)) return std::nullopt;
    return value;
  }

  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override {
    struct SnapshotGuard {
      leveldb::DB* db;
      const leveldb::Snapshot* snapshot;
      ~SnapshotGuard() { db->ReleaseSnapshot(snapshot); }
    } guard{db_.get(), db_->GetSnapshot()};
    leveldb::ReadOptions ro;
    ro.verify_checksums = verify_checksums_;
    ro.fill_cache = false;
    ro.snapshot = guard.snapshot;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));  // released before guard
    const leveldb::Slice limit = ToSlice(end);
    for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
      if (!end.empty() && it->key().compare(limit) >= 0) break;
      if (!fn(ToView(it->key()), ToView(it->value()))) break;
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), "leveldb " + path_ + ": scan");
    return Status::Ok();
  }

 private:
  std::string path_;
  // Declared before db_ so they outlive it: the DB uses both until it closes.
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  bool verify_checksums_;
};

}  // namespace

Result<std::unique_ptr<KvStore>> OpenLevelDb(const std::string& path, bool create,
                                             const LevelDbOptions& opts) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IoError(path + ": cannot inspect: " + ec.message());
  }
  bool fresh = false;
  if (!fs::exists(st)) {
    if (!create) return Status::NotFound(path + ": does not exist (no store to open)");
    if (fs::create_directories(path, ec); ec) {
      return Status::IoError(path + ": cannot create directory: " + ec.message());
    }
    fresh = true;
  } else if (!fs::is_directory(st)) {
    return Status::InvalidArgument(path + ": is not a directory");
  } else if (!fs::exists(fs::path(path) / "CURRENT", ec)) {
    const bool empty = fs::is_empty(path, ec);
    if (ec) return Status::IoError(path + ": cannot list directory: " + ec.message());
    if (!empty) {
      return Status::InvalidArgument(
          path +
          ": directory is not empty but holds no LevelDB database (no CURRENT "
          "file); refusing to create a store in it");
    }
    if (!create) return Status::NotFound(path + ": directory is empty (no store to open)");
    fresh = true;
  }

  auto cache = std::unique_ptr<leveldb::Cache>(leveldb::NewLRUCache(opts.block_cache_bytes));
  // Point lookups (tx index, state, hash index) mostly hit one table per level; a Bloom
  // filter spares the reads of the tables that do not hold the key.
  auto filter =
      std::unique_ptr<const leveldb::FilterPolicy>(leveldb::NewBloomFilterPolicy(/*bits=*/10));
  leveldb::Options o;
  o.create_if_missing = fresh;
  o.error_if_exists = fresh;
  o.paranoid_checks = opts.paranoid_checks;
  o.write_buffer_size = opts.write_buffer_bytes;
  o.max_open_files = opts.max_open_files;
  o.block_cache = cache.get();
  o.filter_policy = filter.get();
  if (opts.env != nullptr) o.env = opts.env;
  // What we store is mostly keys, hashes and signatures, which do not compress: Snappy only
  // spent CPU trying (3.6% of a Raft follower's profile under load). Tables written with
  // compression by an older build stay readable.
  o.compression = leveldb::kNoCompression;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, path, &raw);
  if (!s.ok()) return FromLevelDb(s, path + ": cannot open LevelDB");
  // LevelDB starts its one background thread (flushes and compactions, for the process) on
  // the first work it schedules, and the thread inherits that caller's nice value. Started
  // here, from the thread that opens the store, so a low-priority caller (the snapshot or
  // compact thread at nice 19) never makes every later flush and compaction run at its level.
  o.env->Schedule([](void*) {}, nullptr);
  return std::unique_ptr<KvStore>(
      std::make_unique<LevelDbKv>(path, std::move(cache), std::move(filter),
                                  std::unique_ptr<leveldb::DB>(raw), opts.paranoid_checks));
}

}  // namespace cairn::ledger
