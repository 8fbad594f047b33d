// The chain store: blocks, the transaction index, receipts, account state and the head,
// in one KvStore. Committing a block is ONE synced WriteBatch, so a crash at any instant
// leaves either the old head or the new one, never a mix.
// Thread-safety: reads may run concurrently with each other and with one committer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/executor.h"
#include "ledger/kv.h"
#include "ledger/receipt.h"
#include "ledger/snapshot.h"
#include "ledger/state.h"

namespace cairn::ledger {

// Key layout (one-byte prefix, then a big-endian height so keys sort by height):
//   'M' name               metadata: "format" (u32), "genesis" (hash), "chain_id" (bytes),
//                          "head" (height u64, hash fixed[32], state_root fixed[32]),
//                          "undo_from" (u64: the lowest height whose state is provable)
//   'B' height:u64be       Block encoding, or BodyRef := 0xffffffff:u32 hash:fixed[32] when
//                          the block's encoding is already stored under 'K' hash
//   'K' hash               a block's encoding, stored once by hash: written with the Raft log
//                          record that carries the block (node/engine_store.cpp), adopted by a
//                          'B' BodyRef when the block commits, deleted with its record when
//                          that is truncated before the block commits
//   'H' hash               height u64
//   'T' tx hash            TxLocation (height u64, index u32)
//   'R' height:u64be       Receipts of the block
//   'Q' height:u64be       the block's proof of finality (a BFT commit certificate), opaque
//   'S' state key          state value (see state.h for state keys)
//   'U' height:u64be       the undo record of the block: what its writes replaced, for
//                          proofs at earlier heights; kept for heights above 'M' "undo_from"
//                          UndoRecord := count:u32 (key:bytes present:u8 [value:bytes])^count,
//                          keys ascending, bytes := len:u32 byte^len; present 0: was absent
//   'P' height:u64be       a block's header encoding once its body is pruned (or was never
//                          fetched: heights at and below a state-synced node's base)
//   'M' "blocks_from"      u64: the lowest height above 0 whose body, receipts and tx index
//                          are kept (absent: 1, nothing pruned); block 0 is always kept
//   'M' "headers_from"     u64: the lowest height above 0 whose header is kept (absent: 1;
//                          above 1 only on a state-synced node whose header backfill has not
//                          reached height 1)
//   'M' "synced_at"        u64: the height this store was state-synced at (absent: never)
//   'M' "import"           an import in progress: ImportRecord := manifest:bytes
//                          header:bytes certificate:bytes genesis_hash:fixed[32]
//   'I' index:u32be        an import in progress: chunk `index` is written (empty value)
//   Pruning deletes 'B', 'R', the 'T' entries of the block's transactions and a 'K' body a
//   'B' BodyRef adopted; 'H' (hash -> height) and 'Q' (certificates) are kept for every
//   height forever. It never deletes the body of a block that the lowest Raft span record
//   ('C' 'm', below) still names, so the engine's log always loads.
//   'C' ...                the node's consensus keys, written by node/engine_store.cpp only:
//     'C' 'h'                the engine's hard state (persisted before its messages are sent)
//     'C' 'l' index:u64be    one engine log record (Raft entries); when 'C' 'm' has the
//                            same index, the record without its block's bytes
//     'C' 'm' index:u64be    where record 'C' 'l' index held a block: hash:fixed[32]
//                            offset:u32 (the block's bytes are under 'K' hash, or are the
//                            committed block of that hash)
//     'C' 'e' sha256         evidence of equivocation: recorded_ms:u64 evidence:bytes
//   The store never writes 'C' keys (Commit's `extra` batch may carry them); the pruner
//   reads the first 'C' 'm' record only, for its floor.
//   'V' set_hash:fixed[32] a validator set the node has seen (MemberSet), written by
//                          node/set_history.h only, never pruned: what GetValidators serves.
// Format 3 (PROTOCOL v2); formats 1 and 2 (v1 chains) are refused. Open rebuilds the head's
// state tree from the 'S' entries and checks its root against the head header.
struct Head {
  uint64_t height = 0;
  crypto::Hash256 hash;
  crypto::Hash256 state_root;
};

struct TxLocation {
  uint64_t height = 0;
  uint32_t index = 0;
};

// A state key's value (nullopt: absent) at a height with its StateProof (PROTOCOL §7.1).
struct StateProofAt {
  uint64_t height = 0;
  std::optional<Bytes> value;
  Bytes proof;
};

class ChainStore : public StateReader {
 public:
  // Opens the store in `kv`. An empty store is initialised with `genesis` (height 0) and its
  // state `genesis_state`; a non-empty one must hold the same genesis hash, else the error
  // says it belongs to another chain and nothing is written. Checks that the head block
  // exists, hashes to the recorded head hash, that its state root is the stored one, and
  // that the state tree of the 'S' entries has that root (kCorruption naming the height).
  // `build_tree` false skips the state tree (its scan and check): for a reader that checks
  // the state entry for entry itself (the audit), so a damaged entry is named, not just a
  // root. Such a store holds no tree: it refuses Commit, and proofs and HeadView are empty.
  // A head whose body is pruned or was never stored (a state-synced base: 'P' head) is
  // accepted by its header. A store with a snapshot import in progress is refused
  // (kRejected: "a state sync is in progress in this data dir; restart cairnd with state
  // sync to finish it").
  static Result<std::unique_ptr<ChainStore>> Open(std::unique_ptr<KvStore> kv, const Block& genesis,
                                                  const StateDiff& genesis_state,
                                                  bool build_tree = true);

