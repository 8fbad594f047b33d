#include "node/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <prometheus/text_serializer.h>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ledger/receipt.h"

namespace cairn::node {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;
using prometheus::MetricType;

// Seconds, from 1 ms (a commit without fsync) to 30 s (a stalled network).
const Histogram::BucketBoundaries kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};
const Histogram::BucketBoundaries kRpcBuckets = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                 0.1,    0.5,    1,     5,     10};

// The p2p message types the node routes (node/wire.h), for labels.
const char* MessageTypeName(uint8_t t) {
  switch (t) {
    case 0x10:
      return "txs";
    case 0x30:
      return "status";
    case 0x31:
      return "get_blocks";
    case 0x32:
      return "blocks";
    case 0x33:
      return "new_block";
    case 0x34:
      return "get_snapshots";
    case 0x35:
      return "snapshots";
    case 0x36:
      return "get_snapshot_part";
    case 0x37:
      return "snapshot_part";
    case 0x38:
      return "get_headers";
    case 0x39:
      return "headers";
    case 0x50:
      return "consensus";
    case 0x51:
      return "compact_consensus";
    case 0x52:
      return "get_block_txs";
    case 0x53:
      return "block_txs";
    default:
      return nullptr;
  }
}

double Ms(uint64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

class NodeMetrics::Collectors final : public prometheus::Collectable {
 public:
  uint64_t Add(std::function<void(MetricFamilies&)> f) {
    MutexLock lock(&mu_);
    fns_.emplace(next_id_, std::move(f));
    return next_id_++;
  }
  // Held across a scrape, so that once Remove returns no scrape still runs the removed
  // function (it may read what its owner frees next). Order: run_mu_, then mu_.
  void Remove(uint64_t id) {
    MutexLock run(&run_mu_);
    MutexLock lock(&mu_);
    fns_.erase(id);
  }
  MetricFamilies Collect() const override {
    MutexLock run(&run_mu_);
    std::vector<std::function<void(MetricFamilies&)>> fns;
    {
      MutexLock lock(&mu_);
      for (const auto& [id, f] : fns_) fns.push_back(f);
    }
    MetricFamilies out;
    for (const auto& f : fns) f(out);
    return out;
  }

 private:
  mutable Mutex run_mu_;
  mutable Mutex mu_;
  // By id, so in the order added.
  std::map<uint64_t, std::function<void(MetricFamilies&)>> fns_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
};

NodeMetrics::ScopedCollector::~ScopedCollector() {
  if (auto c = collectors_.lock()) c->Remove(id_);
}

FamilyBuilder::FamilyBuilder(std::string name, std::string help, MetricType type) {
  family_.name = std::move(name);
  family_.help = std::move(help);
  family_.type = type;
}

FamilyBuilder& FamilyBuilder::Add(double value,
                                  std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family_.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family_.metric.push_back(std::move(m));
  return *this;
}

NodeMetrics::NodeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      collectors_(std::make_shared<Collectors>()) {
  auto& r = *registry_;
  blocks_committed_ = &BuildCounter()
                           .Name("cairn_blocks_committed_total")
                           .Help("Blocks this node committed to its chain since it started")
                           .Register(r)
                           .Add({});
  blocks_built_ = &BuildCounter()
                       .Name("cairn_blocks_proposed_committed_total")
                       .Help("Committed blocks that this node built (it was the proposer)")
                       .Register(r)
                       .Add({});
  txs_committed_ = &BuildCounter()
                        .Name("cairn_transactions_committed_total")
                        .Help("Transactions in the blocks this node committed")
                        .Register(r)
                        .Add({});
  snapshots_taken_ = &BuildCounter()
                          .Name("cairn_snapshots_taken_total")
                          .Help("State snapshots this node wrote (snapshot.interval)")
                          .Register(r)
                          .Add({});
  snapshots_skipped_ = &BuildCounter()
                            .Name("cairn_snapshots_skipped_total")
                            .Help(
                                "Snapshot heights skipped because the previous one was still "
                                "being written")
                            .Register(r)
                            .Add({});
  snapshots_failed_ = &BuildCounter()
                           .Name("cairn_snapshots_failed_total")
                           .Help("Snapshots that failed to build or write (see the log)")
                           .Register(r)
                           .Add({});
  snapshot_height_ = &BuildGauge()
                          .Name("cairn_snapshot_height")
                          .Help("Height of the newest snapshot this node took (0: none)")
                          .Register(r)
                          .Add({});
  snapshot_seconds_ = &BuildGauge()
                           .Name("cairn_snapshot_build_seconds")
                           .Help("How long the newest snapshot took to build and write")
                           .Register(r)
                           .Add({});
  snapshot_dropped_ = &BuildCounter()
                           .Name("cairn_snapshot_requests_dropped_total")
                           .Help(
                               "Snapshot, part and header requests dropped over a peer's "
                               "snapshot.serve_*_per_sec budget")
                           .Register(r)
                           .Add({});
  statesync_bad_parts_ = &BuildCounter()
                              .Name("cairn_statesync_bad_parts_total")
                              .Help(
                                  "Snapshot parts that failed verification during state sync "
                                  "(the peer that served each was dropped)")
                              .Register(r)
                              .Add({});
  statesync_timeouts_ = &BuildCounter()
                             .Name("cairn_statesync_part_timeouts_total")
                             .Help("Snapshot parts re-asked after 10 s without an answer")
                             .Register(r)
                             .Add({});
  statesync_chunks_ = &BuildCounter()
                           .Name("cairn_statesync_chunks_total")
                           .Help("Snapshot chunks verified and written during state sync")
                           .Register(r)
                           .Add({});
  block_interval_ = &BuildHistogram()
                         .Name("cairn_block_interval_seconds")
                         .Help("Time between consecutive committed blocks' proposer timestamps")
                         .Register(r)
                         .Add({}, kLatencyBuckets);
  block_txs_ = &BuildHistogram()
                    .Name("cairn_block_transactions")
                    .Help("Transactions per committed block")
                    .Register(r)
                    .Add({}, Histogram::BucketBoundaries{0, 1, 10, 50, 100, 250, 500, 1000, 2500,
                                                         5000, 10000, 50000});
  commit_seconds_ = &BuildHistogram()
                         .Name("cairn_block_commit_seconds")
                         .Help("From the block built (own) or received (peer's) to committed")
                         .Register(r)
                         .Add({}, kLatencyBuckets);
  proposal_to_commit_ = &BuildHistogram()
                             .Name("cairn_block_proposal_to_commit_seconds")
                             .Help(
                                 "From the proposer's block timestamp to this node's commit "
                                 "(wall clocks: includes their skew)")
                             .Register(r)
                             .Add({}, kLatencyBuckets);
  auto& stages = BuildHistogram()
                     .Name("cairn_block_commit_stage_seconds")
                     .Help(
                         "Where a commit's time went: verify (transaction signatures not yet "
                         "known valid) and execute, for a block this node had not checked "
                         "before (0 otherwise); store (the synced LevelDB batch); mempool "
                         "(dropping its transactions)")
                     .Register(r);
  stage_verify_ = &stages.Add({{"stage", "verify"}}, kLatencyBuckets);
  stage_execute_ = &stages.Add({{"stage", "execute"}}, kLatencyBuckets);
  stage_store_ = &stages.Add({{"stage", "store"}}, kLatencyBuckets);
  stage_mempool_ = &stages.Add({{"stage", "mempool"}}, kLatencyBuckets);
  auto& proposal = BuildHistogram()
                       .Name("cairn_block_proposal_check_seconds")
                       .Help(
                           "BFT: checking another validator's proposal before prevoting: "
                           "total, and its verify and execute parts")
                       .Register(r);
  proposal_check_ = &proposal.Add({{"part", "total"}}, kLatencyBuckets);
  proposal_verify_ = &proposal.Add({{"part", "verify"}}, kLatencyBuckets);
  proposal_execute_ = &proposal.Add({{"part", "execute"}}, kLatencyBuckets);

  auto& admitted = BuildCounter()
                       .Name("cairn_mempool_admitted_total")
                       .Help("Transactions admitted to the mempool, by source (client or peer)")
                       .Register(r);
  auto& refused = BuildCounter()
                      .Name("cairn_mempool_refused_total")
                      .Help(
                          "Transactions refused admission, by source and reason (the RPC "
                          "error name)")
                      .Register(r);
  admit_client_[0] = &admitted.Add({{"source", "client"}});
  admit_peer_[0] = &admitted.Add({{"source", "peer"}});
  for (int c = 1; c < 256; ++c) {
    const std::string_view name = ledger::TxCodeName(static_cast<ledger::TxCode>(c));
    if (name.empty() || name == "unknown") continue;
    admit_client_[c] = &refused.Add({{"source", "client"}, {"reason", std::string(name)}});
    admit_peer_[c] = &refused.Add({{"source", "peer"}, {"reason", std::string(name)}});
  }
  auto* other_client = &refused.Add({{"source", "client"}, {"reason", "other"}});
  auto* other_peer = &refused.Add({{"source", "peer"}, {"reason", "other"}});
  for (int c = 1; c < 256; ++c) {
    if (!admit_client_[c]) admit_client_[c] = other_client;
    if (!admit_peer_[c]) admit_peer_[c] = other_peer;
  }

  leader_changes_ =
      &BuildCounter()
           .Name("cairn_consensus_leader_changes_total")
           .Help(
               "Raft: times the leader this node knows changed (BFT rotates its proposer by "
               "design and counts 0 here)")
           .Register(r)
           .Add({});
  terms_begun_ = &BuildCounter()
                      .Name("cairn_consensus_rounds_begun_total")
                      .Help(
                          "Raft terms or BFT rounds this node moved past; each follows a "
                          "timeout somewhere (an election, or a round that did not decide)")
                      .Register(r)
                      .Add({});
  rounds_per_height_ = &BuildHistogram()
                            .Name("cairn_consensus_rounds_per_height")
                            .Help(
                                "BFT: rounds a height took to decide (1 when the first "
                                "proposal committed)")
                            .Register(r)
                            .Add({}, Histogram::BucketBoundaries{1, 2, 3, 4, 6, 8, 16});

  auto& msgs = BuildCounter()
                   .Name("cairn_p2p_messages_total")
                   .Help(
                       "p2p messages by type and direction: received from a peer, or sent "
                       "(a broadcast counts once, whatever the number of peers)")
                   .Register(r);
  auto& bytes = BuildCounter()
                    .Name("cairn_p2p_message_bytes_total")
                    .Help("Payload bytes of the p2p messages in cairn_p2p_messages_total")
                    .Register(r);
  for (int t = 0; t < 256; ++t) {
    const char* name = MessageTypeName(static_cast<uint8_t>(t));
    if (!name) continue;
    msgs_in_[t] = &msgs.Add({{"type", name}, {"direction", "in"}});
    msgs_out_[t] = &msgs.Add({{"type", name}, {"direction", "out"}});
    bytes_in_[t] = &bytes.Add({{"type", name}, {"direction", "in"}});
    bytes_out_[t] = &bytes.Add({{"type", name}, {"direction", "out"}});
  }
}

void NodeMetrics::OnBlockCommitted(size_t txs, uint64_t block_time_ms, uint64_t now_unix_ms,
                                   const CommitTiming& timing, bool built) {
  blocks_committed_->Increment();
  if (built) blocks_built_->Increment();
  txs_committed_->Increment(static_cast<double>(txs));
  block_txs_->Observe(static_cast<double>(txs));
  const uint64_t last = last_block_time_ms_.exchange(block_time_ms);
  if (last != 0 && block_time_ms >= last) block_interval_->Observe(Ms(block_time_ms - last));
  if (now_unix_ms >= block_time_ms) proposal_to_commit_->Observe(Ms(now_unix_ms - block_time_ms));
  commit_seconds_->Observe(timing.total);
  stage_verify_->Observe(timing.verify);
  stage_execute_->Observe(timing.execute);
  stage_store_->Observe(timing.store);
  stage_mempool_->Observe(timing.mempool);
}

void NodeMetrics::OnProposalChecked(double seconds, double verify, double execute) {
  proposal_check_->Observe(seconds);
  proposal_verify_->Observe(verify);
  proposal_execute_->Observe(execute);
}

void NodeMetrics::OnAdmitted(std::span<const ledger::Admission> results, bool from_client) {
  // Tally first: one atomic add per code seen, not one per transaction.
  std::array<uint32_t, 256> n{};
  for (const ledger::Admission& a : results) ++n[static_cast<uint8_t>(a.code)];
  auto& series = from_client ? admit_client_ : admit_peer_;
  for (size_t c = 0; c < n.size(); ++c) {
    if (n[c]) series[c]->Increment(n[c]);
  }
}

void NodeMetrics::OnEngineStatus(const consensus::EngineStatus& s, bool bft) {
  if (!have_status_) {
    have_status_ = true;
    last_status_ = s;
    height_first_round_ = s.term;
    return;
  }
  // BFT rotates its proposer every height and round by design: only Raft's leader changes
  // say something (a BFT round that did not decide shows in terms_begun_).
  if (!bft && s.leader != last_status_.leader && s.leader != consensus::kNoReplica) {
    leader_changes_->Increment();
  }
  if (bft) {
    // BFT's "term" is the round within the height: it goes back to 0 on each decision.
    if (s.commit_height > last_status_.commit_height) {
      rounds_per_height_->Observe(static_cast<double>(last_status_.term - height_first_round_ + 1));
      height_first_round_ = s.term;
    } else if (s.term > last_status_.term) {
      terms_begun_->Increment(static_cast<double>(s.term - last_status_.term));
    }
  } else if (s.term > last_status_.term) {
    terms_begun_->Increment(static_cast<double>(s.term - last_status_.term));
  }
  last_status_ = s;
}

void NodeMetrics::OnSnapshotTaken(uint64_t height, double seconds) {
  snapshots_taken_->Increment();
  snapshot_height_->Set(static_cast<double>(height));
  snapshot_seconds_->Set(seconds);
}
void NodeMetrics::OnSnapshotSkipped() { snapshots_skipped_->Increment(); }
void NodeMetrics::OnSnapshotFailed() { snapshots_failed_->Increment(); }
void NodeMetrics::OnSnapshotRequestDropped() { snapshot_dropped_->Increment(); }
void NodeMetrics::OnStateSyncBadPart(uint64_t n) {
  statesync_bad_parts_->Increment(static_cast<double>(n));
}
void NodeMetrics::OnStateSyncTimeout(uint64_t n) {
  statesync_timeouts_->Increment(static_cast<double>(n));
}
void NodeMetrics::OnStateSyncChunk(uint64_t n) {
  statesync_chunks_->Increment(static_cast<double>(n));
}

void NodeMetrics::OnP2pMessage(uint8_t type, size_t bytes, bool received) {
  prometheus::Counter* m = received ? msgs_in_[type] : msgs_out_[type];
  if (!m) return;  // not a type the node routes: the p2p layer refuses it
  m->Increment();
  (received ? bytes_in_[type] : bytes_out_[type])->Increment(static_cast<double>(bytes));
}

void NodeMetrics::InitRpcMethods(const std::vector<std::string>& methods) {
  auto& requests = BuildCounter()
                       .Name("cairn_rpc_requests_total")
                       .Help("JSON-RPC calls by method (\"other\": a method that does not exist)")
                       .Register(*registry_);
  auto& errors = BuildCounter()
                     .Name("cairn_rpc_errors_total")
                     .Help("JSON-RPC calls answered with an error, by method")
                     .Register(*registry_);
  auto& seconds = BuildHistogram()
                      .Name("cairn_rpc_request_duration_seconds")
                      .Help("Time a JSON-RPC call took to run, by method")
                      .Register(*registry_);
  auto series = [&](const std::string& m) {
    return RpcSeries{&requests.Add({{"method", m}}), &errors.Add({{"method", m}}),
                     &seconds.Add({{"method", m}}, kRpcBuckets)};
  };
  for (const std::string& m : methods) rpc_.emplace(m, series(m));
  rpc_other_ = series("other");
}

void NodeMetrics::OnRpcCall(std::string_view method, int error_code, double seconds) {
  auto it = rpc_.find(method);
  const RpcSeries& s = it == rpc_.end() ? rpc_other_ : it->second;
  if (!s.requests) return;  // InitRpcMethods not called (in-process tests)
  s.requests->Increment();
  if (error_code != 0) s.errors->Increment();
  s.seconds->Observe(seconds);
}

void NodeMetrics::AddCollector(std::function<void(MetricFamilies&)> collect) {
  collectors_->Add(std::move(collect));
}

std::unique_ptr<NodeMetrics::ScopedCollector> NodeMetrics::AddScopedCollector(
    std::function<void(MetricFamilies&)> collect) {
  const uint64_t id = collectors_->Add(std::move(collect));
  return std::unique_ptr<ScopedCollector>(new ScopedCollector(collectors_, id));
}

std::string NodeMetrics::Render() const {
  MetricFamilies families = registry_->Collect();
  for (auto& f : collectors_->Collect()) families.push_back(std::move(f));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

namespace {

// A small /proc file in one read; false when it cannot be opened.
bool ReadFileText(const char* path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

void CollectProcess(MetricFamilies& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::string stat;
  if (ReadFileText("/proc/self/stat", &stat)) {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const size_t close = stat.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(stat.substr(close + 2));
      std::vector<std::string> f;
      for (std::string w; in >> w;) f.push_back(w);
      // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, rss 24.
      if (f.size() > 21) {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        out.push_back(FamilyBuilder("cairn_process_cpu_seconds_total",
                                    "User and system CPU time the process used",
                                    MetricType::Counter)
                          .Add(cpu)
                          .Build());
        out.push_back(FamilyBuilder("cairn_process_resident_memory_bytes", "Resident set size",
                                    MetricType::Gauge)
                          .Add(std::stod(f[21]) * page)
                          .Build());
        std::string uptime;
        if (ReadFileText("/proc/uptime", &uptime)) {
          const double boot = static_cast<double>(time(nullptr)) - std::stod(uptime);
          out.push_back(FamilyBuilder("cairn_process_start_time_seconds",
                                      "When the process started, Unix seconds", MetricType::Gauge)
                            .Add(boot + std::stod(f[19]) / ticks)
                            .Build());
        }
      }
    }
  }
  size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++fds;
    }
    closedir(d);
    if (fds > 0) --fds;  // the directory stream's own descriptor
    out.push_back(
        FamilyBuilder("cairn_process_open_fds", "Open file descriptors", MetricType::Gauge)
            .Add(static_cast<double>(fds))
            .Build());
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(FamilyBuilder("cairn_process_max_fds", "The soft open file limit (RLIMIT_NOFILE)",
                                MetricType::Gauge)
                      .Add(static_cast<double>(lim.rlim_cur))
                      .Build());
  }
}

void CollectLevelDbStats(std::string_view stats, MetricFamilies& out) {
  // LevelDB's table (db_impl.cc, "leveldb.stats"):
  //                                Compactions
  //   Level  Files Size(MB) Time(sec) Read(MB) Write(MB)
  //   --------------------------------------------------
  //     0        2        0         0        0         0
  FamilyBuilder files("cairn_leveldb_files", "LevelDB table files per level", MetricType::Gauge);
  FamilyBuilder size("cairn_leveldb_size_bytes", "LevelDB table bytes per level",
                     MetricType::Gauge);
  FamilyBuilder secs("cairn_leveldb_compaction_seconds_total",
                     "Time LevelDB spent compacting into each level", MetricType::Counter);
  FamilyBuilder read("cairn_leveldb_compaction_read_bytes_total",
                     "Bytes LevelDB compactions read, per output level", MetricType::Counter);
  FamilyBuilder write("cairn_leveldb_compaction_written_bytes_total",
                      "Bytes LevelDB compactions wrote, per output level", MetricType::Counter);
  std::istringstream in{std::string(stats)};
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    int level = 0;
    long long n = 0;
    double mb = 0, t = 0, r = 0, w = 0;
    if (std::sscanf(line.c_str(), " %d %lld %lf %lf %lf %lf", &level, &n, &mb, &t, &r, &w) != 6) {
      continue;
    }
    const std::vector<prometheus::ClientMetric::Label> l = {{"level", std::to_string(level)}};
    constexpr double kMb = 1048576.0;
    files.Add(static_cast<double>(n), l);
    size.Add(mb * kMb, l);
    secs.Add(t, l);
    read.Add(r * kMb, l);
    write.Add(w * kMb, l);
    any = true;
  }
  if (!any) return;
  out.push_back(std::move(files).Build());
  out.push_back(std::move(size).Build());
  out.push_back(std::move(secs).Build());
  out.push_back(std::move(read).Build());
  out.push_back(std::move(write).Build());
}

}  // namespace cairn::node
