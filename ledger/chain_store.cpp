// Stored encodings (codec.h integers, little endian; keys use big-endian heights so that
// byte order is height order):
//   key   'M' name                value
//         "format"                u32 (3: PROTOCOL v2; 1 and 2 were v1 chains)
//         "genesis"               fixed[32]
//         "chain_id"              bytes[1..64]
//         "head"                  Head := height:u64 hash:fixed[32] state_root:fixed[32]
//   key   'B' height:u64be        Block (block.h), or BodyRef := 0xffffffff:u32 hash:fixed[32]
//                                 (no Block encoding starts with that header length)
//   key   'K' hash:fixed[32]      Block: a block's encoding stored once, by hash (see .h)
//   key   'H' hash:fixed[32]      height:u64
//   key   'T' tx_hash:fixed[32]   TxLocation := height:u64 index:u32
//   key   'R' height:u64be        Receipts (receipt.h)
//   key   'Q' height:u64be        the block's proof of finality (engine-encoded; BFT only)
//   key   'S' state key           state value (state.h)
//   key   'P' height:u64be        BlockHeader (block.h) of a block whose body is pruned
//   key   'I' index:u32be         (empty): chunk `index` of the import in progress is written
//         'M' "blocks_from", "headers_from", "synced_at", "undo_from"   u64
//         'M' "import"            ImportRecord := manifest:bytes header:bytes certificate:bytes
//                                 genesis_hash:fixed[32]
#include "ledger/chain_store.h"

#include <deque>

#include <algorithm>
#include <atomic>

#include "base/codec.h"
#include "base/mutex.h"
#include "ledger/state_tree.h"

namespace cairn::ledger {

using codec::Reader;
using codec::Writer;
namespace {

// Formats 1 and 2 hold PROTOCOL v1 chains (the chained state digest, v1 headers); format 3
// holds v2 chains, whose state root is the state tree's. No migration: a v1 chain is
// re-created from its genesis file.
constexpr uint32_t kFormatVersion = 3;
constexpr uint8_t kMetaPrefix = 'M';
constexpr uint8_t kBlockPrefix = 'B';
constexpr uint8_t kHashPrefix = 'H';
constexpr uint8_t kTxPrefix = 'T';
constexpr uint8_t kReceiptsPrefix = 'R';
constexpr uint8_t kStatePrefix = 'S';
constexpr uint8_t kCertificatePrefix = 'Q';
constexpr uint8_t kBodyPrefix = 'K';
constexpr uint8_t kUndoPrefix = 'U';
constexpr uint8_t kPrunedHeaderPrefix = 'P';
constexpr uint8_t kImportPrefix = 'I';
constexpr size_t kBodyRefBytes = 4 + 32;
// The largest BlockHeader encoding (see block.cpp), to read a header without its block.
constexpr size_t kMaxHeaderBytes =
    1 + 4 + kMaxChainId + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32 + 4 + 4 + kMaxConsensusData;

bool IsReservedPrefix(uint8_t p) {
  return p == kMetaPrefix || p == kBlockPrefix || p == kHashPrefix || p == kTxPrefix ||
         p == kReceiptsPrefix || p == kStatePrefix || p == kCertificatePrefix || p == kBodyPrefix ||
         p == kUndoPrefix || p == kPrunedHeaderPrefix || p == kImportPrefix;
}

// Sized up front and copied: GCC 12 at -O2 warns (-Warray-bounds, a false positive) on
// inserting into a vector built from an initializer list.
Bytes PrefixedKey(uint8_t prefix, ByteView rest) {
  Bytes k(1 + rest.size());
  k[0] = prefix;
  std::copy(rest.begin(), rest.end(), k.begin() + 1);
  return k;
}

Bytes MetaKey(std::string_view name) { return PrefixedKey(kMetaPrefix, AsBytes(name)); }

Bytes HeightKey(uint8_t prefix, uint64_t height) {
  Bytes k(9);
  k[0] = prefix;
  for (int i = 0; i < 8; ++i) k[1 + i] = static_cast<uint8_t>(height >> (8 * (7 - i)));
  return k;
}

Bytes HashKey(uint8_t prefix, const crypto::Hash256& h) { return PrefixedKey(prefix, h.view()); }

Bytes PrefixedStateKey(ByteView state_key) { return PrefixedKey(kStatePrefix, state_key); }

Bytes EncodeHead(const Head& h) {
  Writer w;
  w.U64(h.height).Fixed(h.hash).Fixed(h.state_root);
  return w.Take();
}

Result<Head> DecodeHead(ByteView b) {
  Reader r(b, "head record");
  Head h;
  r.U64(&h.height, "height");
  r.Fixed(&h.hash, "hash");
  r.Fixed(&h.state_root, "state_root");
  if (Status s = r.Finish(); !s.ok()) return s;
  return h;
}

Bytes EncodeU64(uint64_t v) {
  Writer w;
  w.U64(v);
  return w.Take();
}

Result<uint64_t> DecodeU64(ByteView b, std::string_view what) {
  Reader r(b, what);
  uint64_t v = 0;
  r.U64(&v, "value");
  if (Status s = r.Finish(); !s.ok()) return s;
  return v;
}

constexpr size_t kMaxStateKey = 1 + Address::kSize + kMaxRecordKey;

// Calls f(key, value) for each entry of an undo record in order, until f returns false.
template <typename F>
Status ForEachUndo(ByteView record, F&& f) {
  Reader r(record, "undo record");
  uint32_t count = 0;
  // An entry is at least a 4-byte key length, a 1-byte key and the presence byte.
  r.Count(&count, "count", 6, UINT32_MAX);
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    ByteView key, value;
    uint8_t present = 0;
    r.VarView(&key, kMaxStateKey, "key", 1);
    r.U8(&present, "present");
    if (present > 1) r.Fail("present", "is neither 0 nor 1");
    if (present == 1) r.VarView(&value, kMaxRecordValue, "value");
    if (!r.ok()) break;
    if (!f(key, present == 1 ? std::optional<ByteView>(value) : std::nullopt)) return Status::Ok();
  }
  return r.Finish();
}

Bytes EncodeTxLocation(const TxLocation& loc) {
  Writer w;
  w.U64(loc.height).U32(loc.index);
  return w.Take();
}

Result<TxLocation> DecodeTxLocation(ByteView b) {
  Reader r(b, "tx location");
  TxLocation loc;
  r.U64(&loc.height, "height");
  r.U32(&loc.index, "index");
  if (Status s = r.Finish(); !s.ok()) return s;
  return loc;
}

// Reads the header of a stored Block encoding without decoding its transactions.
Result<BlockHeader> DecodeStoredHeader(ByteView block_bytes) {
  Reader r(block_bytes, "block");
  ByteView header;
  if (!r.VarView(&header, kMaxHeaderBytes, "header")) return r.status();
  return BlockHeader::Decode(header);
}

Bytes EncodeBodyRef(const crypto::Hash256& hash) {
  Writer w;
  w.U32(0xffffffff).Fixed(hash);
  return w.Take();
}

// The genesis batch: block 0, its indexes, its (empty) receipts, the genesis state and the
// metadata, so an interrupted initialisation leaves an empty store.
Status Initialise(KvStore& kv, const Block& genesis, const StateDiff& genesis_state) {
  const BlockHeader& h = genesis.header;
  if (h.height != 0 || !h.prev_hash.IsZero() || !genesis.txs.empty()) {
    return Status::Error("genesis block must have height 0, a zero prev_hash and no transactions");
  }
  if (h.chain_id.empty() || h.chain_id.size() > kMaxChainId) {
    return Status::Error("genesis block has an invalid chain id");
  }
  if (crypto::Hash256 root = StateRootOf(genesis_state); root != h.state_root) {
    return Status::Error("genesis state has root " + crypto::ShortHex(root, 16) +
                         ", but the genesis block's state_root is " +
                         crypto::ShortHex(h.state_root, 16));
  }
  const crypto::Hash256 hash = genesis.Hash();
  WriteBatch batch;
  batch.Put(HeightKey(kBlockPrefix, 0), genesis.Encode());
  batch.Put(HashKey(kHashPrefix, hash), EncodeU64(0));
  batch.Put(HeightKey(kReceiptsPrefix, 0), EncodeReceipts({}));
  for (const auto& [key, value] : genesis_state) {
    if (value) batch.Put(PrefixedStateKey(key), *value);
  }
  Writer format;
  format.U32(kFormatVersion);
  batch.Put(MetaKey("format"), format.bytes());
  batch.Put(MetaKey("genesis"), hash.view());
  batch.Put(MetaKey("chain_id"), AsBytes(h.chain_id));
  batch.Put(MetaKey("head"), EncodeHead(Head{0, hash, h.state_root}));
  batch.Put(MetaKey("undo_from"), EncodeU64(0));
  return kv.Write(batch, /*sync=*/true);
}

}  // namespace

