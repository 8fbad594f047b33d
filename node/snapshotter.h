// Snapshotter: takes a state snapshot every `snapshot.interval` blocks into
// <data_dir>/snapshots/<h>/ and serves the newest ones to peers (GetSnapshots, GetSnapshotPart,
// GetHeaders for their header backfill, GetValidators for a BFT joiner's light client) with
// per-peer token buckets
// (docs/design/state-sync.md section 3, docs/P2P.md "Snapshots and state sync").
// Thread-safety: OnCommitted runs on the loop thread (it only pins the store and posts); the
// build runs on whatever `post` hands it (Node: the `snapshot` thread); Serve runs on the
// worker thread; List and the counters from any thread. `mu_` guards the list of finished
// snapshots and the per-peer buckets; nothing is called out while it is held.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/rate_limit.h"
#include "ledger/chain_store.h"
#include "ledger/governance.h"
#include "ledger/snapshot.h"
#include "node/network.h"
#include "node/wire.h"

namespace cairn::node {

class NodeMetrics;

class Snapshotter {
 public:
  struct Options {
    std::string dir;        // <data_dir>/snapshots
    uint64_t interval = 0;  // 0: take none (still serves headers)
    uint32_t keep = 2;
    uint64_t serve_parts_per_sec = 100;
    uint64_t serve_bytes_per_sec = 32u << 20;
    size_t target_chunk_bytes = ledger::kTargetChunkBytes;
  };
  // A finished snapshot, as offered to peers.
  struct Entry {
    wire::SnapshotOffer offer;
    uint64_t entries = 0;
    uint64_t build_ms = 0;  // how long the build took (0 for one found at startup)
  };
  // Runs a build job off the loop thread. Null: run it inline (tests).
  using Post = std::function<void(std::function<void()>)>;
  // set(height) by id as this node knows it (Membership::ValidatorsOf, history included);
  // empty when it does not (pruned below it). Must be thread-safe: the worker lane calls it.
  using ValidatorsOf = std::function<std::vector<ledger::Member>(uint64_t height)>;

  Snapshotter(Options options, const ledger::ChainStore& store, const Clock& clock);

  // Lists the finished snapshots in the directory (creating it) and deletes `.tmp` leftovers
  // of a build a crash interrupted. A directory that does not parse is left alone and logged.
  Status Open();
  void set_post(Post post) { post_ = std::move(post); }
  void set_metrics(NodeMetrics* metrics) { metrics_ = metrics; }
  void set_validators_of(ValidatorsOf f) { validators_of_ = std::move(f); }

  // Loop lane, right after block `height` committed: at a multiple of the interval, pins the
  // store (microseconds) and posts the build, unless one is still running (then skipped,
  // logged and counted).
  void OnCommitted(const ledger::BlockHeader& header);

  // Worker lane: answers GetSnapshots, GetSnapshotPart, GetHeaders and GetValidators. A malformed
  // request disconnects the peer; one over the peer's budget is dropped (the asker times out and
  // asks elsewhere) and counted.
  void Serve(Network& net, const p2p::NodeId& from, p2p::MessageType type, ByteView payload);

  // Newest first. Any thread.
  std::vector<Entry> List() const EXCLUDES(mu_);
  // Any thread: requests dropped over a peer's budget, builds skipped while one ran.
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t skipped() const { return skipped_.load(); }
  bool busy() const { return busy_.load(); }

 private:
  // A token bucket over bytes that may go into debt by one part, so a part larger than a
  // second's budget is still served, at the average rate.
  struct PeerBudget {
    std::unique_ptr<RateLimiter> parts;
    int64_t bytes_milli = 0;  // may be negative
    uint64_t last_ms = 0;
  };

  void Build(uint64_t height, ledger::BlockHeader header, Bytes certificate,
             std::shared_ptr<ledger::KvSnapshot> pin);
  Status BuildInto(const std::string& tmp, uint64_t height, const ledger::BlockHeader& header,
                   ByteView certificate, const ledger::KvSnapshot& pin, Entry* entry);
  void Prune() EXCLUDES(mu_);
  // Whether `from` may have a part of `bytes` now (and spends it).
  bool Spend(const p2p::NodeId& from, size_t bytes, bool part) EXCLUDES(mu_);
  void ServeList(Network& net, const p2p::NodeId& from);
  void ServePart(Network& net, const p2p::NodeId& from, const wire::PartRef& ref);
  void ServeHeaders(Network& net, const p2p::NodeId& from, const wire::GetHeaders& req);
  void ServeValidators(Network& net, const p2p::NodeId& from, uint64_t height);
  void Drop(const p2p::NodeId& from, const char* what);
  // How long `from` should wait before its next part is within budget.
  uint32_t RetryAfterMs(const p2p::NodeId& from) const EXCLUDES(mu_);
  std::string DirOf(uint64_t height) const;

  const Options options_;
  const ledger::ChainStore& store_;
  const Clock& clock_;
  Post post_;
  ValidatorsOf validators_of_;
  NodeMetrics* metrics_ = nullptr;
  std::atomic<bool> busy_{false};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> skipped_{0};
  RateLimiter drop_log_{1, 5};
  mutable Mutex mu_;
  std::vector<Entry> entries_ GUARDED_BY(mu_);  // newest first
  std::map<p2p::NodeId, PeerBudget> budgets_ GUARDED_BY(mu_);
};

}  // namespace cairn::node
