// CompactRelay: sends engine messages that carry blocks as CompactConsensus (each block's
// transactions as hashes), rebuilds received ones from the mempool and a cache of recent
// blocks, and fetches what is missing from the sender (GetBlockTxs / BlockTxs), parking the
// message meanwhile within per-peer and total bounds and a deadline. A message that cannot
// be completed is dropped: the engines' own retransmissions, round timeouts and block sync
// recover (docs/CONSENSUS.md, "Compact blocks").
// Thread-safety: loop thread only, except stats() (any thread; atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "genesis/genesis.h"
#include "node/compact_blocks.h"
#include "node/network.h"

namespace cairn::node {

class CompactRelay {
 public:
  struct Options {
    bool enabled = true;  // off: engine messages go whole (receiving still works)
    // Messages waiting, compact or queued whole behind them (a BFT proposer's votes follow
    // its proposal).
    size_t max_parked_per_peer = 64;
    size_t max_parked = 256;
    size_t max_parked_bytes_per_peer = 32u << 20;
    size_t max_parked_bytes = 128u << 20;
    // A message missing transactions waits this long for gossip that is still being
    // admitted here (it travels ahead on the same connection, but admission runs on another
    // thread) before it asks the sender; 0: ask at once.
    uint64_t fetch_delay_ms = 50;
    uint64_t fetch_timeout_ms = 2000;
    // Recent blocks (sent or rebuilt) kept to answer fetches and to rebuild retransmissions
    // whose transactions the mempool already dropped at commit.
    size_t recent_blocks = 64;
    size_t recent_bytes = 64u << 20;
  };
  // Counters since start (loop thread writes; any thread reads).
  struct Stats {
    uint64_t compact_sent = 0;      // CompactConsensus messages sent
    uint64_t whole_bytes = 0;       // what those would have been whole
    uint64_t compact_bytes = 0;     // what they were
    uint64_t compact_received = 0;  // CompactConsensus messages received
    uint64_t rebuilt_local = 0;     // ... rebuilt at once from the mempool and recent blocks
    uint64_t fetches = 0;           // GetBlockTxs sent
    uint64_t fetched_txs = 0;       // transactions asked for
    uint64_t completed = 0;         // parked messages completed (by a fetch or the mempool)
    uint64_t dropped = 0;      // parked messages given up: timeout, refused answer, over bounds
    uint64_t bad_answers = 0;  // BlockTxs with a wrong transaction (the peer is dropped)
    uint64_t served = 0;       // GetBlockTxs answered
  };
  // What the mempool holds: fills each empty out[i] with the bytes of hashes[i], if held.
  using TxLookup =
      std::function<void(std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out)>;

  CompactRelay(genesis::ConsensusKind kind, TxLookup lookup, const Clock& clock, Options options);

  // Sends an engine message to `to`: compact when it carries blocks (and compaction is on).
  Status Send(Network& net, const p2p::NodeId& to, Bytes engine_message);
  // A CompactConsensus from `from`: the rebuilt engine message when every transaction was
  // found; nullopt when it was parked (a fetch went out) or refused (malformed input
  // disconnects the peer).
  std::optional<Bytes> OnCompact(Network& net, const p2p::NodeId& from, ByteView payload);
  // Whether messages from `from` wait here: its next engine message, whole or compact, must
  // queue behind them (QueueWhole) so the engine sees them in the order they were sent.
  bool Holds(const p2p::NodeId& from) const;
  void QueueWhole(const p2p::NodeId& from, ByteView message);
  // Answers a GetBlockTxs from the recent blocks (count 0 when the block is gone).
  void OnGetBlockTxs(Network& net, const p2p::NodeId& from, ByteView payload);
  // A BlockTxs: the engine messages it completed, in the order they arrived.
  std::vector<Bytes> OnBlockTxs(Network& net, const p2p::NodeId& from, ByteView payload);
  // Every tick: once a parked message's fetch delay is over, completes it if its
  // transactions reached the mempool since, else asks the sender for what is still missing;
  // drops those past their deadline; returns what completed, with senders, to be stepped.
  struct Completed {
    p2p::NodeId from;
    Bytes message;
  };
  std::vector<Completed> Tick(Network& net);

  Stats stats() const;
  size_t parked() const { return parked_.size(); }

 private:
  struct RecentBlock {
    Bytes data;
    std::vector<std::pair<uint32_t, uint32_t>> txs;  // [offset, size) of each transaction
    std::vector<crypto::Hash256> hashes;
  };
  struct PendingBlock {
    crypto::Hash256 hash;
    Bytes prefix;
    std::vector<crypto::Hash256> hashes;
    std::vector<Bytes> txs;  // empty where still missing
    size_t missing = 0;
  };
  struct Parked {
    p2p::NodeId from;
    uint64_t fetch_at_ms = 0;
    bool fetched = false;
    uint64_t deadline_ms = 0;
    Bytes skeleton;
    std::vector<PendingBlock> blocks;
    size_t missing = 0;
    size_t bytes = 0;
    // The engine message, once complete; it waits for the earlier ones from its peer.
    std::optional<Bytes> ready;
  };

  // The block's layout and hashes, from the recent blocks or computed (and remembered).
  const RecentBlock* Remember(const crypto::Hash256& hash, Bytes data);
  // Fills what the recent blocks hold, then asks the mempool for the rest.
  void Find(std::span<const crypto::Hash256> hashes, std::vector<Bytes>& out) const;
  // Fills what the mempool and recent blocks now hold; true when nothing is missing.
  bool Fill(Parked& p) const;
  // The engine message of a complete parked message; its blocks join the recent ones.
  std::optional<Bytes> Finish(Parked p);
  void Drop(uint64_t id);
  // Parks `p` within the bounds; nullptr (counted dropped) past them.
  Parked* Admit(Parked p);
  // The complete messages at the front of `from`'s queue, in arrival order, taken out.
  std::vector<Bytes> Release(const p2p::NodeId& from);
  void SendFetches(Network& net, Parked& p);
  void Count(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  const genesis::ConsensusKind kind_;
  const TxLookup lookup_;
  const Clock& clock_;
  const Options o_;

  std::unordered_map<crypto::Hash256, RecentBlock, crypto::Hash256Hasher> recent_;
  std::deque<crypto::Hash256> recent_order_;
  size_t recent_bytes_ = 0;
  // Transaction hash -> (block, index) over the recent blocks.
  std::unordered_map<crypto::Hash256, std::pair<crypto::Hash256, uint32_t>, crypto::Hash256Hasher>
      recent_txs_;

  uint64_t next_id_ = 1;
  std::map<uint64_t, Parked> parked_;  // by arrival
  size_t parked_bytes_ = 0;

  struct AtomicStats {
    std::atomic<uint64_t> compact_sent{0}, whole_bytes{0}, compact_bytes{0}, compact_received{0},
        rebuilt_local{0}, fetches{0}, fetched_txs{0}, completed{0}, dropped{0}, bad_answers{0},
        served{0};
  };
  AtomicStats s_;
};

}  // namespace cairn::node
