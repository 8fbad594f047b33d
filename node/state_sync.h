// StateSync: joins a node to the chain from a peer's snapshot instead of replaying every block
// (docs/design/state-sync.md section 3): discovery (GetSnapshots), trust (a header chain from
// the operator's trust point down to the snapshot's header, or on a BFT chain without one, the
// header's certificate checked from the genesis set by LightTrust), the manifest, chunks fetched in
// parallel from every peer offering the snapshot and verified one by one (SnapshotImport),
// Finish, then the header backfill down to height 1. A crashed sync resumes from the import
// the store holds. Driven by the loop thread (OnMessage, Tick) with a Clock: no thread,
// socket or timer of its own, so tests run it against in-process peers.
// Thread-safety: every call on one thread (the loop).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "chain/block_rules.h"
#include "ledger/chain_store.h"
#include "node/light_trust.h"
#include "node/network.h"
#include "node/wire.h"

namespace cairn::node {

class NodeMetrics;

class StateSync {
 public:
  struct Options {
    // The operator's trust point (state_sync.trust_height / trust_hash): a block hash read
    // from a node the operator trusts. Both or neither.
    uint64_t trust_height = 0;
    std::optional<crypto::Hash256> trust_hash;
    // A BFT chain's rules (outliving this): without a trust point, the snapshot's header is
    // proven by its certificate from the genesis set (LightTrust). Null on solo and Raft.
    const chain::BlockRules* rules = nullptr;
    uint32_t max_in_flight_per_peer = 4;
    uint64_t part_timeout_ms = 10'000;
    // Offers are collected this long after the first one before a snapshot is chosen.
    uint64_t discovery_ms = 2000;
    uint64_t progress_every_ms = 2000;
  };

  // `kv`: the node's empty store, or one with an import in progress (resumed).
  StateSync(ledger::Block genesis, Options options, std::unique_ptr<ledger::KvStore> kv,
            Network& net, const Clock& clock);
  // `store`: a state-synced chain whose header backfill did not finish (HeadersFrom() > 1):
  // only the backfill runs.
  StateSync(ledger::Block genesis, Options options, std::unique_ptr<ledger::ChainStore> store,
            Network& net, const Clock& clock);
  void set_metrics(NodeMetrics* metrics) { metrics_ = metrics; }

  // Reads the import in progress, if any. Error: the store cannot be read.
  Status Start();
  void OnPeerConnected(const p2p::NodeId& peer);
  void OnPeerGone(const p2p::NodeId& peer);
  // Snapshots, SnapshotPart, Headers. Other types are ignored. An error means the sync cannot
  // go on (this node's store failed, or no trust can be established): the node must stop.
  Status OnMessage(const p2p::NodeId& from, p2p::MessageType type, ByteView payload);
  // Asks, re-asks after timeouts, logs progress. Error as OnMessage.
  Status Tick();

  bool done() const { return phase_ == Phase::kDone; }
  // After done(): the chain store at the snapshot's height, headers backfilled.
  std::unique_ptr<ledger::ChainStore> TakeStore() { return std::move(store_); }
  uint64_t height() const { return target_ ? target_->height : 0; }
  // Peers dropped for a bad part during this sync.
  const std::set<p2p::NodeId>& banned() const { return banned_; }
  struct Counts {
    uint64_t bad_parts = 0, timeouts = 0, chunks = 0;
    uint64_t busy = 0;  // "busy" answers: a server's budget said wait
  };
  // What this sync counted (the node adds them to its metrics, which start after the sync).
  const Counts& counts() const { return counts_; }

 private:
  enum class Phase { kDiscover, kTrust, kManifest, kChunks, kBackfill, kDone };
  struct InFlight {
    p2p::NodeId peer;
    uint64_t sent_ms = 0;
    uint64_t from = 0;        // a GetHeaders request: the first height asked for
    uint64_t timeout_ms = 0;  // 0: options_.part_timeout_ms
  };
  bool Late(const std::optional<InFlight>& r, uint64_t now) const {
    return r && now - r->sent_ms >= (r->timeout_ms ? r->timeout_ms : options_.part_timeout_ms);
  }