struct ChainStore::Impl {
  crypto::Hash256 genesis_hash;
  std::string chain_id;

  Mutex commit_mu;       // serialises Commit: its height check and write are one step
  bool has_tree = true;  // false: opened without the state tree (Open's build_tree)

  // Lock order: commit_mu, then head_mu (Commit publishes the new head last).
  mutable Mutex head_mu ACQUIRED_AFTER(commit_mu);
  Head head GUARDED_BY(head_mu);
  // The head block's header, which every commit asks for (the parent of the next block):
  // served from here, not by reading and decoding the whole head block again.
  std::optional<BlockHeader> head_header GUARDED_BY(head_mu);
  // The state trees of the last `memory_versions` committed heights, oldest first; the last
  // is the head's. Proofs at those heights are read from here.
  struct Version {
    uint64_t height = 0;
    StateTree::View view;
  };
  std::deque<Version> views GUARDED_BY(head_mu);
  size_t memory_versions GUARDED_BY(head_mu) = ChainStore::kDefaultMemoryVersions;
  // The lowest height whose state can still be proven ('M' "undo_from"): 'U' holds the undo
  // record of every height above it up to the head.
  uint64_t undo_from GUARDED_BY(head_mu) = 0;
  uint64_t retain_heights GUARDED_BY(head_mu) = ChainStore::kDefaultRetainHeights;
  // Pruning ('M' "blocks_from", "headers_from"): bodies, receipts and the tx index are kept
  // for [blocks_from, head], headers for [headers_from, head] and genesis.
  uint64_t blocks_from GUARDED_BY(head_mu) = 1;
  uint64_t headers_from GUARDED_BY(head_mu) = 1;
  std::optional<uint64_t> synced_at GUARDED_BY(head_mu);
  uint64_t retain_blocks GUARDED_BY(commit_mu) = 0;  // 0: keep every body
  uint64_t prune_floor_limit GUARDED_BY(commit_mu) = 0;
  // Pruned heights below this were compacted (CompactPruned); `compact_every` heights above
  // it make the next compaction due.
  uint64_t compacted_to GUARDED_BY(head_mu) = 1;
  uint64_t compact_every GUARDED_BY(head_mu) = ChainStore::kCompactEvery;

  // Trees of older retained heights are rebuilt from the 'U' records, one at a time (a flood
  // of deep getProof calls costs one core, not all), and the last few are kept.
  Mutex rebuild_mu ACQUIRED_BEFORE(head_mu);
  std::deque<Version> rebuilt GUARDED_BY(rebuild_mu);
  // A view rebuilt far below the head can pin most of a tree's nodes (~200 MB at 1M keys).
  static constexpr size_t kRebuiltKept = 2;
  std::atomic<bool> rebuilding{false};  // the gate in front of rebuild_mu

  void PushView(uint64_t height, StateTree::View view) REQUIRES(head_mu) {
    views.push_back(Version{height, std::move(view)});
    while (views.size() > std::max<size_t>(1, memory_versions)) views.pop_front();
  }

  mutable Mutex error_mu;
  mutable Status read_error GUARDED_BY(error_mu);  // the first hidden state read error

  // Prunes the heights that left the retain_blocks window (section 2 of state-sync.md).
  Status Prune(KvStore& kv) REQUIRES(commit_mu);

  void NoteReadError(const Status& s) const EXCLUDES(error_mu) {
    MutexLock lock(&error_mu);
    if (read_error.ok()) read_error = s;
  }
};