  // Atomically appends `block` (REQUIRES: height == head + 1 and prev_hash == head hash,
  // else an error) with its receipts, tx index and state diff. When 'K' holds the block's
  // encoding (its Raft log record put it there), 'B' stores a reference to it instead of a
  // second copy. `exec` must be the result of executing `block` on the head state (its state
  // root is checked against the header). `extra` holds writes from the caller (e.g. consensus
  // state) that must land in the same batch; its keys may not use the store's own prefixes
  // (M B H K T R S Q). `certificate`, when not empty, is the engine's proof that the block is
  // final, stored in the same batch. sync=true: durable on return. head() moves only after
  // the batch is written, so whatever head() reports is readable.
  // Errors: kIoError when the batch could not be written (the disk failed; the block may be
  // fine), kRejected or kInvalidArgument when the block or `exec` breaks a requirement above.
  Status Commit(const Block& block, const ExecResult& exec, bool sync = true,
                const WriteBatch* extra = nullptr, ByteView certificate = {});

  Head head() const;
  // The head's state tree (of ledger::ProcessStateTree()), the parent of the next block.
  StateTree::View HeadView() const;
  // The state tree after block `height`: from memory for the last memory_versions heights,
  // else rebuilt from the undo records down to the retained floor (RetainedFrom), checked
  // against that header's state_root. kNotFound naming the window outside it.
  Result<StateTree::View> ViewAt(uint64_t height) const;
  // The value of `state_key` after block `height` (default: the head) and its proof against
  // that header's state_root. kNotFound naming the window when the height is not retained.
  Result<StateProofAt> ProveState(ByteView state_key, std::optional<uint64_t> height) const;
  static constexpr size_t kDefaultMemoryVersions = 16;
  // How many committed heights keep their tree in memory (state_tree.memory_versions; >= 1).
  void SetMemoryVersions(size_t n);
  static constexpr uint64_t kDefaultRetainHeights = 1000;
  // How many heights below the head stay provable (state_tree.retain_heights): undo records
  // older than that are deleted, in each commit's batch and here at once when the window
  // shrinks. A wider window fills as blocks commit (what was dropped stays dropped).
  Status SetRetainHeights(uint64_t n);
  // The lowest height whose state can be proven.
  uint64_t RetainedFrom() const;
  const crypto::Hash256& genesis_hash() const;
  // BlockAt, ReceiptsAt, and FindTx of a tx whose index entry survived a crash mid-prune:
  // kPruned for 0 < height < BlocksFrom(), naming the window ("block 12 is pruned: this node
  // keeps bodies from 900 (storage.retain_blocks)"). A pruned tx's index entry is deleted
  // with its block, so FindTx of it answers nullopt like an unknown tx: a caller that sees
  // nullopt on a store with BlocksFrom() > 1 cannot tell the two apart (RPC says so).
  // HeaderAt answers for every kept header (pruned bodies included); nullopt below
  // HeadersFrom() (except genesis) and above the head.
  Result<std::optional<Block>> BlockAt(uint64_t height) const;
  Result<std::optional<Block>> BlockByHash(const crypto::Hash256& hash) const;
  Result<std::optional<BlockHeader>> HeaderAt(uint64_t height) const;
  // The certificate committed with the block at `height`; nullopt when there is none (solo,
  // Raft, genesis) or no such block.
  Result<std::optional<Bytes>> CertificateAt(uint64_t height) const;
  // Its key, for readers of the raw key-value store (the audit).
  static Bytes CertificateKey(uint64_t height);
  // The key of a pruned block's header record ('P' height), for readers of the raw store.
  static Bytes PrunedHeaderKey(uint64_t height);
  // The key of block `height`'s undo record and its encoding (UndoRecord in the key table).
  static Bytes UndoKey(uint64_t height);
  static Bytes EncodeUndo(const StateDiff& undo);
  static Result<StateDiff> DecodeUndo(ByteView record);
  // For readers of the raw key-value store (the audit, the engine store): the encoding of
  // the block at `height`, through a BodyRef if it is one (checked to hash to the reference);
  // and the encoding of the block `hash`, from 'K' or else from the chain. nullopt: none.
  static Result<std::optional<Bytes>> BlockBytesAt(const KvStore& kv, uint64_t height);
  static Result<std::optional<Bytes>> BlockBytesByHash(const KvStore& kv,
                                                       const crypto::Hash256& hash);
  // Whether block `hash` is committed (in the hash index).
  static Result<bool> HasBlock(const KvStore& kv, const crypto::Hash256& hash);
  // The key of a block's encoding stored by hash ('K' hash).
  static Bytes BodyKey(const crypto::Hash256& hash);
  // The BodyRef in a 'B' value, if it is one.
  static std::optional<crypto::Hash256> BodyRefOf(ByteView stored_block);
  Result<std::optional<TxLocation>> FindTx(const crypto::Hash256& tx_hash) const;
  Result<std::optional<std::vector<Receipt>>> ReceiptsAt(uint64_t height) const;

