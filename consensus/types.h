// Vocabulary shared by every consensus engine: replica ids, opaque blocks, the Ready batch
// and the status summary. Plain value types, thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace cairn::consensus {

// A replica's address between the node and its engine (Step's sender, OutboundMessage::to,
// EngineStatus): the validator's member id, stable across set changes and key rotations.
// The genesis validators are 0..n-1 in genesis order; the node maps an id to the
// validator's public key and to its p2p connection. (Inside BFT messages a voter is named by
// its index in the set of the message's height instead: consensus/bft/validator_set.h.)
using ReplicaId = uint32_t;
inline constexpr ReplicaId kNoReplica = std::numeric_limits<ReplicaId>::max();

// One member of a validator set: its stable member id and the key its votes are signed with.
// A set is sorted by id, ids distinct.
struct ValidatorInfo {
  ReplicaId id = kNoReplica;
  crypto::PublicKey consensus_key;

  friend bool operator==(const ValidatorInfo&, const ValidatorInfo&) = default;
};

// A block as consensus sees it: its height, its hash (computed by the ledger over the
// canonical header) and its encoding, which consensus never interprets.
struct Block {
  uint64_t height = 0;
  crypto::Hash256 hash;
  Bytes data;
  // Proof of finality, engine-encoded, set on committed blocks by engines that sign votes
  // (BFT: a commit certificate of 2f+1 precommit signatures). Empty for solo and Raft.
  // Not part of the block hash: the node stores it beside the block.
  Bytes certificate;

  friend bool operator==(const Block&, const Block&) = default;
};

// A position in the chain: the block at `height` has hash `hash`.
struct BlockRef {
  uint64_t height = 0;
  crypto::Hash256 hash;

  friend bool operator==(const BlockRef&, const BlockRef&) = default;
};

// One record of an engine's write-ahead log, keyed by a dense index. The bytes are the
// engine's own canonical encoding; the node stores them without looking inside.
struct LogRecord {
  uint64_t index = 0;
  Bytes data;
  // Set when data[block_offset, block_offset + block_size) is the encoding of the block
  // `block_hash` (a Raft block entry). The node may then store those bytes once, by hash,
  // where its ledger reuses them when the block commits, and keep the rest of `data` in the
  // record; it must hand `data` back whole on restart.
  std::optional<crypto::Hash256> block_hash = std::nullopt;
  size_t block_offset = 0;
  size_t block_size = 0;

  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

struct OutboundMessage {
  ReplicaId to = kNoReplica;
  Bytes payload;  // the engine's canonical encoding; deliver to `to` via Engine::Step
};

// Everything the engine asks the node to do, in the order the node must do it.
// The node takes a Ready with Engine::TakeReady(), carries out steps 1-3 and then calls
// Engine::Advance(); it must not take another Ready before that.
struct Ready {
  // ---- 1. PERSIST, durably (fsync) and atomically as one batch, BEFORE sending any of
  // `messages`: a vote, term or acknowledged entry that is sent and then lost in a crash
  // lets a restarted node vote twice in a term or forget an entry a leader counted
  // towards a commit. Apply the fields in this order within the batch:
  //
  // Replace the stored hard state (engine-encoded) with this.
  std::optional<Bytes> hard_state;
  // Delete stored records with index >= truncate_from (a follower discarding a
  // conflicting, uncommitted suffix), before appending `append`.
  std::optional<uint64_t> truncate_from;
  // Store these records (contiguous, increasing indices) after any truncation.
  std::vector<LogRecord> append;
  // Records with index <= discard_through are no longer needed and may be deleted,
  // in this batch or lazily later (the hard state above already records the new base).
  std::optional<uint64_t> discard_through;

  // ---- 2. SEND, after persisting. Delivery may be lossy, duplicated and reordered.
  std::vector<OutboundMessage> messages;

  // ---- 3. SYNC, then APPLY, after persisting. `sync_to` is set when the cluster has
  // committed blocks this node no longer can get from consensus (they were compacted
  // away): fetch and apply blocks (applied, sync_to.height] through block sync and check
  // the last one has sync_to.hash, then call Engine::SyncCompleted(). Until then the
  // engine hands out no committed blocks.
  std::optional<BlockRef> sync_to;
  // Blocks decided by consensus: apply them in this order (heights are consecutive and
  // continue from the last applied block). They are durable in the cluster already.
  std::vector<Block> committed;

  // ---- 4. RECORD. Misbehaviour newly proven since the last Ready (BFT: two conflicting
  // signed votes of one validator), engine-encoded. Keep, log and expose it; it is not
  // needed for safety, so it may be stored after the batch above.
  std::vector<Bytes> evidence;

  bool empty() const {
    return !hard_state && !truncate_from && append.empty() && !discard_through &&
           messages.empty() && !sync_to && committed.empty() && evidence.empty();
  }
};

// Roles are named after Raft's; a BFT engine reports its primary as kLeader, backups as
// kFollower and a replica in a view change as kCandidate.
enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

inline std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

// A snapshot for RPC and for tests. For BFT engines `term` is the view number.
struct EngineStatus {
  ReplicaId id = kNoReplica;
  Role role = Role::kFollower;
  uint64_t term = 0;
  ReplicaId leader = kNoReplica;  // kNoReplica when unknown
  uint64_t commit_height = 0;     // highest block height known committed
  uint64_t applied_height = 0;    // highest block height handed to the node (or synced)
  uint64_t last_log_height = 0;   // highest block height in the local log, maybe uncommitted
  // Raft with member changes: a member that does not vote yet, and one that applied its own
  // removal (it votes, campaigns and acknowledges no more). Always false elsewhere.
  bool learner = false;
  bool removed = false;
};

}  // namespace cairn::consensus