Result<std::unique_ptr<ChainStore>> ChainStore::Open(std::unique_ptr<KvStore> kv,
                                                     const Block& genesis,
                                                     const StateDiff& genesis_state,
                                                     bool build_tree) {
  if (!kv) return Status::Error("chain store: no key-value store");
  auto importing = kv->Get(MetaKey("import"));
  if (!importing.ok()) return importing.status().Wrap("chain store: reading the import record");
  if (importing.value()) {
    return Status::Rejected(
        "chain store: a state sync is in progress in this data dir; restart cairnd with state "
        "sync to finish it");
  }
  auto format = kv->Get(MetaKey("format"));
  if (!format.ok()) return format.status().Wrap("chain store: reading format version");
  if (!format.value()) {
    bool has_data = false;
    Status scan = kv->Scan({}, {}, [&](ByteView, ByteView) {
      has_data = true;
      return false;
    });
    if (!scan.ok()) return scan.Wrap("chain store");
    if (has_data) {
      return Status::Error("chain store: holds data but no format record; not a Cairn store");
    }
    if (Status s = Initialise(*kv, genesis, genesis_state); !s.ok()) {
      return s.Wrap("chain store: initialising");
    }
  } else {
    Reader r(*format.value(), "format record");
    uint32_t version = 0;
    r.U32(&version, "version");
    if (Status s = r.Finish(); !s.ok())
      return s.WithCode(StatusCode::kCorruption).Wrap("chain store");
    if (version != kFormatVersion) {
      std::string why = "chain store: format version " + std::to_string(version) +
                        " is not supported (this build reads version " +
                        std::to_string(kFormatVersion) + ")";
      if (version < kFormatVersion) {
        why +=
            ": the data dir holds a PROTOCOL v1 chain, whose state root this build does not "
            "compute; re-create the chain from its genesis file with an empty data dir";
      }
      return Status::Error(why);
    }
  }

  auto stored_genesis = kv->Get(MetaKey("genesis"));
  auto stored_chain = kv->Get(MetaKey("chain_id"));
  auto stored_head = kv->Get(MetaKey("head"));
  for (const auto* got : {&stored_genesis, &stored_chain, &stored_head}) {
    if (!got->ok()) return got->status().Wrap("chain store: reading metadata");
    if (!got->value()) return Status::Corruption("chain store: metadata is incomplete");
  }
  auto genesis_hash = crypto::Hash256::FromBytes(**stored_genesis);
  if (!genesis_hash) return Status::Corruption("chain store: genesis record is not a hash");
  const std::string chain_id = AsString(**stored_chain);
  if (*genesis_hash != genesis.Hash()) {
    return Status::Error("chain store: data dir belongs to chain \"" + chain_id + "\" / genesis " +
                         genesis_hash->ToHex() + ", not chain \"" + genesis.header.chain_id +
                         "\" / genesis " + genesis.Hash().ToHex());
  }
  // The chain id is not covered by the genesis hash check above (it is a copy kept for
  // Commit), so a damaged copy would pass here and halt the node at its next block.
  if (chain_id != genesis.header.chain_id) {
    return Status::Corruption(
        "chain store: the metadata record 'M' \"chain_id\" holds \"" + chain_id +
        "\", but the genesis (" + crypto::ShortHex(*genesis_hash, 16) + ") is of chain \"" +
        genesis.header.chain_id + "\"; the record is damaged (run `cairn audit`)");
  }
  auto head = DecodeHead(**stored_head);
  if (!head.ok()) return head.status().WithCode(StatusCode::kCorruption).Wrap("chain store");

  auto store = std::unique_ptr<ChainStore>(new ChainStore());
  store->kv_ = std::move(kv);
  store->impl_ = std::make_shared<Impl>();
  store->impl_->genesis_hash = *genesis_hash;
  store->impl_->chain_id = chain_id;
  {
    // Nothing else sees the store yet; the lock only keeps the analysis' rule uniform.
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->head = *head;
  }

  // Pruning and state sync metadata, read before the head: a head at or below a state-sync
  // base is a header ('P'), not a block.
  {
    uint64_t values[2] = {1, 1};
    const char* names[2] = {"blocks_from", "headers_from"};
    for (int i = 0; i < 2; ++i) {
      auto got = store->kv_->Get(MetaKey(names[i]));
      if (!got.ok()) return got.status().Wrap(std::string("chain store: reading ") + names[i]);
      if (!got.value()) continue;
      auto decoded = DecodeU64(**got, std::string(names[i]) + " record");
      if (!decoded.ok()) {
        return decoded.status().WithCode(StatusCode::kCorruption).Wrap("chain store");
      }
      values[i] = *decoded;
    }
    if (values[0] == 0 || values[1] == 0 || values[0] > head->height + 1 ||
        values[1] > head->height + 1 || values[1] > values[0]) {
      return Status::Corruption("chain store: blocks_from " + std::to_string(values[0]) +
                                " / headers_from " + std::to_string(values[1]) +
                                " do not fit the head " + std::to_string(head->height));
    }
    std::optional<uint64_t> synced_at;
    auto got = store->kv_->Get(MetaKey("synced_at"));
    if (!got.ok()) return got.status().Wrap("chain store: reading synced_at");
    if (got.value()) {
      auto decoded = DecodeU64(**got, "synced_at record");
      if (!decoded.ok()) {
        return decoded.status().WithCode(StatusCode::kCorruption).Wrap("chain store");
      }
      synced_at = *decoded;
    }
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->blocks_from = values[0];
    // Counted from the floor found: what an earlier run pruned is left to LevelDB's own
    // compactions; what this run prunes (an open with a shorter window too) counts.
    store->impl_->compacted_to = values[0];
    store->impl_->headers_from = values[1];
    store->impl_->synced_at = synced_at;
  }

  // The head must be a whole block: a head record without its block, receipts or index
  // means the store was written by something other than one Commit batch. A state-synced
  // store's head, until its first block, is the base's header alone.
  const std::string at = "chain store: head block " + std::to_string(head->height);
  const bool header_only = head->height > 0 && head->height < store->BlocksFrom();
  std::optional<Block> block;
  BlockHeader head_header;
  if (header_only) {
    auto header = store->HeaderAt(head->height);
    if (!header.ok()) return header.status().Wrap(at);
    if (!header.value()) {
      return Status::Corruption(at + " (a header only, its body not kept) is missing; the store " +
                                "is inconsistent");
    }
    head_header = std::move(*header.value());
  } else {
    auto got = store->BlockAt(head->height);
    if (!got.ok()) return got.status().Wrap(at);
    if (!got.value()) return Status::Corruption(at + " is missing; the store is inconsistent");
    block = std::move(got.value());
    head_header = block->header;
  }
  const crypto::Hash256 hash = head_header.Hash();
  if (hash != head->hash) {
    return Status::Corruption(at + " hashes to " + crypto::ShortHex(hash, 16) +
                              ", but the head record says " + crypto::ShortHex(head->hash, 16) +
                              "; the store is inconsistent");
  }
  if (head_header.state_root != head->state_root) {
    return Status::Corruption(
        at + " has state_root " + crypto::ShortHex(head_header.state_root, 16) +
        ", but the stored state root is " + crypto::ShortHex(head->state_root, 16) +
        "; the store is inconsistent");
  }
  {
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->head_header = head_header;
  }
  auto by_hash = store->kv_->Get(HashKey(kHashPrefix, hash));
  if (!by_hash.ok()) return by_hash.status().Wrap(at);
  bool indexed = false;
  if (by_hash.value()) {
    auto indexed_height = DecodeU64(**by_hash, "hash index");
    indexed = indexed_height.ok() && *indexed_height == head->height;
  }
  if (!indexed) {
    return Status::Corruption(at + " is missing from the hash index; the store is inconsistent");
  }
  if (block) {
    auto receipts = store->ReceiptsAt(head->height);
    if (!receipts.ok()) return receipts.status().Wrap(at);
    if (!receipts.value() || receipts.value()->size() != block->txs.size()) {
      return Status::Corruption(at + " has no receipts for its " +
                                std::to_string(block->txs.size()) +
                                " transactions; the store is inconsistent");
    }
  }
  if (head->height > 0) {
    auto first = store->HeaderAt(0);
    if (!first.ok()) return first.status().Wrap("chain store: genesis block");
    if (!first.value() || first.value()->Hash() != *genesis_hash) {
      return Status::Corruption("chain store: stored block 0 is not the recorded genesis");
    }
  }
  // Where the undo records start. A store without the record, or whose head has no undo record
  // (a build that did not write them committed since), proves from its head on until new
  // blocks widen the window.
  {
    auto undo_from = store->kv_->Get(MetaKey("undo_from"));
    if (!undo_from.ok()) return undo_from.status().Wrap("chain store: reading undo_from");
    uint64_t from = head->height;
    bool rewrite = true;
    if (undo_from.value()) {
      auto decoded = DecodeU64(**undo_from, "undo_from record");
      if (!decoded.ok())
        return decoded.status().WithCode(StatusCode::kCorruption).Wrap("chain store");
      // (The audit opens without the tree and names this itself.)
      if (*decoded > head->height && build_tree) {
        return Status::Corruption("chain store: undo_from " + std::to_string(*decoded) +
                                  " is above the head " + std::to_string(head->height));
      }
      auto at_head = store->kv_->Get(UndoKey(head->height));
      if (!at_head.ok()) return at_head.status().Wrap("chain store: reading undo records");
      if (*decoded >= head->height || at_head.value()) {
        from = *decoded;
        rewrite = false;
      }
    }
    if (rewrite && build_tree) {
      WriteBatch b;
      b.Put(MetaKey("undo_from"), EncodeU64(from));
      if (Status s = store->kv_->Write(b, /*sync=*/true); !s.ok()) {
        return s.WithCode(StatusCode::kIoError).Wrap("chain store: writing undo_from");
      }
    }
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->undo_from = from;
  }
  // The head's state tree, rebuilt from the 'S' entries (tree pages are not stored yet): it
  // must give the head header's root, or the state is not the one the chain committed to.
  store->impl_->has_tree = build_tree;
  if (!build_tree) {
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->PushView(head->height, StateTree::View());
    return store;
  }
  std::vector<TreeWrite> writes;
  Status scanned = store->ScanState([&](ByteView key, ByteView value) {
    writes.push_back(TreeWrite{KeyHash(key), ValueHash(value)});
    return true;
  });
  if (!scanned.ok()) return scanned.Wrap(at + ": reading the state");
  StateTree::View view =
      ProcessStateTree().UpdateHashed(StateTree::View(), std::move(writes), head->height);
  if (StateTree::Root(view) != head->state_root) {
    return Status::Corruption(
        at + ": the stored state ('S' entries) has root " +
        crypto::ShortHex(StateTree::Root(view), 16) + ", but the head header's state_root is " +
        crypto::ShortHex(head->state_root, 16) + "; the state is damaged (run `cairn audit`)");
  }
  {
    MutexLock lock(&store->impl_->head_mu);
    store->impl_->PushView(head->height, std::move(view));
  }
  return store;
}

