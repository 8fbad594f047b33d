// A small ordered key-value store interface, so the chain store runs on LevelDB in
// production and in memory in tests (where a crash can drop unsynced writes).
// Implementations are safe for concurrent reads and writes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace leveldb {
class Env;
}

namespace cairn::ledger {

// An atomic group of writes: all of them land, or none.
class WriteBatch {
 public:
  void Put(ByteView key, ByteView value);
  void Delete(ByteView key);
  size_t size() const { return ops_.size(); }
  size_t bytes() const { return bytes_; }

  struct Op {
    Bytes key;
    std::optional<Bytes> value;  // nullopt = delete
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

// The read half of a store: a live store, or a snapshot pinned at one instant.
class KvReader {
 public:
  virtual ~KvReader() = default;
  // nullopt when absent; an error only for I/O or corruption.
  virtual Result<std::optional<Bytes>> Get(ByteView key) const = 0;
  // Calls fn(key, value) for every key in [start, end) in byte order until fn returns false;
  // an empty `end` means no upper bound. The scan sees one consistent snapshot: writes that
  // land while it runs are not visible to it. fn may call back into the store.
  virtual Status Scan(ByteView start, ByteView end,
                      const std::function<bool(ByteView key, ByteView value)>& fn) const = 0;
};

// The store as it was when KvStore::Pin was called: later writes are invisible to it. Holds
// old versions alive (LevelDB keeps the files a snapshot needs), so keep it no longer than a
// snapshot scan takes. Safe for concurrent reads; it may outlive nothing: destroy it before
// the store it came from.
class KvSnapshot : public KvReader {};

// A snapshot over `sorted_rows` (ascending by key, no key twice), a frozen copy.
std::unique_ptr<KvSnapshot> MakeCopiedSnapshot(std::vector<std::pair<Bytes, Bytes>> sorted_rows);

class KvStore : public KvReader {
 public:
  // sync=true returns only after the batch is durable (fsync).
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;
  // A consistent read-only view of the store now (LevelDB: GetSnapshot, a sequence number,
  // microseconds; MemoryKv: a copy). The snapshotter pins right after a commit and scans on
  // its own thread while blocks keep committing. The default copies the whole store through
  // one Scan: correct for any wrapper, affordable only for small ones.
  virtual std::unique_ptr<KvSnapshot> Pin() const;
  // An engine's own report by name (LevelDB: "leveldb.stats", for the node's metrics);
  // nullopt for a name it does not know, and for stores that have none. Thread-safe.
  virtual std::optional<std::string> Property(std::string_view /*name*/) const {
    return std::nullopt;
  }
  // Rewrites what holds keys in [start, end) now, dropping what deletes left behind: LevelDB
  // frees the space of deleted keys only when it compacts them. Blocks the caller (seconds on
  // a large range); thread-safe, concurrent with writes. A no-op for stores without it.
  virtual void CompactRange(ByteView /*start*/, ByteView /*end*/) {}
};

struct LevelDbOptions {
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 32 << 20;
  bool paranoid_checks = true;
  // The file system LevelDB uses; null: the real one. Tests pass one that cuts the power.
  leveldb::Env* env = nullptr;
  // Descriptors LevelDB may hold at once: its table cache plus about ten of its own (log,
  // manifest, LOCK, info log). Set here, not left at LevelDB's 1000, because the node
  // reserves exactly this many when it sizes its descriptor limit (node/fd_limits.h): a
  // connection flood must find the limit before LevelDB does. Tables past the cache are
  // reopened on demand, which costs an open(2) per miss, not a failure.
  int max_open_files = 256;
};

// Opens an existing LevelDB at `path`, or creates one if `create` and the directory is
// absent or empty. Never creates a database inside a non-empty directory that is not one.
Result<std::unique_ptr<KvStore>> OpenLevelDb(const std::string& path, bool create,
                                             const LevelDbOptions& opts = {});

// In-memory store for tests. Writes with sync=false are visible at once but held back from
// "disk" until the next synced write makes them durable (as an fsync of LevelDB's log does);
// DropUnsynced() discards them, as a power cut would. Copies share one store, like two
// handles to one disk: a test keeps a copy after handing another to a ChainStore.
class MemoryKv : public KvStore {
 public:
  Result<std::optional<Bytes>> Get(ByteView key) const override;
  Status Write(const WriteBatch& batch, bool sync) override;
  Status Scan(ByteView start, ByteView end,
              const std::function<bool(ByteView, ByteView)>& fn) const override;
  std::unique_ptr<KvSnapshot> Pin() const override;
  void DropUnsynced();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_ = MakeImpl();
  static std::shared_ptr<Impl> MakeImpl();
};

}  // namespace cairn::ledger
