// Raft's log entries, hard state and messages, with their canonical binary encodings
// (grammar in messages.cpp and docs/CONSENSUS.md). Plain value types, thread-compatible.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/types.h"
#include "crypto/sha256.h"

namespace cairn::consensus::raft {

// Upper bounds a decoder enforces before allocating. Blocks are expected around 300 KiB;
// the p2p layer may impose a lower frame limit.
inline constexpr size_t kMaxBlockBytes = 16u << 20;
inline constexpr uint32_t kMaxEntriesPerMessage = 1u << 16;

// Promotions a hard state or snapshot carries at most (one per member ever added; ids are
// never reused).
inline constexpr uint32_t kMaxPromotions = 1u << 16;

// A log entry is a block, a no-op or a promotion. A leader appends a no-op when elected so
// that entries of earlier terms can commit (Raft section 5.4.2: only entries of the current
// term commit by counting replicas). A promotion makes a caught-up learner a voter when it
// is applied (etcd's learners, but engine-internal: no block, no governance round). Only
// block entries advance the chain height.
enum class EntryType : uint8_t { kNoop = 0, kBlock = 1, kPromote = 2 };

struct Entry {
  uint64_t index = 0;  // position in the log; implied on the wire and by the record key
  uint64_t term = 0;
  EntryType type = EntryType::kNoop;
  // kBlock: the block's height. kNoop, kPromote: the height of the last block before it, so
  // every entry knows the chain height at its position and heights never need a log scan.
  uint64_t height = 0;
  crypto::Hash256 hash;  // kBlock only; zero otherwise
  Bytes data;            // kBlock only; empty otherwise
  ReplicaId member = 0;  // kPromote only: the learner that becomes a voter; 0 otherwise

  bool is_block() const { return type == EntryType::kBlock; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

// The compacted prefix of the log: entries up to and including `index` are committed,
// applied by the node and no longer stored. `block` is the last block at or before it.
// A fresh log's base is index 0, term 0 and the genesis block.
struct LogBase {
  uint64_t index = 0;
  uint64_t term = 0;
  BlockRef block;

  friend bool operator==(const LogBase&, const LogBase&) = default;
};

// A promotion applied at log index `index`: member `id` votes from there on.
struct Promotion {
  uint64_t index = 0;
  ReplicaId id = 0;

  friend bool operator==(const Promotion&, const Promotion&) = default;
};

// What Raft persists besides the log (Figure 2: currentTerm, votedFor) plus the commit
// index (so a restart re-applies without waiting for a leader), the log base, and the
// promotions applied so far (the member set itself is the node's state; which members vote
// is the engine's, and a promote entry may be compacted away).
struct HardState {
  uint64_t term = 0;
  ReplicaId vote = kNoReplica;
  uint64_t commit = 0;
  LogBase base;
  std::vector<Promotion> promoted;  // by index

  friend bool operator==(const HardState&, const HardState&) = default;
};

enum class MsgType : uint8_t {
  kApp = 1,  // AppendEntries (Figure 2)
  kAppResp = 2,
  kVote = 3,  // RequestVote (Figure 2)
  kVoteResp = 4,
  kPreVote = 5,  // RequestVote for term+1 that changes no state (thesis 9.6)
  kPreVoteResp = 6,
  kHeartbeat = 7,  // empty AppendEntries that carries min(commit, follower's match)
  kHeartbeatResp = 8,
  kSnapshot = 9,     // "the log before base is compacted; block-sync to base.block"
  kTimeoutNow = 10,  // leadership transfer: "campaign now" (thesis 3.10)
};

std::string_view MsgTypeName(MsgType t);

// One struct for every message type, like etcd's raftpb.Message; each type encodes only
// the fields it uses. The sender is not encoded: the transport authenticates it.
struct Message {
  MsgType type = MsgType::kHeartbeat;
  uint64_t term = 0;
  // kApp: index/term of the entry before `entries`. kVote/kPreVote: the candidate's last
  // index/term. kAppResp: the index acknowledged, or the rejected prev index.
  uint64_t index = 0;
  uint64_t log_term = 0;
  uint64_t commit = 0;  // kApp, kHeartbeat
  bool reject = false;  // kAppResp, kVoteResp, kPreVoteResp
  // kAppResp when rejecting: the follower's best guess of where its log could match the
  // leader's (index, and its term there) so the leader skips a whole term per round trip.
  uint64_t reject_hint = 0;
  uint64_t hint_term = 0;
  std::vector<Entry> entries;  // kApp; indices index+1, index+2, ...
  LogBase snapshot;            // kSnapshot
  // kSnapshot: the promotions applied at or before snapshot.index, so a replica that
  // block-syncs past them agrees on who votes.
  std::vector<Promotion> promoted;
  // kVote: the campaign follows a TimeoutNow, so receivers drop their leader lease (the
  // leader asked for it).
  bool transfer = false;

  friend bool operator==(const Message&, const Message&) = default;
};

Bytes EncodeMessage(const Message& m);
// Entries get their indices from m.index. Rejects unknown types, truncated, oversized and
// trailing input with an error that names the field and offset.
Result<Message> DecodeMessage(ByteView in);

// A persisted log record holds one entry without its index (the record key).
Bytes EncodeEntry(const Entry& e);
// Where a block entry's data starts in EncodeEntry's output (term, type, height, hash, length).
inline constexpr size_t kEntryDataOffset = 8 + 1 + 8 + 32 + 4;
Result<Entry> DecodeEntry(ByteView in, uint64_t index);

Bytes EncodeHardState(const HardState& hs);
Result<HardState> DecodeHardState(ByteView in);

}  // namespace cairn::consensus::raft