Status ChainStore::Commit(const Block& block, const ExecResult& exec, bool sync,
                          const WriteBatch* extra, ByteView certificate) {
  MutexLock commit_lock(&impl_->commit_mu);
  const Head cur = head();
  const BlockHeader& h = block.header;
  const std::string at = "commit block " + std::to_string(h.height) + ": ";
  if (!impl_->has_tree) {
    return Status::InvalidArgument(at + "the store was opened without its state tree");
  }
  if (h.height != cur.height + 1) {
    return Status::Rejected(at + "height does not follow head " + std::to_string(cur.height));
  }
  if (h.prev_hash != cur.hash) {
    return Status::Rejected(at + "prev_hash " + crypto::ShortHex(h.prev_hash, 16) +
                            " is not the head hash " + crypto::ShortHex(cur.hash, 16));
  }
  if (h.chain_id != impl_->chain_id) {
    return Status::Rejected(at + "chain id \"" + h.chain_id + "\" is not \"" + impl_->chain_id +
                            "\"");
  }
  if (h.tx_count != block.txs.size() || exec.tx_hashes.size() != block.txs.size() ||
      exec.receipts.size() != block.txs.size()) {
    return Status::InvalidArgument(at + "execution result does not match the block's " +
                                   std::to_string(block.txs.size()) + " transactions");
  }
  if (exec.state_root != h.state_root || StateTree::Root(exec.view) != h.state_root) {
    return Status::Rejected(at + "executed state_root " +
                            crypto::ShortHex(StateTree::Root(exec.view), 16) +
                            " differs from the header's " + crypto::ShortHex(h.state_root, 16));
  }
  if (extra) {
    for (const WriteBatch::Op& op : extra->ops()) {
      if (op.key.empty() || IsReservedPrefix(op.key[0])) {
        return Status::InvalidArgument(at + "extra write to a key the chain store owns");
      }
    }
  }

  const crypto::Hash256 hash = block.Hash();
  WriteBatch batch;
  // A block whose Raft log record stored its encoding under 'K' is kept there: 'B' refers to
  // it instead of holding a second copy (BlockBytesAt resolves the reference).
  // Looked up by a one-key scan: a Get would copy the whole body out only to learn it exists.
  const Bytes body_key = BodyKey(hash);
  Bytes past = body_key;
  past.push_back(0);
  bool adopt = false;
  Status looked = kv_->Scan(body_key, past, [&](ByteView, ByteView) {
    adopt = true;
    return false;
  });
  if (!looked.ok()) return looked.WithCode(StatusCode::kIoError).Wrap(at + "looking up its body");
  if (adopt) {
    batch.Put(HeightKey(kBlockPrefix, h.height), EncodeBodyRef(hash));
  } else {
    batch.Put(HeightKey(kBlockPrefix, h.height), block.Encode());
  }
  batch.Put(HashKey(kHashPrefix, hash), EncodeU64(h.height));
  for (size_t i = 0; i < exec.tx_hashes.size(); ++i) {
    batch.Put(HashKey(kTxPrefix, exec.tx_hashes[i]),
              EncodeTxLocation(TxLocation{h.height, static_cast<uint32_t>(i)}));
  }
  batch.Put(HeightKey(kReceiptsPrefix, h.height), EncodeReceipts(exec.receipts));
  if (!certificate.empty()) {
    batch.Put(HeightKey(kCertificatePrefix, h.height),
              Bytes(certificate.begin(), certificate.end()));
  }
  for (const auto& [key, value] : exec.diff) {
    if (value) {
      batch.Put(PrefixedStateKey(key), *value);
    } else {
      batch.Delete(PrefixedStateKey(key));
    }
  }
  // What the block's writes replaced, for proofs at this height - 1 and below; records that
  // fall out of the retention window go in the same batch.
  uint64_t floor = 0, retain = 0;
  {
    MutexLock lock(&impl_->head_mu);
    floor = impl_->undo_from;
    retain = impl_->retain_heights;
  }
  const uint64_t new_floor = std::max(floor, h.height > retain ? h.height - retain : 0);
  if (h.height > new_floor) batch.Put(HeightKey(kUndoPrefix, h.height), EncodeUndo(exec.undo));
  for (uint64_t k = floor + 1; k <= new_floor && k < h.height; ++k) {
    batch.Delete(HeightKey(kUndoPrefix, k));
  }
  if (new_floor != floor) batch.Put(MetaKey("undo_from"), EncodeU64(new_floor));
  const Head next{h.height, hash, h.state_root};
  batch.Put(MetaKey("head"), EncodeHead(next));
  if (extra) {
    for (const WriteBatch::Op& op : extra->ops()) {
      if (op.value) {
        batch.Put(op.key, *op.value);
      } else {
        batch.Delete(op.key);
      }
    }
  }
  // Whatever the key-value store called it, a write that did not land means the disk failed
  // us: callers halt on kIoError rather than blame the block.
  if (Status s = kv_->Write(batch, sync); !s.ok()) {
    return s.WithCode(StatusCode::kIoError).Wrap(at);
  }
  {
    MutexLock head_lock(&impl_->head_mu);
    impl_->head = next;
    impl_->head_header = h;
    impl_->PushView(h.height, exec.view);
    impl_->undo_from = new_floor;
  }
  // The block is committed whatever pruning does: a failure here is logged by the next
  // attempt's caller, not the block's. Pruning resumes from the floor at the next commit.
  (void)impl_->Prune(*kv_);
  return Status::Ok();
}

Head ChainStore::head() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->head;
}

StateTree::View ChainStore::HeadView() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->views.back().view;
}

namespace {

std::string Window(uint64_t from, uint64_t head) {
  return "[" + std::to_string(from) + ", " + std::to_string(head) + "]";
}

}  // namespace

Result<StateTree::View> ChainStore::ViewAt(uint64_t height) const {
  Impl::Version base;
  uint64_t from = 0, newest = 0;
  {
    MutexLock lock(&impl_->head_mu);
    const uint64_t oldest = impl_->views.front().height;
    newest = impl_->views.back().height;
    from = impl_->undo_from;
    if (height > newest) {
      return Status::NotFound("height " + std::to_string(height) + " is above the head " +
                              std::to_string(newest));
    }
    // Checked first: a height still in memory but below the floor has no undo records left,
    // so the values of keys changed since could not be named.
    if (height < from) {
      return Status::NotFound("height " + std::to_string(height) +
                              " is below the state history this node keeps " +
                              Window(from, newest) + " (state_tree.retain_heights)");
    }
    if (height >= oldest) return impl_->views[height - oldest].view;
    base = impl_->views.front();
  }
  // One rebuild at a time, and a caller that finds one running is told to retry rather than
  // queued: RPC threads must not pile up behind a deep rebuild.
  if (impl_->rebuilding.exchange(true)) {
    return Status::Unavailable("another proof of an older height is being prepared; retry shortly");
  }
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{impl_->rebuilding};
  MutexLock lock(&impl_->rebuild_mu);
  while (!impl_->rebuilt.empty() && impl_->rebuilt.front().height < from) {
    impl_->rebuilt.pop_front();
  }
  for (const Impl::Version& v : impl_->rebuilt) {
    if (v.height == height) return v.view;
    // The nearest rebuilt tree above the height is a shorter way down than the memory's.
    if (v.height > height && v.height < base.height) base = v;
  }
  // Down from the tree of `base.height` in steps of kStep heights: each step puts back, for
  // every key its blocks wrote, the value before the first of them (so memory stays bounded
  // by one step's records, whatever the depth).
  constexpr uint64_t kStep = 64;
  StateTree::View view = base.view;
  for (uint64_t top = base.height; top > height;) {
    const uint64_t low = top - std::min(kStep, top - height);  // the step's target height
    StateDiff before;
    uint64_t seen = 0;
    Status bad;
    Status scanned = kv_->Scan(UndoKey(low + 1), UndoKey(top + 1), [&](ByteView, ByteView record) {
      ++seen;
      bad = ForEachUndo(record, [&](ByteView key, std::optional<ByteView> value) {
        before.try_emplace(
            Bytes(key.begin(), key.end()),
            value ? std::optional<Bytes>(Bytes(value->begin(), value->end())) : std::nullopt);
        return true;
      });
      return bad.ok();
    });
    if (scanned.ok()) scanned = bad;
    if (!scanned.ok() || seen != top - low) {
      {
        MutexLock head_lock(&impl_->head_mu);
        from = impl_->undo_from;
      }
      if (height < from) {
        return Status::NotFound("height " + std::to_string(height) +
                                " fell out of the state history this node keeps while it was "
                                "being read (from " +
                                std::to_string(from) + ")");
      }
      if (!scanned.ok()) return scanned.WithCode(StatusCode::kCorruption).Wrap("undo records");
      return Status::Corruption("undo records of heights " + Window(low + 1, top) + ": " +
                                std::to_string(top - low - seen) + " missing");
    }
    view = ProcessStateTree().Update(view, before, low);
    top = low;
  }
  auto header = HeaderAt(height);
  if (!header.ok()) return header.status();
  if (!header.value()) return Status::Corruption("block " + std::to_string(height) + " is missing");
  if (StateTree::Root(view) != header.value()->state_root) {
    return Status::Corruption(
        "the state rebuilt for height " + std::to_string(height) +
        " from the undo records has root " + crypto::ShortHex(StateTree::Root(view), 16) +
        ", not the header's state_root " + crypto::ShortHex(header.value()->state_root, 16) +
        " (run `cairn audit`)");
  }
  impl_->rebuilt.push_back(Impl::Version{height, view});
  while (impl_->rebuilt.size() > Impl::kRebuiltKept) impl_->rebuilt.pop_front();
  return view;
}

Result<StateProofAt> ChainStore::ProveState(ByteView state_key,
                                            std::optional<uint64_t> height) const {
  const uint64_t at = height.value_or(head().height);
  auto view = ViewAt(at);
  if (!view.ok()) return view.status();
  StateProofAt out;
  out.height = at;
  out.proof = ProcessStateTree().Prove(*view, state_key);
  const crypto::Hash256 key_hash = KeyHash(state_key);
  const std::optional<crypto::Hash256> held = ProcessStateTree().Get(*view, key_hash);
  if (!held) return out;
  // The value: the stored one when the head holds the same (so the key has not changed since,
  // or changed back), else the value the first later block's writes replaced.
  std::optional<Bytes> value;
  if (ProcessStateTree().Get(HeadView(), key_hash) == held) {
    auto stored = kv_->Get(PrefixedStateKey(state_key));
    if (!stored.ok()) return stored.status().Wrap("reading state");
    if (stored.value() && ValueHash(**stored) == *held) value = std::move(*stored.value());
  }
  if (!value) {
    // Records up to the head seen now, each read only up to where the key would sit (entries
    // ascend by key).
    Status inner;
    bool found = false;
    const uint64_t head_height = head().height;
    Status scanned =
        kv_->Scan(UndoKey(at + 1), UndoKey(head_height + 1), [&](ByteView, ByteView record) {
          inner = ForEachUndo(record, [&](ByteView key, std::optional<ByteView> v) {
            if (std::lexicographical_compare(key.begin(), key.end(), state_key.begin(),
                                             state_key.end())) {
              return true;
            }
            if (std::equal(key.begin(), key.end(), state_key.begin(), state_key.end())) {
              found = true;
              if (v) value = Bytes(v->begin(), v->end());
            }
            return false;
          });
          return inner.ok() && !found;
        });
    if (!scanned.ok()) return scanned.Wrap("reading undo records");
    if (!inner.ok()) return inner.WithCode(StatusCode::kCorruption).Wrap("undo record");
  }
  if (!value || ValueHash(*value) != *held) {
    uint64_t from = 0;
    {
      MutexLock lock(&impl_->head_mu);
      from = impl_->undo_from;
    }
    if (at < from) {
      return Status::NotFound("height " + std::to_string(at) +
                              " fell out of the state history this node keeps while it was "
                              "being read (from " +
                              std::to_string(from) + ")");
    }
    return Status::Corruption("the state value of this key at height " + std::to_string(at) +
                              " does not match the state tree");
  }
  out.value = std::move(*value);
  return out;
}