  // StateReader over committed state. Against a concurrent Commit, a read may already see
  // the next block's state while head() still reports the previous block; execute on top of
  // the store only from the committing thread.
  std::optional<Account> GetAccount(const Address& a) const override;
  std::optional<Bytes> GetRecord(const Address& a, ByteView key) const override;
  std::optional<Bytes> GetSystem(std::string_view name) const override;
  // StateReader has no error channel, so the methods above report an I/O error or an
  // undecodable stored value as nullopt and record it here: the first such error since
  // Open, or ok. A node checks it after executing a block and before trusting the result.
  Status StateReadError() const;
  // Every state entry in key order (audit compares it against a replay).
  Status ScanState(const std::function<bool(ByteView key, ByteView value)>& fn) const;

  // ---- Pruning (docs/design/state-sync.md section 2) ----
  // Keeps the bodies, receipts and tx index of the last `n` blocks (storage.retain_blocks; 0
  // keeps everything, the default). After each commit (and here at once) the heights leaving
  // the window are pruned in unsynced batches: each pruned height keeps its header as a 'P'
  // record, its hash index and its certificate. The floor ('M' "blocks_from") moves in the
  // same batch as the deletions, so a crash leaves it consistent and the next run resumes.
  // A wider window does not bring anything back.
  Status SetRetainBlocks(uint64_t n);
  // Pruning deletes keys; the space comes back only when LevelDB compacts them. Due once
  // `every` heights (default kCompactEvery) were pruned since the last CompactPruned or, the
  // first time, since the floor this store opened with (an open that prunes that many at
  // once makes one due; what earlier runs pruned is left to LevelDB's own compactions).
  static constexpr uint64_t kCompactEvery = 4096;
  void SetCompactEvery(uint64_t every);
  bool CompactionDue() const;
  // Compacts the key ranges pruning emptied (bodies, receipts and the tx index below the
  // floor, and the undo records state_tree.retain_heights let go): blocks for as long as that
  // takes, so the node runs it on a background thread; safe concurrently with commits and reads.
  void CompactPruned();
  // Never prune height `limit` or above (0: no limit beyond the window and the Raft log's
  // own records, which the store reads itself). For a caller that still needs bodies.
  void SetPruneFloorLimit(uint64_t limit);
  // The lowest height above 0 whose body, receipts and tx index are kept (1: nothing pruned;
  // head + 1 on a state-synced store before its first block). Block 0 is always kept.
  uint64_t BlocksFrom() const;
  // The lowest height above 0 whose header is kept (1 unless a state-synced store has not
  // backfilled its headers down to 1). Header 0 (genesis) is always kept.
  uint64_t HeadersFrom() const;
  // The height this store was state-synced at, or nullopt.
  std::optional<uint64_t> StateSyncedAt() const;
  // Header backfill of a state-synced store: (header, certificate) pairs in descending height
  // order, the first of height HeadersFrom() - 1, each accepted only if its hash is the
  // prev_hash of the header above it (and height 1's prev_hash is the genesis hash). Writes
  // them ('P', 'H', 'Q') and moves headers_from down in one synced batch; kRejected naming
  // the first header that does not link (nothing of the call is written then).
  Status PutHeadersBelow(std::span<const std::pair<BlockHeader, Bytes>> headers);