  Status Discover(uint64_t now);
  Status Choose();
  Status AskTrust();
  bool light() const { return !options_.trust_hash && options_.rules != nullptr; }
  Status AskLight();
  Status OnLightHeaders(const p2p::NodeId& from, std::vector<LightTrust::Certified> descending);
  Status OnValidators(const p2p::NodeId& from, ByteView payload);
  Status Trusted();  // light_ proved the target header
  // Back to discovery; with `reject`, never choosing `target_` again in this sync (a peer
  // offering it was dropped, or said it does not have it, or no offerer made progress).
  Status Rediscover(const std::string& why, bool reject);
  // `peer` offered the target but cannot serve it (found 0, no headers at or below it).
  void DropOffer(const p2p::NodeId& peer);
  Status OnHeaders(const p2p::NodeId& from, ByteView payload);
  Status OnPart(const p2p::NodeId& from, ByteView payload);
  Status OnHeaderPart(const p2p::NodeId& from, ByteView data);
  Status OnManifest(const p2p::NodeId& from, ByteView data);
  Status OnChunk(const p2p::NodeId& from, uint32_t index, ByteView data);
  Status BeginImport();
  Status Fill(uint64_t now);
  Status MaybeFinish();
  Status AskBackfill();
  void Ban(const p2p::NodeId& peer, const std::string& why);
  // Peers offering the target, not banned, still connected; the asked-least first.
  std::vector<p2p::NodeId> Servers() const;
  std::optional<p2p::NodeId> PickServer(const std::set<p2p::NodeId>& avoid) const;
  bool SendPart(const p2p::NodeId& to, uint32_t part, uint64_t now);
  void LogProgress(uint64_t now, bool final);

  const ledger::Block genesis_;
  const Options options_;
  std::unique_ptr<ledger::KvStore> kv_;
  Network& net_;
  const Clock& clock_;
  NodeMetrics* metrics_ = nullptr;

  Phase phase_ = Phase::kDiscover;
  std::set<p2p::NodeId> peers_;
  std::map<p2p::NodeId, std::vector<wire::SnapshotOffer>> offers_;
  std::map<p2p::NodeId, uint64_t> asked_offers_ms_;
  uint64_t first_offer_ms_ = 0;
  std::set<p2p::NodeId> banned_;
  std::optional<wire::SnapshotOffer> target_;
  std::set<std::pair<uint64_t, crypto::Hash256>> rejected_;  // offers given up on
  uint64_t stuck_since_ms_ = 0;  // trust or manifest phase with no peer to ask: since when
  uint64_t progress_ms_ = 0;     // trust or manifest phase: when a step last succeeded
  bool target_faulted_ = false;  // an offerer of target_ was dropped or could not serve it
  std::optional<ledger::SnapshotImport::Pending> resume_;

  // Trust: the header of the target, proven by a hash chain from the trust point.
  std::optional<ledger::BlockHeader> header_;
  Bytes certificate_;
  std::optional<crypto::Hash256> want_hash_;  // the hash the next header down must have
  uint64_t want_height_ = 0;                  // its height
  std::optional<InFlight> headers_request_;
  std::optional<InFlight> single_request_;  // header part or manifest
  // Light trust (BFT without a trust point): the walk, its pending set request (`from` is the
  // height), the peers that lacked that set, the page size that fits one answer.
  std::unique_ptr<LightTrust> light_;
  std::optional<InFlight> set_request_;
  std::set<p2p::NodeId> set_lacking_;
  p2p::NodeId change_from_;               // who sent the header naming the set asked for
  p2p::NodeId last_pager_;                // who answered the last page: the next goes to another
  std::map<p2p::NodeId, uint64_t> page_;  // per peer: the page size its answers fit
  Bytes manifest_bytes_;

  std::unique_ptr<ledger::SnapshotImport> import_;
  std::vector<uint32_t> queue_;  // chunk indices to ask for, front first
  std::map<uint32_t, InFlight> in_flight_;
  std::map<uint32_t, std::set<p2p::NodeId>> tried_;  // who timed out on a chunk
  std::map<p2p::NodeId, uint32_t> load_;             // parts in flight per peer
  std::map<p2p::NodeId, uint64_t> paused_until_;     // a busy server: not asked before
  uint64_t total_chunks_ = 0;
  uint64_t done_chunks_ = 0;
  uint64_t done_bytes_ = 0;
  uint64_t start_bytes_ = 0;  // done_bytes_ when the fetch began (resumed ones excluded)
  uint64_t fetch_start_ms_ = 0;
  uint64_t last_progress_ms_ = 0;

  Counts counts_;
  std::unique_ptr<ledger::ChainStore> store_;
};

}  // namespace cairn::node
