// The state as an in-memory sparse Merkle tree (docs/design/state-tree.md sections 2 and 4):
// immutable binary nodes in an arena with 32-bit indices, shared copy-on-write between
// views, updated one block at a time in one batched pass, proving any key present or absent.
//
// Thread-safety: StateTree is thread-safe. Update, Root, Get and Prove may run on any threads
// at once, on the same or on different views; a view stays valid and unchanged whatever
// other threads build or drop. A View is a value like std::shared_ptr: copies of one view may
// be made and destroyed on different threads (node refcounts are atomic), but one View
// object must not be assigned on one thread while another reads it. Views keep the arena
// alive, so a view may outlive its StateTree.
#pragma once

#include <array>
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "ledger/account.h"
#include "ledger/state.h"
#include "ledger/state_proof.h"

namespace cairn::ledger {

// One write to the tree by key hash: a new value hash, or a deletion (nullopt).
struct TreeWrite {
  crypto::Hash256 key_hash;
  std::optional<crypto::Hash256> value_hash;
};

// One present entry, for the naive RootOf.
struct TreeEntry {
  crypto::Hash256 key_hash;
  crypto::Hash256 value_hash;
};

struct StateTreeOptions {
  // Updates writing at least this many keys hash the root's two subtrees on two threads
  // (section 4); SIZE_MAX keeps every update on the calling thread.
  size_t parallel_min_writes = 512;
};

// What one Update did, for benchmarks and tests.
struct TreeUpdateStats {
  size_t node_hashes = 0;  // NodeHash computed (new internal nodes)
  size_t leaf_hashes = 0;  // LeafHash computed (new or changed leaves)
  size_t leaf_copies = 0;  // leaves that moved (rose or sank) without a new hash
};

// Where a stored node lives (section 3's `'N' version path`): the version (block height) it
// was written at and its nibble path from the root, each nibble 0..15, at most 64.
struct TreeNodeKey {
  uint64_t version = 0;
  std::vector<uint8_t> nibbles;
  friend auto operator<=>(const TreeNodeKey&, const TreeNodeKey&) = default;
};

// One stored node, section 3's TreeNode before encoding: the empty tree (root only), a leaf
// (here by its hashes; the store's record will carry the state key and value), or a page,
// the 16 nodes four binary levels below an internal node at a depth divisible by 4.
struct TreeRecord {
  enum class Kind : uint8_t { kEmpty, kLeaf, kPage };
  Kind kind = Kind::kEmpty;
  crypto::Hash256 key_hash;    // kLeaf
  crypto::Hash256 value_hash;  // kLeaf
  uint16_t exists = 0;         // kPage: bit i set when slot i holds a node
  uint16_t leaves = 0;         // kPage: bit i set when that node is a leaf
  std::array<crypto::Hash256, 16> hash{};
  std::array<uint64_t, 16> version{};  // the slot's node key's version
};

// What one block adds to the tree's storage and what it retires.
struct TreeBatch {
  // Every page and leaf created at the new version, and the root record (written every
  // version, section 3).
  std::vector<std::pair<TreeNodeKey, TreeRecord>> records;
  // The old view's records that the new view no longer reaches (the StaleList).
  std::vector<TreeNodeKey> stale;
};

// Reads one stored record; nullptr when absent.
using TreeRecordReader = std::function<const TreeRecord*(const TreeNodeKey&)>;

// KeyHash of ledger/state.h's AccountKey / RecordKey.
crypto::Hash256 AccountKeyHash(const Address& a);
crypto::Hash256 RecordKeyHash(const Address& a, ByteView key);

// The root of the tree holding exactly `entries`, by the definition T(E, 0) of section 2,
// computed from scratch without the arena: the reference the incremental code is tested
// against, and the audit's independent check. REQUIRES: no key hash twice.
crypto::Hash256 RootOf(std::vector<TreeEntry> entries);

class StateTree {
 private:
  struct Arena;