void ChainStore::SetMemoryVersions(size_t n) {
  MutexLock lock(&impl_->head_mu);
  impl_->memory_versions = std::max<size_t>(1, n);
  while (impl_->views.size() > impl_->memory_versions) impl_->views.pop_front();
}

Status ChainStore::SetRetainHeights(uint64_t n) {
  MutexLock commit_lock(&impl_->commit_mu);
  uint64_t floor = 0, head_height = 0;
  {
    MutexLock lock(&impl_->head_mu);
    impl_->retain_heights = n;
    floor = impl_->undo_from;
    head_height = impl_->head.height;
  }
  const uint64_t new_floor = std::max(floor, head_height > n ? head_height - n : 0);
  if (new_floor == floor) return Status::Ok();
  // A shorter window than the store was kept with: drop what it no longer covers, in
  // batches, and the new floor with the last of them.
  constexpr uint64_t kBatch = 4096;
  for (uint64_t k = floor + 1; k <= new_floor;) {
    WriteBatch batch;
    const uint64_t last = std::min(new_floor, k + kBatch - 1);
    for (; k <= last; ++k) batch.Delete(UndoKey(k));
    batch.Put(MetaKey("undo_from"), EncodeU64(last));
    if (Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) {
      return s.WithCode(StatusCode::kIoError).Wrap("chain store: dropping undo records");
    }
    MutexLock lock(&impl_->head_mu);
    impl_->undo_from = last;
  }
  return Status::Ok();
}

uint64_t ChainStore::RetainedFrom() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->undo_from;
}

const crypto::Hash256& ChainStore::genesis_hash() const { return impl_->genesis_hash; }

Status ChainStore::PrunedError(const std::string& what, uint64_t height) const {
  uint64_t from = 0;
  std::optional<uint64_t> synced_at;
  {
    MutexLock lock(&impl_->head_mu);
    from = impl_->blocks_from;
    synced_at = impl_->synced_at;
  }
  if (synced_at && height <= *synced_at) {
    return Status::Pruned(what + " " + std::to_string(height) +
                          " is not kept: this node was state-synced at height " +
                          std::to_string(*synced_at) + " and keeps bodies from " +
                          std::to_string(from));
  }
  return Status::Pruned(what + " " + std::to_string(height) +
                        " is pruned: this node keeps bodies from " + std::to_string(from) +
                        " (storage.retain_blocks)");
}

bool ChainStore::IsPruned(uint64_t height) const {
  MutexLock lock(&impl_->head_mu);
  return height != 0 && height < impl_->blocks_from;
}

Result<std::optional<Block>> ChainStore::BlockAt(uint64_t height) const {
  if (IsPruned(height)) return PrunedError("block", height);
  const std::string at = "block " + std::to_string(height);
  auto got = BlockBytesAt(*kv_, height);
  if (!got.ok()) return got.status().Wrap(at);
  if (!got.value()) return std::optional<Block>();
  auto block = Block::Decode(**got);
  if (!block.ok()) return block.status().WithCode(StatusCode::kCorruption).Wrap("stored " + at);
  if (block->header.height != height) {
    return Status::Corruption("stored " + at + " claims height " +
                              std::to_string(block->header.height));
  }
  return std::optional<Block>(std::move(block.value()));
}

Result<std::optional<Bytes>> ChainStore::CertificateAt(uint64_t height) const {
  auto got = kv_->Get(HeightKey(kCertificatePrefix, height));
  if (!got.ok()) return got.status().Wrap("certificate of block " + std::to_string(height));
  return got.value();
}

Bytes ChainStore::UndoKey(uint64_t height) { return HeightKey(kUndoPrefix, height); }

Bytes ChainStore::EncodeUndo(const StateDiff& undo) {
  size_t size = 4;
  for (const auto& [key, value] : undo) size += 9 + key.size() + (value ? value->size() : 0);
  Writer w;
  w.Reserve(size);
  w.U32(static_cast<uint32_t>(undo.size()));
  for (const auto& [key, value] : undo) {
    w.Var(key).U8(value ? 1 : 0);
    if (value) w.Var(*value);
  }
  return w.Take();
}

Result<StateDiff> ChainStore::DecodeUndo(ByteView record) {
  StateDiff out;
  bool ascending = true;
  Status s = ForEachUndo(record, [&](ByteView key, std::optional<ByteView> value) {
    Bytes k(key.begin(), key.end());
    if (!out.empty() && !(out.rbegin()->first < k)) {
      ascending = false;
      return false;
    }
    out.emplace_hint(
        out.end(), std::move(k),
        value ? std::optional<Bytes>(Bytes(value->begin(), value->end())) : std::nullopt);
    return true;
  });
  if (!s.ok()) return s.WithCode(StatusCode::kCorruption);
  if (!ascending) return Status::Corruption("undo record: keys are not in ascending order");
  return out;
}

Bytes ChainStore::CertificateKey(uint64_t height) { return HeightKey(kCertificatePrefix, height); }

Bytes ChainStore::PrunedHeaderKey(uint64_t height) {
  return HeightKey(kPrunedHeaderPrefix, height);
}

Bytes ChainStore::BodyKey(const crypto::Hash256& hash) { return HashKey(kBodyPrefix, hash); }

std::optional<crypto::Hash256> ChainStore::BodyRefOf(ByteView stored) {
  if (stored.size() != kBodyRefBytes) return std::nullopt;
  for (size_t i = 0; i < 4; ++i) {
    if (stored[i] != 0xff) return std::nullopt;
  }
  return crypto::Hash256::FromBytes(stored.subspan(4));
}

Result<std::optional<Bytes>> ChainStore::BlockBytesAt(const KvStore& kv, uint64_t height) {
  auto got = kv.Get(HeightKey(kBlockPrefix, height));
  if (!got.ok() || !got.value()) return got;
  std::optional<crypto::Hash256> ref = BodyRefOf(**got);
  if (!ref) return got;
  const std::string at = "block " + std::to_string(height) + " (stored as its hash " +
                         crypto::ShortHex(*ref, 16) + ")";
  auto body = kv.Get(BodyKey(*ref));
  if (!body.ok()) return body.status().Wrap(at);
  if (!body.value()) {
    return Status::Corruption(at + ": its encoding is missing from 'K'; the store is damaged");
  }
  // The reference names the block; a body that is another block is damage, not the block.
  auto header = DecodeStoredHeader(**body);
  if (!header.ok() || header->Hash() != *ref) {
    return Status::Corruption(at + ": the encoding under 'K' is not that block; the store is " +
                              "damaged");
  }
  return body;
}

Result<std::optional<Bytes>> ChainStore::BlockBytesByHash(const KvStore& kv,
                                                          const crypto::Hash256& hash) {
  auto body = kv.Get(BodyKey(hash));
  if (!body.ok() || body.value()) return body;
  auto got = kv.Get(HashKey(kHashPrefix, hash));
  if (!got.ok()) return got.status().Wrap("block " + crypto::ShortHex(hash, 16));
  if (!got.value()) return std::optional<Bytes>();
  auto height = DecodeU64(**got, "hash index");
  if (!height.ok()) {
    return height.status()
        .WithCode(StatusCode::kCorruption)
        .Wrap("block " + crypto::ShortHex(hash, 16));
  }
  return BlockBytesAt(kv, *height);
}

Result<bool> ChainStore::HasBlock(const KvStore& kv, const crypto::Hash256& hash) {
  auto got = kv.Get(HashKey(kHashPrefix, hash));
  if (!got.ok()) return got.status();
  return got.value().has_value();
}

