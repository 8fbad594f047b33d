// State snapshots (docs/design/state-sync.md section 1, docs/PROTOCOL.md section 10): the
// state after block h cut into chunks by key-hash prefix, each chunk one subtree of the state
// tree and so verifiable alone, and the manifest that lists them and rebuilds the state root.
// Pure functions of their arguments (plus the KvReader BuildSnapshot scans); thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/kv.h"
#include "ledger/state_tree.h"

namespace cairn::ledger {

// A chunk's encoding aims at this size when choosing `bits`, and may never exceed the max.
inline constexpr size_t kTargetChunkBytes = 1u << 20;
inline constexpr size_t kMaxChunkBytes = 4u << 20;
// A state key is 1..161 bytes (RecordKey: 0x02 address key[1..128]); a value up to 8192.
inline constexpr size_t kMaxSnapshotKeyBytes = 161;
inline constexpr size_t kMaxSnapshotValueBytes = 8192;
// magic:4 height:8 index:4 count:4
inline constexpr size_t kChunkHeaderBytes = 20;
// The smallest SnapshotEntry: two lengths and a one-byte key.
inline constexpr size_t kMinSnapshotEntryBytes = 9;
// magic:4 version:1 height:8 state_root:32 bits:1 entries:8 bytes:8
inline constexpr size_t kManifestHeaderBytes = 62;
inline constexpr size_t kSlotBytes = 72;
inline constexpr unsigned kMaxSnapshotBits = 16;
inline constexpr size_t kMaxManifestBytes = kManifestHeaderBytes + (kSlotBytes << kMaxSnapshotBits);

// One state entry: a state key ('S' key without the prefix) and its value.
struct SnapshotEntry {
  Bytes key;
  Bytes value;
  friend bool operator==(const SnapshotEntry&, const SnapshotEntry&) = default;
};

// Slot := count:u32 size:u32 subtree:fixed[32] chunk_hash:fixed[32]
struct SnapshotSlot {
  uint32_t count = 0;          // entries in the chunk
  uint32_t size = 0;           // the Chunk encoding's length; 0 iff count == 0
  crypto::Hash256 subtree;     // T(entries, bits): Empty for none, the LeafHash for one
  crypto::Hash256 chunk_hash;  // SHA-256 of the Chunk encoding; zero for an empty slot
  friend bool operator==(const SnapshotSlot&, const SnapshotSlot&) = default;
};

// Manifest := magic "CSM1" version:u8 (=1) height:u64 state_root:fixed[32] bits:u8
//             entries:u64 bytes:u64 Slot^(2^bits)
struct Manifest {
  static constexpr uint8_t kVersion = 1;
  uint64_t height = 0;
  crypto::Hash256 state_root;
  uint8_t bits = 0;  // one of 0, 4, 8, 12, 16
  uint64_t entries = 0;
  uint64_t bytes = 0;
  std::vector<SnapshotSlot> slots;  // 2^bits

  // REQUIRES: slots.size() == 2^bits.
  Bytes Encode() const;
  // Strict: refuses a wrong magic or version, bits not in {0,4,8,12,16}, a length other than
  // the one `bits` implies (checked before any slot is read), a slot whose size exceeds
  // kMaxChunkBytes or cannot hold its count, an empty slot with a size, subtree or hash, and
  // sums that disagree with `entries` / `bytes`. kInvalidArgument naming field and offset.
  static Result<Manifest> Decode(ByteView b);
  // ManifestHash := SHA-256(Manifest encoding): names the snapshot on the wire.
  crypto::Hash256 Hash() const;
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// Chunk := magic "CSC1" height:u64 index:u32 count:u32 SnapshotEntry^count,
// SnapshotEntry := state_key:bytes value:bytes
struct SnapshotChunk {
  uint64_t height = 0;
  uint32_t index = 0;
  std::vector<SnapshotEntry> entries;  // strictly ascending KeyHash

  Bytes Encode() const;
  // Bounded and strict on the layout (lengths, count against what remains, trailing bytes);
  // the order and prefix rules are VerifyChunk's. Refuses more than kMaxChunkBytes at once.
  static Result<SnapshotChunk> Decode(ByteView b);
};

// Whether `bits` is a chunking the format allows (0, 4, 8, 12 or 16).
bool ValidSnapshotBits(unsigned bits);

// The `bits`-bit prefix of a key hash, as a chunk index. REQUIRES: bits <= 16.
uint32_t KeyHashPrefix(const crypto::Hash256& key_hash, unsigned bits);

// T(entries, depth) of state-tree.md section 2 over entries sorted by key hash (ascending,
// no key hash twice) that all share their first `depth` bits: Empty for none, the LeafHash
// for one, else NodeHash of the two halves split at bit `depth`. RootOf is this at depth 0.
crypto::Hash256 SubtreeHash(std::span<const TreeEntry> sorted, unsigned depth);

// Folds the manifest's slots from depth `bits` up to the root with the leaf-rises rule (a
// node with one Empty child and one child holding exactly one entry is that child).
// REQUIRES: slots.size() == 2^bits.
crypto::Hash256 FoldSlots(std::span<const SnapshotSlot> slots, unsigned bits);

// A manifest against a trusted header (height, state_root): the layout rules of Decode, then
// height and state_root match, then the slots fold to state_root. kRejected saying which
// check failed ("manifest: height 40 is not the trusted header's 41", "manifest: the slots
// fold to 3fa2..., not the header's state_root 9c01...").
Status VerifyManifest(const Manifest& manifest, uint64_t height, const crypto::Hash256& state_root);
Status VerifyManifest(const Manifest& manifest, const BlockHeader& header);

// Chunk `index` of a verified manifest, cheap checks first: size == slot size (before
// decoding), magic, height, index, count, SHA-256 == chunk_hash, then each entry's lengths,
// KeyHash strictly ascending with prefix `index`, and T(entries, bits) == slot subtree.
// kRejected (or kInvalidArgument for a layout error) naming the first failed check, with
// "chunk <index>: " in front. The entries on success.
Result<std::vector<SnapshotEntry>> VerifyChunk(const Manifest& manifest, uint32_t index,
                                               ByteView chunk);

struct SnapshotBuildOptions {
  // Entries held in memory at once while building chunks: chunks are built in groups whose
  // encodings add up to at most this (one chunk always fits: it is <= kMaxChunkBytes), each
  // group costing one more scan of the state.
  size_t max_memory_bytes = 64u << 20;
  // For tests: the largest chunk wanted (bits are chosen so that every chunk fits in it).
  size_t target_chunk_bytes = kTargetChunkBytes;
};

// Builds the snapshot of the `S` entries in `state` (a pinned KvSnapshot or a store, holding
// the chain store's keys) as the state after block `height`: pass 1 counts bytes per 16-bit
// key-hash prefix and picks bits (the smallest whose largest chunk is <= the target;
// kRejected when even 16 bits leaves a chunk over kMaxChunkBytes); then chunks are built in
// index order, in groups of at most max_memory_bytes, and on_chunk is called for each
// non-empty chunk (an error from it stops the build and is returned). *manifest_out gets the
// Manifest encoding. kCorruption when the entries' root is not `state_root`, or when an entry
// breaks the format's bounds (a key or value too long).
Status BuildSnapshot(const KvReader& state, uint64_t height, const crypto::Hash256& state_root,
                     const std::function<Status(uint32_t index, Bytes chunk)>& on_chunk,
                     Bytes* manifest_out, const SnapshotBuildOptions& options = {});

}  // namespace cairn::ledger