 public:
  // A handle on one tree state (a root). Cheap to copy (one atomic increment); the nodes it
  // reaches stay alive and unchanged while any copy lives. A default View is the empty tree
  // and belongs to every StateTree.
  class View {
   public:
    View() = default;
    View(const View& other);
    View& operator=(const View& other);
    View(View&& other) noexcept;
    View& operator=(View&& other) noexcept;
    ~View();

    bool empty() const { return root_ == 0; }

   private:
    friend class StateTree;
    // Takes a new reference on root.
    View(std::shared_ptr<Arena> arena, uint32_t root, const crypto::Hash256& root_hash);
    void Reset();

    std::shared_ptr<Arena> arena_;
    uint32_t root_ = 0;          // 0: the empty tree
    crypto::Hash256 root_hash_;  // nodes hold their children's hashes, not their own
  };

  explicit StateTree(StateTreeOptions options = {});
  ~StateTree();
  StateTree(const StateTree&) = delete;
  StateTree& operator=(const StateTree&) = delete;

  // The tree after applying one block's writes to `parent`: each state key's KeyHash gets
  // its value's ValueHash, or is deleted (nullopt). New nodes carry `version` (the block
  // height). A write equal to the present value changes nothing; deleting an absent key
  // changes nothing. `parent` is unchanged. REQUIRES: parent is empty or of this tree.
  View Update(const View& parent, const StateDiff& diff, uint64_t version,
              TreeUpdateStats* stats = nullptr);
  // As Update, by key hash (tests choose key hashes directly to force long shared prefixes).
  // Writes need not be sorted; for a key hash written twice the later write wins.
  View UpdateHashed(const View& parent, std::vector<TreeWrite> writes, uint64_t version,
                    TreeUpdateStats* stats = nullptr);

  // The root hash: Empty (32 zero bytes) for the empty tree.
  static crypto::Hash256 Root(const View& view);
  // The value hash held for the key, or nullopt when absent.
  std::optional<crypto::Hash256> Get(const View& view, const crypto::Hash256& key_hash) const;
  // The canonical proof (section 5) of the key's presence or absence in `view`, which
  // VerifyStateProof accepts against Root(view).
  Bytes Prove(const View& view, ByteView state_key) const;
  Bytes ProveKeyHash(const View& view, const crypto::Hash256& key_hash) const;

  // Changes StateTreeOptions::parallel_min_writes for later updates (benchmarks compare
  // both ways on one tree); thread-safe.
  void SetParallelMinWrites(size_t n) { parallel_min_writes_.store(n, std::memory_order_relaxed); }

  // Nodes (internal and leaves) held by live views or being built: 0 once every view is
  // dropped. Exact when no Update runs.
  size_t LiveNodes() const;

  // Page emission (section 3) as a pure function of two views: `now` is `old`'s child, made
  // by Update at `version`; old_version is old's version (nullopt when `now` is the first,
  // then nothing is stale). Replaces *out's contents but keeps its capacity: a caller that
  // reuses one TreeBatch per block spares the allocator megabytes of fresh pages per block
  // (at 1M keys the records take ~4 MB, and on this VM first-touch page faults cost more
  // than the walk).
  void Emit(const View& old, std::optional<uint64_t> old_version, const View& now, uint64_t version,
            TreeBatch* out) const;
  // Rebuilds the view of `version` from stored records, checking every page's slot hashes
  // against the nodes below it. kNotFound for a missing record, kCorruption for one that
  // contradicts its parent.
  Result<View> Load(const TreeRecordReader& read, uint64_t version);

 private:
  class Builder;
  class Pages;

  std::atomic<size_t> parallel_min_writes_;
  std::shared_ptr<Arena> arena_;
};

// The tree every block of this process is executed with. Views of one tree can be each
// other's parents, so the chain store's head, a pipelining leader's blocks in flight, BFT
// candidates and the audit's replay all update through this one (an update of a view needs
// the tree that made it); it is thread-safe like any StateTree.
StateTree& ProcessStateTree();

}  // namespace cairn::ledger