Result<std::optional<Block>> ChainStore::BlockByHash(const crypto::Hash256& hash) const {
  auto got = kv_->Get(HashKey(kHashPrefix, hash));
  if (!got.ok()) return got.status().Wrap("block " + crypto::ShortHex(hash, 16));
  if (!got.value()) return std::optional<Block>();
  auto height = DecodeU64(**got, "hash index");
  if (!height.ok()) {
    return height.status()
        .WithCode(StatusCode::kCorruption)
        .Wrap("block " + crypto::ShortHex(hash, 16));
  }
  auto block = BlockAt(*height);
  if (!block.ok()) return block;
  if (!block.value() || block.value()->Hash() != hash) {
    return Status::Corruption("hash index maps " + crypto::ShortHex(hash, 16) + " to height " +
                              std::to_string(*height) + ", which holds another block");
  }
  return block;
}

namespace {

// The header inside the block stored under 'B' (or its 'K' body); nullopt when none.
Result<std::optional<BlockHeader>> HeaderInBlock(const KvStore& kv, uint64_t height) {
  const std::string at = "block " + std::to_string(height);
  auto got = ChainStore::BlockBytesAt(kv, height);
  if (!got.ok()) return got.status().Wrap(at);
  if (!got.value()) return std::optional<BlockHeader>();
  auto header = DecodeStoredHeader(**got);
  if (!header.ok()) return header.status().WithCode(StatusCode::kCorruption).Wrap("stored " + at);
  if (header->height != height) {
    return Status::Corruption("stored " + at + " claims height " + std::to_string(header->height));
  }
  return std::optional<BlockHeader>(std::move(header.value()));
}

}  // namespace

Result<std::optional<BlockHeader>> ChainStore::HeaderAt(uint64_t height) const {
  {
    MutexLock lock(&impl_->head_mu);
    if (impl_->head_header && impl_->head_header->height == height) {
      return std::optional<BlockHeader>(*impl_->head_header);
    }
  }
  const std::string at = "block " + std::to_string(height);
  if (IsPruned(height)) {
    // Below headers_from the 'P' record is absent: nullopt, as for a height never seen. While
    // Prune runs, blocks_from moves before its batch lands, so a height just inside the new
    // floor may still be a whole block under 'B': read it there (below).
    auto got = kv_->Get(HeightKey(kPrunedHeaderPrefix, height));
    if (!got.ok()) return got.status().Wrap("header of " + at);
    if (!got.value()) return HeaderInBlock(*kv_, height);
    auto header = BlockHeader::Decode(**got);
    if (!header.ok()) {
      return header.status().WithCode(StatusCode::kCorruption).Wrap("stored header of " + at);
    }
    if (header->height != height) {
      return Status::Corruption("stored header of " + at + " claims height " +
                                std::to_string(header->height));
    }
    return std::optional<BlockHeader>(std::move(header.value()));
  }
  return HeaderInBlock(*kv_, height);
}

Result<std::optional<TxLocation>> ChainStore::FindTx(const crypto::Hash256& tx_hash) const {
  auto got = kv_->Get(HashKey(kTxPrefix, tx_hash));
  if (!got.ok()) return got.status().Wrap("tx " + crypto::ShortHex(tx_hash, 16));
  if (!got.value()) return std::optional<TxLocation>();
  auto loc = DecodeTxLocation(**got);
  if (!loc.ok())
    return loc.status()
        .WithCode(StatusCode::kCorruption)
        .Wrap("stored tx " + crypto::ShortHex(tx_hash, 16));
  // An index entry is deleted with its block; one that outlived it (read while pruning ran)
  // says so rather than pointing at a body that is gone.
  if (IsPruned(loc->height)) {
    return PrunedError("tx " + crypto::ShortHex(tx_hash, 16) + " is in block", loc->height);
  }
  return std::optional<TxLocation>(*loc);
}

Result<std::optional<std::vector<Receipt>>> ChainStore::ReceiptsAt(uint64_t height) const {
  if (IsPruned(height)) return PrunedError("receipts of block", height);
  const std::string at = "receipts of block " + std::to_string(height);
  auto got = kv_->Get(HeightKey(kReceiptsPrefix, height));
  if (!got.ok()) return got.status().Wrap(at);
  if (!got.value()) return std::optional<std::vector<Receipt>>();
  auto receipts = DecodeReceipts(**got);
  if (!receipts.ok())
    return receipts.status().WithCode(StatusCode::kCorruption).Wrap("stored " + at);
  return std::optional<std::vector<Receipt>>(std::move(receipts.value()));
}

std::optional<Account> ChainStore::GetAccount(const Address& a) const {
  auto got = kv_->Get(PrefixedStateKey(AccountKey(a)));
  if (!got.ok()) {
    impl_->NoteReadError(got.status().Wrap("state: account " + a.ToHex()));
    return std::nullopt;
  }
  if (!got.value()) return std::nullopt;
  auto acct = Account::Decode(**got);
  if (!acct.ok()) {
    impl_->NoteReadError(
        acct.status().WithCode(StatusCode::kCorruption).Wrap("state: stored account " + a.ToHex()));
    return std::nullopt;
  }
  return acct.value();
}

std::optional<Bytes> ChainStore::GetRecord(const Address& a, ByteView key) const {
  auto got = kv_->Get(PrefixedStateKey(RecordKey(a, key)));
  if (!got.ok()) {
    impl_->NoteReadError(got.status().Wrap("state: record of " + a.ToHex()));
    return std::nullopt;
  }
  return std::move(got.value());
}

std::optional<Bytes> ChainStore::GetSystem(std::string_view name) const {
  auto got = kv_->Get(PrefixedStateKey(SystemKey(name)));
  if (!got.ok()) {
    impl_->NoteReadError(got.status().Wrap("state: system record " + std::string(name)));
    return std::nullopt;
  }
  return std::move(got.value());
}

Status ChainStore::StateReadError() const {
  MutexLock lock(&impl_->error_mu);
  return impl_->read_error;
}

Status ChainStore::ScanState(const std::function<bool(ByteView key, ByteView value)>& fn) const {
  const uint8_t start[] = {kStatePrefix};
  const uint8_t end[] = {kStatePrefix + 1};
  return kv_->Scan(start, end,
                   [&](ByteView key, ByteView value) { return fn(key.subspan(1), value); });
}

// ---- Pruning ----

Status ChainStore::Impl::Prune(KvStore& kv) {
  uint64_t head_height = 0, from = 0;
  {
    MutexLock lock(&head_mu);
    head_height = head.height;
    from = blocks_from;
  }
  if (retain_blocks == 0 || head_height + 1 <= retain_blocks) return Status::Ok();
  uint64_t target = head_height + 1 - retain_blocks;  // the new blocks_from
  if (prune_floor_limit != 0) target = std::min(target, prune_floor_limit);
  if (target <= from) return Status::Ok();
  // The engine's lowest log record that carries a block names it by hash, and loading the
  // log reads that block's body from 'K' or the chain: keep it and everything above. Records
  // ascend by index and so by height; the first is the lowest.
  {
    const uint8_t span_begin[] = {'C', 'm'};
    const uint8_t span_end[] = {'C', 'n'};
    std::optional<crypto::Hash256> lowest;
    Status s = kv.Scan(span_begin, span_end, [&](ByteView, ByteView v) {
      if (v.size() >= 32) lowest = crypto::Hash256::FromBytes(v.first(32));
      return false;
    });
    if (!s.ok()) return s.Wrap("chain store: pruning: reading the engine log");
    if (lowest) {
      auto got = kv.Get(HashKey(kHashPrefix, *lowest));
      if (!got.ok()) return got.status().Wrap("chain store: pruning");
      if (got.value()) {
        auto h = DecodeU64(**got, "hash index");
        if (h.ok()) target = std::min(target, *h);
      }
    }
  }
  // Bounded batches: a window shrunk on a long chain prunes in many small writes.
  constexpr uint64_t kHeightsPerBatch = 256;
  while (from < target) {
    const uint64_t last = std::min(target, from + kHeightsPerBatch);  // exclusive
    WriteBatch batch;
    for (uint64_t k = from; k < last; ++k) {
      const std::string at = "chain store: pruning block " + std::to_string(k);
      auto stored = kv.Get(HeightKey(kBlockPrefix, k));
      if (!stored.ok()) return stored.status().Wrap(at);
      if (!stored.value()) continue;  // pruned before a crash moved the floor
      Bytes bytes;
      if (std::optional<crypto::Hash256> ref = BodyRefOf(**stored)) {
        auto body = kv.Get(BodyKey(*ref));
        if (!body.ok()) return body.status().Wrap(at);
        if (!body.value()) return Status::Corruption(at + ": its body is missing from 'K'");
        bytes = std::move(*body.value());
        batch.Delete(BodyKey(*ref));
      } else {
        bytes = std::move(*stored.value());
      }
      auto block = Block::Decode(bytes);
      if (!block.ok()) return block.status().WithCode(StatusCode::kCorruption).Wrap(at);
      batch.Put(HeightKey(kPrunedHeaderPrefix, k), block->header.Encode());
      for (const Transaction& tx : block->txs) batch.Delete(HashKey(kTxPrefix, tx.Hash()));
      batch.Delete(HeightKey(kBlockPrefix, k));
      batch.Delete(HeightKey(kReceiptsPrefix, k));
    }
    // The floor moves with the deletions: readers check it first, so a pruned height is
    // never read as "absent", and a crash leaves floor and keys consistent.
    batch.Put(MetaKey("blocks_from"), EncodeU64(last));
    {
      // Readers see the new floor before the keys go, so none reads a half-deleted block.
      MutexLock lock(&head_mu);
      blocks_from = last;
    }
    if (Status s = kv.Write(batch, /*sync=*/false); !s.ok()) {
      MutexLock lock(&head_mu);
      blocks_from = from;
      return s.WithCode(StatusCode::kIoError).Wrap("chain store: pruning");
    }
    from = last;
  }
  return Status::Ok();
}

