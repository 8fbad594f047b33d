// NodeMetrics: the node's Prometheus metrics (docs/OPERATIONS.md "Metrics" lists every name).
// Events update counters and histograms where they happen (a commit, an admission call, an RPC
// call, a p2p message: atomics, or a short lock per block or per call, never per byte); levels
// (height, mempool size, peers, LevelDB, the process) are read only when scraped, by the
// collectors Node adds. Thread-safety: every method may be called from any thread, except
// OnEngineStatus (loop thread only) and InitRpcMethods (before serving).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "base/mutex.h"
#include "consensus/types.h"
#include "ledger/mempool.h"

namespace cairn::node {

using MetricFamilies = std::vector<prometheus::MetricFamily>;

// A gauge or counter family built at scrape time: Add one sample per label set.
class FamilyBuilder {
 public:
  FamilyBuilder(std::string name, std::string help, prometheus::MetricType type);
  FamilyBuilder& Add(double value, std::vector<prometheus::ClientMetric::Label> labels = {});
  // Moves the family out; the builder is empty after.
  prometheus::MetricFamily Build() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

class NodeMetrics {
  class Collectors;

 public:
  NodeMetrics();
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // Where the time of one commit went (BlockAcceptor::DoCommit), in seconds.
  struct CommitTiming {
    // Transaction signatures not already known valid, and execution; both zero when this node
    // built or validated the block (it was checked then: cairn_block_proposal_check_seconds).
    double verify = 0;
    double execute = 0;
    double store = 0;    // the synced LevelDB batch
    double mempool = 0;  // dropping the committed transactions from the mempool
    double total = 0;    // from built or received to committed
  };
  // Loop thread, once per committed block. `block_time_ms` is the proposer's timestamp (Unix
  // ms); `now_unix_ms` this node's clock at commit.
  void OnBlockCommitted(size_t txs, uint64_t block_time_ms, uint64_t now_unix_ms,
                        const CommitTiming& timing, bool built);
  // A BFT proposal checked for this node's prevote (BlockAcceptor::Validate): the whole check,
  // and its signature and execution parts, in seconds.
  void OnProposalChecked(double seconds, double verify, double execute);
  // After each TxPool::Admit call, outside its locks.
  void OnAdmitted(std::span<const ledger::Admission> results, bool from_client);
  // Loop thread, after each engine input: counts leader changes, terms or rounds begun, and
  // (BFT) the rounds each height took.
  void OnEngineStatus(const consensus::EngineStatus& s, bool bft);
  // Snapshots (node/snapshotter.h; snapshot thread, worker) and state sync (loop thread).
  void OnSnapshotTaken(uint64_t height, double seconds);
  void OnSnapshotSkipped();
  void OnSnapshotFailed();
  void OnSnapshotRequestDropped();
  void OnStateSyncBadPart(uint64_t n = 1);
  void OnStateSyncTimeout(uint64_t n = 1);
  void OnStateSyncChunk(uint64_t n = 1);
  // One p2p message of `type` with `bytes` of payload, received or queued to one peer.
  void OnP2pMessage(uint8_t type, size_t bytes, bool received);

  // The methods RPC may call: each gets its own series up front, so a call is a read-only
  // map lookup; a name not listed counts as "other". Before serving.
  void InitRpcMethods(const std::vector<std::string>& methods);
  // One JSON-RPC call: `error_code` 0 when it succeeded.
  void OnRpcCall(std::string_view method, int error_code, double seconds);

  // A function run at every scrape that appends families (levels read from the node); it must
  // be thread-safe. It stays for the life of the metrics: what it reads must outlive them, or
  // outlive every scrape.
  void AddCollector(std::function<void(MetricFamilies&)> collect);
  // Removes its collector when destroyed, after waiting for a scrape that is running it: for a
  // collector that reads what goes before the metrics do (destroy this first).
  class ScopedCollector {
   public:
    ScopedCollector(const ScopedCollector&) = delete;
    ScopedCollector& operator=(const ScopedCollector&) = delete;
    ~ScopedCollector();

   private:
    friend class NodeMetrics;
    ScopedCollector(std::weak_ptr<Collectors> c, uint64_t id)
        : collectors_(std::move(c)), id_(id) {}
    std::weak_ptr<Collectors> collectors_;
    uint64_t id_;
  };
  // As AddCollector, at any time, for as long as the result lives.
  [[nodiscard]] std::unique_ptr<ScopedCollector> AddScopedCollector(
      std::function<void(MetricFamilies&)> collect);
  // The Prometheus text format (version 0.0.4) of every metric.
  std::string Render() const;

 private:
  struct RpcSeries {
    prometheus::Counter* requests;
    prometheus::Counter* errors;
    prometheus::Histogram* seconds;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Collectors> collectors_;

  prometheus::Counter* blocks_committed_;
  prometheus::Counter* blocks_built_;
  prometheus::Counter* txs_committed_;
  prometheus::Counter* snapshots_taken_;
  prometheus::Counter* snapshots_skipped_;
  prometheus::Counter* snapshots_failed_;
  prometheus::Gauge* snapshot_height_;
  prometheus::Gauge* snapshot_seconds_;
  prometheus::Counter* snapshot_dropped_;
  prometheus::Counter* statesync_bad_parts_;
  prometheus::Counter* statesync_timeouts_;
  prometheus::Counter* statesync_chunks_;
  prometheus::Histogram* block_interval_;
  prometheus::Histogram* block_txs_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Histogram* proposal_to_commit_;
  prometheus::Histogram* stage_verify_;
  prometheus::Histogram* stage_execute_;
  prometheus::Histogram* stage_store_;
  prometheus::Histogram* stage_mempool_;
  prometheus::Histogram* proposal_check_;
  prometheus::Histogram* proposal_verify_;
  prometheus::Histogram* proposal_execute_;
  std::atomic<uint64_t> last_block_time_ms_{0};

  // Indexed by TxCode; [0] (kOk) is the admissions. Null for codes that do not exist.
  std::array<prometheus::Counter*, 256> admit_client_{};
  std::array<prometheus::Counter*, 256> admit_peer_{};

  prometheus::Counter* leader_changes_;
  prometheus::Counter* terms_begun_;
  prometheus::Histogram* rounds_per_height_;
  // Loop thread only (OnEngineStatus).
  consensus::EngineStatus last_status_;
  bool have_status_ = false;
  uint64_t height_first_round_ = 0;

  // Indexed by p2p message type (a u8); each counter is an atomic double behind the scenes.
  std::array<prometheus::Counter*, 256> msgs_in_{}, msgs_out_{}, bytes_in_{}, bytes_out_{};

  std::map<std::string, RpcSeries, std::less<>> rpc_;
  RpcSeries rpc_other_{};
};

// Levels read when scraped, as families (node/metrics.cpp): the process (/proc/self: RSS, CPU
// seconds, open and allowed descriptors, start time) and LevelDB's "leveldb.stats" table.
void CollectProcess(MetricFamilies& out);
void CollectLevelDbStats(std::string_view stats, MetricFamilies& out);

}  // namespace cairn::node