  KvStore& kv() { return *kv_; }
  const KvStore& kv() const { return *kv_; }

 private:
  ChainStore() = default;
  bool IsPruned(uint64_t height) const;
  // kPruned for `what` at `height`, naming the window kept.
  Status PrunedError(const std::string& what, uint64_t height) const;
  friend class SnapshotImport;
  struct Impl;
  std::unique_ptr<KvStore> kv_;
  std::shared_ptr<Impl> impl_;
};

// Writes a snapshot into an empty store, chunk by chunk and resumably (a state-synced node,
// `cairn snapshot import`; docs/design/state-sync.md section 2). Each AddChunk is one synced
// batch, so after a crash Begin on the same store and manifest resumes where it stopped.
// Thread-compatible: one caller at a time.
class SnapshotImport {
 public:
  // Begins an import into an empty `kv` (holding no chain), or resumes the one in progress
  // there if it is of the same manifest, header and genesis. `manifest` is checked against
  // `header` (VerifyManifest) and the header's chain id against the genesis block's.
  // `certificate` is stored with the header (may be empty: Raft, solo). Errors: kRejected for
  // a store that holds a chain, an import of another manifest ("an import of snapshot
  // <hash> at height <h> is in progress in this store"), or a manifest that fails; the store
  // is left as it was.
  static Result<std::unique_ptr<SnapshotImport>> Begin(std::unique_ptr<KvStore> kv,
                                                       const Block& genesis, ByteView manifest,
                                                       const BlockHeader& header,
                                                       ByteView certificate);
  ~SnapshotImport();

  // The import in progress in `kv` (its ImportRecord: the manifest encoding, header h and
  // certificate), or nullopt when there is none: how a restarted node knows which snapshot
  // to resume before it asks its peers for it. kCorruption for a record that does not decode.
  struct Pending {
    Bytes manifest;
    BlockHeader header;
    Bytes certificate;
  };
  static Result<std::optional<Pending>> PendingIn(const KvReader& kv);

  const Manifest& manifest() const;
  // The indices of the non-empty chunks not written yet, ascending.
  std::vector<uint32_t> Missing() const;
  // Verifies chunk `index` (VerifyChunk) and writes its entries with its 'I' record in one
  // synced batch. A chunk already written is accepted again without writing (ok).
  Status AddChunk(uint32_t index, ByteView chunk);
  // REQUIRES Missing() empty (else kRejected listing how many are missing). Builds the tree
  // from the written entries and checks its root against the header (kCorruption if not),
  // then writes in one synced batch: the genesis block, head = h, 'P' h, 'Q' h, blocks_from
  // = h + 1, headers_from = h, undo_from = h, synced_at = h, and deletes the import keys.
  // Returns the store opened as ChainStore::Open does; this object is spent afterwards.
  Result<std::unique_ptr<ChainStore>> Finish();

 private:
  SnapshotImport() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens (or creates, when the directory is absent or empty) the LevelDB chain store in
// `dir`, as a node does.
Result<std::unique_ptr<ChainStore>> OpenChainStore(const std::string& dir, const Block& genesis,
                                                   const StateDiff& genesis_state, bool create);

}  // namespace cairn::ledger