Status ChainStore::SetRetainBlocks(uint64_t n) {
  MutexLock lock(&impl_->commit_mu);
  impl_->retain_blocks = n;
  return impl_->Prune(*kv_);
}

void ChainStore::SetCompactEvery(uint64_t every) {
  MutexLock lock(&impl_->head_mu);
  impl_->compact_every = std::max<uint64_t>(1, every);
}

bool ChainStore::CompactionDue() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->blocks_from >= impl_->compacted_to + impl_->compact_every;
}

void ChainStore::CompactPruned() {
  uint64_t from = 0, to = 0;
  {
    MutexLock lock(&impl_->head_mu);
    from = impl_->compacted_to;
    to = impl_->blocks_from;
  }
  if (to <= from) return;
  // The height-keyed prefixes below the floor (from 0: a range a compaction missed, deletes
  // that landed after it, costs nothing once empty); the hash-keyed ones (tx index, stored
  // bodies) are spread over their whole prefix, which holds only the retained window.
  kv_->CompactRange(HeightKey(kBlockPrefix, 0), HeightKey(kBlockPrefix, to));
  kv_->CompactRange(HeightKey(kReceiptsPrefix, 0), HeightKey(kReceiptsPrefix, to));
  const uint8_t t0[] = {kTxPrefix}, t1[] = {kTxPrefix + 1};
  kv_->CompactRange(t0, t1);
  const uint8_t k0[] = {kBodyPrefix}, k1[] = {kBodyPrefix + 1};
  kv_->CompactRange(k0, k1);
  // The state history's undo records leave with state_tree.retain_heights: the prefix holds
  // only that window.
  const uint8_t u0[] = {kUndoPrefix}, u1[] = {kUndoPrefix + 1};
  kv_->CompactRange(u0, u1);
  MutexLock lock(&impl_->head_mu);
  impl_->compacted_to = to;
}

void ChainStore::SetPruneFloorLimit(uint64_t limit) {
  MutexLock lock(&impl_->commit_mu);
  impl_->prune_floor_limit = limit;
}

uint64_t ChainStore::BlocksFrom() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->blocks_from;
}

uint64_t ChainStore::HeadersFrom() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->headers_from;
}

std::optional<uint64_t> ChainStore::StateSyncedAt() const {
  MutexLock lock(&impl_->head_mu);
  return impl_->synced_at;
}

Status ChainStore::PutHeadersBelow(std::span<const std::pair<BlockHeader, Bytes>> headers) {
  MutexLock commit_lock(&impl_->commit_mu);
  const uint64_t lowest = HeadersFrom();
  if (headers.empty()) return Status::Ok();
  if (lowest <= 1) {
    return Status::Rejected("header backfill: every header down to 1 is already kept");
  }
  auto top = HeaderAt(lowest);
  if (!top.ok()) return top.status().Wrap("header backfill");
  if (!top.value()) {
    return Status::Corruption("header backfill: the lowest kept header " + std::to_string(lowest) +
                              " is missing");
  }
  crypto::Hash256 want = top.value()->prev_hash;
  uint64_t height = lowest;
  WriteBatch batch;
  for (const auto& [header, certificate] : headers) {
    if (height == 1) {
      return Status::Rejected("header backfill: a header below height 1 (genesis is kept)");
    }
    --height;
    const std::string at = "header backfill: header " + std::to_string(header.height) + ": ";
    if (header.height != height) {
      return Status::Rejected(at + "expected height " + std::to_string(height) +
                              " (headers go in descending order)");
    }
    if (header.chain_id != impl_->chain_id) {
      return Status::Rejected(at + "chain id \"" + header.chain_id + "\" is not \"" +
                              impl_->chain_id + "\"");
    }
    const crypto::Hash256 hash = header.Hash();
    if (hash != want) {
      return Status::Rejected(at + "hashes to " + crypto::ShortHex(hash, 16) +
                              ", not the prev_hash " + crypto::ShortHex(want, 16) + " of header " +
                              std::to_string(height + 1));
    }
    if (height == 1 && header.prev_hash != impl_->genesis_hash) {
      return Status::Rejected(at + "prev_hash " + crypto::ShortHex(header.prev_hash, 16) +
                              " is not the genesis hash " +
                              crypto::ShortHex(impl_->genesis_hash, 16));
    }
    batch.Put(HeightKey(kPrunedHeaderPrefix, height), header.Encode());
    batch.Put(HashKey(kHashPrefix, hash), EncodeU64(height));
    if (!certificate.empty()) batch.Put(HeightKey(kCertificatePrefix, height), certificate);
    want = header.prev_hash;
  }
  batch.Put(MetaKey("headers_from"), EncodeU64(height));
  if (Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) {
    return s.WithCode(StatusCode::kIoError).Wrap("header backfill");
  }
  MutexLock lock(&impl_->head_mu);
  impl_->headers_from = height;
  return Status::Ok();
}

// ---- Snapshot import ----

namespace {

constexpr size_t kMaxImportCertificate = 8u << 20;

Bytes ImportIndexKey(uint32_t index) {
  Bytes k(5);
  k[0] = kImportPrefix;
  for (int i = 0; i < 4; ++i) k[1 + i] = static_cast<uint8_t>(index >> (8 * (3 - i)));
  return k;
}

struct ImportRecord {
  Bytes manifest;
  Bytes header;
  Bytes certificate;
  crypto::Hash256 genesis_hash;
};

Bytes EncodeImportRecord(const ImportRecord& r) {
  Writer w;
  w.Var(r.manifest).Var(r.header).Var(r.certificate).Fixed(r.genesis_hash);
  return w.Take();
}

Result<ImportRecord> DecodeImportRecord(ByteView b) {
  Reader r(b, "import record");
  ImportRecord out;
  r.Var(&out.manifest, kMaxManifestBytes, "manifest");
  r.Var(&out.header, kMaxHeaderBytes, "header");
  r.Var(&out.certificate, kMaxImportCertificate, "certificate");
  r.Fixed(&out.genesis_hash, "genesis_hash");
  if (Status s = r.Finish(); !s.ok()) return s.WithCode(StatusCode::kCorruption);
  return out;
}

}  // namespace

struct SnapshotImport::Impl {
  std::unique_ptr<KvStore> kv;
  Block genesis;
  Manifest manifest;
  BlockHeader header;
  Bytes certificate;
  std::vector<bool> written;  // by chunk index
};

SnapshotImport::~SnapshotImport() = default;

Result<std::unique_ptr<SnapshotImport>> SnapshotImport::Begin(std::unique_ptr<KvStore> kv,
                                                              const Block& genesis,
                                                              ByteView manifest_bytes,
                                                              const BlockHeader& header,
                                                              ByteView certificate) {
  const std::string at = "snapshot import: ";
  if (!kv) return Status::InvalidArgument(at + "no key-value store");
  if (certificate.size() > kMaxImportCertificate) {
    return Status::InvalidArgument(at + "the certificate is larger than " +
                                   std::to_string(kMaxImportCertificate) + " bytes");
  }
  auto manifest = Manifest::Decode(manifest_bytes);
  if (!manifest.ok()) return manifest.status().Wrap(at.substr(0, at.size() - 2));
  if (header.height == 0) return Status::Rejected(at + "a snapshot of height 0 is the genesis");
  if (header.chain_id != genesis.header.chain_id) {
    return Status::Rejected(at + "the header is of chain \"" + header.chain_id +
                            "\", the genesis of \"" + genesis.header.chain_id + "\"");
  }
  if (Status s = VerifyManifest(*manifest, header); !s.ok())
    return s.Wrap(at.substr(0, at.size() - 2));

  ImportRecord record{Bytes(manifest_bytes.begin(), manifest_bytes.end()), header.Encode(),
                      Bytes(certificate.begin(), certificate.end()), genesis.Hash()};
  auto impl = std::make_unique<Impl>();
  impl->genesis = genesis;
  impl->manifest = std::move(manifest.value());
  impl->header = header;
  impl->certificate = record.certificate;
  impl->written.assign(impl->manifest.slots.size(), false);

  auto existing = kv->Get(MetaKey("import"));
  if (!existing.ok()) return existing.status().Wrap(at + "reading the import record");
  if (existing.value()) {
    auto stored = DecodeImportRecord(**existing);
    if (!stored.ok()) return stored.status().Wrap(at.substr(0, at.size() - 2));
    if (stored->manifest != record.manifest || stored->header != record.header ||
        stored->genesis_hash != record.genesis_hash) {
      std::string what = "another import";
      if (auto m = Manifest::Decode(stored->manifest); m.ok()) {
        what = "an import of snapshot " + crypto::ShortHex(m->Hash(), 16) + " at height " +
               std::to_string(m->height);
      }
      return Status::Rejected(at + what +
                              " is in progress in this store; resume it with the same snapshot, "
                              "or start again from an empty data dir");
    }
    // Resume: the chunks written before the crash stay, with their 'I' records.
    impl->certificate = std::move(stored->certificate);
    const uint8_t begin[] = {kImportPrefix};
    const uint8_t end[] = {kImportPrefix + 1};
    Status s = kv->Scan(begin, end, [&](ByteView key, ByteView) {
      if (key.size() != 5) return true;
      const uint32_t index =
          (uint32_t{key[1]} << 24) | (uint32_t{key[2]} << 16) | (uint32_t{key[3]} << 8) | key[4];
      if (index < impl->written.size()) impl->written[index] = true;
      return true;
    });
    if (!s.ok()) return s.Wrap(at + "reading the chunks written");
  } else {
    bool has_data = false;
    Status s = kv->Scan({}, {}, [&](ByteView, ByteView) {
      has_data = true;
      return false;
    });
    if (!s.ok()) return s.Wrap(at);
    if (has_data) {
      return Status::Rejected(at + "the store already holds data (a chain?); a snapshot is " +
                              "imported into an empty data dir only");
    }
    WriteBatch batch;
    batch.Put(MetaKey("import"), EncodeImportRecord(record));
    if (Status w = kv->Write(batch, /*sync=*/true); !w.ok()) {
      return w.WithCode(StatusCode::kIoError).Wrap(at + "writing the import record");
    }
  }
  impl->kv = std::move(kv);
  auto out = std::unique_ptr<SnapshotImport>(new SnapshotImport());
  out->impl_ = std::move(impl);
  return out;
}

const Manifest& SnapshotImport::manifest() const { return impl_->manifest; }

std::vector<uint32_t> SnapshotImport::Missing() const {
  std::vector<uint32_t> out;
  if (!impl_ || !impl_->kv) return out;
  for (uint32_t i = 0; i < impl_->manifest.slots.size(); ++i) {
    if (impl_->manifest.slots[i].count != 0 && !impl_->written[i]) out.push_back(i);
  }
  return out;
}

Status SnapshotImport::AddChunk(uint32_t index, ByteView chunk) {
  if (!impl_ || !impl_->kv) return Status::InvalidArgument("snapshot import: already finished");
  auto entries = VerifyChunk(impl_->manifest, index, chunk);
  if (!entries.ok()) return entries.status();
  if (impl_->written[index]) return Status::Ok();
  WriteBatch batch;
  for (const SnapshotEntry& e : *entries) batch.Put(PrefixedStateKey(e.key), e.value);
  batch.Put(ImportIndexKey(index), {});
  if (Status s = impl_->kv->Write(batch, /*sync=*/true); !s.ok()) {
    return s.WithCode(StatusCode::kIoError)
        .Wrap("snapshot import: writing chunk " + std::to_string(index));
  }
  impl_->written[index] = true;
  return Status::Ok();
}

Result<std::unique_ptr<ChainStore>> SnapshotImport::Finish() {
  const std::string at = "snapshot import: ";
  if (!impl_ || !impl_->kv) return Status::InvalidArgument(at + "already finished");
  if (const size_t missing = Missing().size(); missing != 0) {
    return Status::Rejected(at + std::to_string(missing) + " of the snapshot's chunks are not " +
                            "written yet");
  }
  KvStore& kv = *impl_->kv;
  const BlockHeader& h = impl_->header;
  // The chunks were each checked against the manifest, and it against the header; the
  // entries as written must still give the header's root (a disk that lost a write, or a
  // stray key, would not).
  std::vector<TreeWrite> writes;
  const uint8_t s_begin[] = {kStatePrefix};
  const uint8_t s_end[] = {kStatePrefix + 1};
  Status scanned = kv.Scan(s_begin, s_end, [&](ByteView key, ByteView value) {
    writes.push_back(TreeWrite{KeyHash(key.subspan(1)), ValueHash(value)});
    return true;
  });
  if (!scanned.ok()) return scanned.Wrap(at + "reading the state");
  if (writes.size() != impl_->manifest.entries) {
    return Status::Corruption(at + "the store holds " + std::to_string(writes.size()) +
                              " state entries, the snapshot " +
                              std::to_string(impl_->manifest.entries));
  }
  {
    StateTree::View view =
        ProcessStateTree().UpdateHashed(StateTree::View(), std::move(writes), h.height);
    if (StateTree::Root(view) != h.state_root) {
      return Status::Corruption(
          at + "the written state has root " + crypto::ShortHex(StateTree::Root(view), 16) +
          ", not the header's state_root " + crypto::ShortHex(h.state_root, 16));
    }
  }
  const Block& genesis = impl_->genesis;
  const crypto::Hash256 genesis_hash = genesis.Hash();
  const crypto::Hash256 hash = h.Hash();
  WriteBatch batch;
  batch.Put(HeightKey(kBlockPrefix, 0), genesis.Encode());
  batch.Put(HashKey(kHashPrefix, genesis_hash), EncodeU64(0));
  batch.Put(HeightKey(kReceiptsPrefix, 0), EncodeReceipts({}));
  Writer format;
  format.U32(kFormatVersion);
  batch.Put(MetaKey("format"), format.bytes());
  batch.Put(MetaKey("genesis"), genesis_hash.view());
  batch.Put(MetaKey("chain_id"), AsBytes(genesis.header.chain_id));
  batch.Put(HeightKey(kPrunedHeaderPrefix, h.height), h.Encode());
  batch.Put(HashKey(kHashPrefix, hash), EncodeU64(h.height));
  if (!impl_->certificate.empty()) {
    batch.Put(HeightKey(kCertificatePrefix, h.height), impl_->certificate);
  }
  batch.Put(MetaKey("head"), EncodeHead(Head{h.height, hash, h.state_root}));
  batch.Put(MetaKey("blocks_from"), EncodeU64(h.height + 1));
  batch.Put(MetaKey("headers_from"), EncodeU64(h.height));
  batch.Put(MetaKey("undo_from"), EncodeU64(h.height));
  batch.Put(MetaKey("synced_at"), EncodeU64(h.height));
  batch.Delete(MetaKey("import"));
  for (uint32_t i = 0; i < impl_->written.size(); ++i) {
    if (impl_->written[i]) batch.Delete(ImportIndexKey(i));
  }
  if (Status s = kv.Write(batch, /*sync=*/true); !s.ok()) {
    return s.WithCode(StatusCode::kIoError).Wrap(at + "writing the chain's head");
  }
  auto store = ChainStore::Open(std::move(impl_->kv), genesis, StateDiff{});
  if (!store.ok()) return store.status().Wrap(at + "opening the imported store");
  return store;
}

Result<std::unique_ptr<ChainStore>> OpenChainStore(const std::string& dir, const Block& genesis,
                                                   const StateDiff& genesis_state, bool create) {
  auto kv = OpenLevelDb(dir, create);
  if (!kv.ok()) return kv.status();
  auto store = ChainStore::Open(std::move(kv.value()), genesis, genesis_state);
  if (!store.ok()) return store.status().Wrap(dir);
  return store;
}

}  // namespace cairn::ledger
