// The in-memory state tree. Node layout (section 4 of docs/design/state-tree.md):
//   Node      hash:32 left:u32 right:u32 version:u64 refs:atomic u32        (56 bytes)
//             internal: left, right are child indices (0 = Empty, never both)
//             leaf: right = kLeafMark, left indexes the leaf's LeafData
//   LeafData  key_hash:32 value_hash:32                                      (64 bytes)
// A node's refcount is the number of parents plus views that hold it. Nodes never change
// after they are reachable from a view; an update copies the paths it changes.
#include "ledger/state_tree.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstdlib>
#include <thread>
#include <utility>

#include "base/mutex.h"

namespace cairn::ledger {

using crypto::Hash256;

Hash256 AccountKeyHash(const Address& a) { return KeyHash(AccountKey(a)); }
Hash256 RecordKeyHash(const Address& a, ByteView key) { return KeyHash(RecordKey(a, key)); }

namespace {

constexpr uint32_t kLeafMark = std::numeric_limits<uint32_t>::max();

struct Node {
  Hash256 hash;
  uint32_t left = 0;
  uint32_t right = 0;
  uint64_t version = 0;
  std::atomic<uint32_t> refs{0};

  bool leaf() const { return right == kLeafMark; }
};

struct LeafData {
  Hash256 key_hash;
  Hash256 value_hash;
};

// Fixed-size chunks behind a fixed table of chunk pointers: an index never moves, and a
// reader needs no lock (the index reached it through a view, which happened after the
// chunk was published). Index 0 is never handed out (it means Empty).
template <typename T>
class Pool {
 public:
  static constexpr unsigned kChunkBits = 14;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr size_t kMaxChunks = size_t{1} << (32 - kChunkBits);

  Pool() : chunks_(new std::atomic<T*>[kMaxChunks]) {
    for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~Pool() {
    for (size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
  }

  T& at(uint32_t i) const {
    return chunks_[i >> kChunkBits].load(std::memory_order_acquire)[i & (kChunkSize - 1)];
  }

  // Appends n free indices to out: recycled first, then fresh ones.
  void Grab(std::vector<uint32_t>* out, size_t n) {
    MutexLock lock(&mu_);
    while (n > 0 && !free_.empty()) {
      out->push_back(free_.back());
      free_.pop_back();
      --n;
    }
    for (; n > 0; --n) {
      // 2^32 - 1 nodes would be ~230 GB: running out of indices is a bug, not an input.
      if (next_ == std::numeric_limits<uint32_t>::max()) std::abort();
      const size_t c = next_ >> kChunkBits;
      if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
        chunks_[c].store(new T[kChunkSize], std::memory_order_release);
      }
      out->push_back(next_++);
    }
  }

  void Release(std::span<const uint32_t> ids) {
    if (ids.empty()) return;
    MutexLock lock(&mu_);
    free_.insert(free_.end(), ids.begin(), ids.end());
  }

  // Indices handed out and not yet released or given back unused.
  size_t InUse() const {
    MutexLock lock(&mu_);
    return next_ - 1 - free_.size();
  }

 private:
  std::unique_ptr<std::atomic<T*>[]> chunks_;
  mutable Mutex mu_;
  std::vector<uint32_t> free_ GUARDED_BY(mu_);
  uint32_t next_ GUARDED_BY(mu_) = 1;
};

}  // namespace

struct StateTree::Arena {
  Pool<Node> nodes;
  Pool<LeafData> leaves;

  Node& node(uint32_t i) const { return nodes.at(i); }
  const LeafData& leaf_data(const Node& n) const { return leaves.at(n.left); }
  const Hash256& hash(uint32_t i) const { return i == 0 ? kEmptyTreeHash : nodes.at(i).hash; }
  void Ref(uint32_t i) {
    if (i != 0) nodes.at(i).refs.fetch_add(1, std::memory_order_relaxed);
  }

  // Drops one reference on i and frees every node that loses its last one.
  void Unref(uint32_t i) {
    if (i == 0) return;
    std::vector<uint32_t> stack{i}, freed_nodes, freed_leaves;
    while (!stack.empty()) {
      const uint32_t j = stack.back();
      stack.pop_back();
      Node& n = nodes.at(j);
      // acq_rel: the freeing thread must see every write other holders made before their
      // decrement (as std::shared_ptr does).
      if (n.refs.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
      if (n.leaf()) {
        freed_leaves.push_back(n.left);
      } else {
        if (n.left != 0) stack.push_back(n.left);
        if (n.right != 0) stack.push_back(n.right);
      }
      freed_nodes.push_back(j);
    }
    nodes.Release(freed_nodes);
    leaves.Release(freed_leaves);
  }
};

// One thread's part of one Update: its own batch of free indices (so allocation takes the
// pool's lock once per kBatch nodes) and its counters. Indices left over go back at the end.
class StateTree::Builder {
 public:
  struct Item {  // an entry to place: a new leaf, or an existing one (leaf != 0)
    Hash256 key_hash;
    Hash256 value_hash;
    uint32_t leaf = 0;
  };

  Builder(Arena& arena, uint64_t version) : a_(arena), version_(version) {}
  ~Builder() {
    a_.nodes.Release(free_nodes_);
    a_.leaves.Release(free_leaves_);
  }
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  TreeUpdateStats stats;

  // The subtree at depth d after `writes` (sorted, unique, all sharing node's first d bits).
  uint32_t Update(uint32_t node, unsigned d, std::span<const TreeWrite> writes) {
    if (writes.empty()) return node;
    if (node == 0) {
      std::vector<Item> items;
      items.reserve(writes.size());
      for (const TreeWrite& w : writes) {
        if (w.value_hash) items.push_back(Item{w.key_hash, *w.value_hash, 0});
      }
      return Build(d, items, /*existing_depth=*/0);
    }
    const Node& n = a_.node(node);
    if (n.leaf()) return UpdateLeaf(node, d, writes);
    const size_t split = SplitAt(writes, d);
    const uint32_t l = Update(n.left, d + 1, writes.first(split));
    const uint32_t r = Update(n.right, d + 1, writes.subspan(split));
    if (l == n.left && r == n.right) return node;
    return Join(l, r);
  }

  // Empty, the lone leaf (risen to this level), or a new internal node over l and r.
  uint32_t Join(uint32_t l, uint32_t r) {
    if (l == 0 && r == 0) return 0;
    if (l == 0 && a_.node(r).leaf()) return Rise(r);
    if (r == 0 && a_.node(l).leaf()) return Rise(l);
    const uint32_t i = NewNode();
    Node& n = a_.node(i);
    n.left = l;
    n.right = r;
    n.version = version_;
    n.refs.store(0, std::memory_order_relaxed);
    n.hash = NodeHash(a_.hash(l), a_.hash(r));
    ++stats.node_hashes;
    a_.Ref(l);
    a_.Ref(r);
    return i;
  }

  template <typename Entries>
  static size_t SplitAt(const Entries& e, unsigned d) {
    return static_cast<size_t>(
        std::partition_point(e.begin(), e.end(),
                             [d](const auto& x) { return !KeyBit(x.key_hash, d); }) -
        e.begin());
  }

 private:
  static constexpr size_t kBatch = 256;

  uint32_t UpdateLeaf(uint32_t leaf, unsigned d, std::span<const TreeWrite> writes) {
    const LeafData old = a_.leaf_data(a_.node(leaf));
    std::vector<Item> items;
    items.reserve(writes.size() + 1);
    bool placed = false;  // the old leaf is in items, or replaced, or deleted
    for (const TreeWrite& w : writes) {
      if (!placed && old.key_hash <= w.key_hash) {
        placed = true;
        if (old.key_hash == w.key_hash) {
          if (!w.value_hash) continue;  // deleted
          if (*w.value_hash == old.value_hash) {
            items.push_back(Item{old.key_hash, old.value_hash, leaf});  // a no-op write
          } else {
            items.push_back(Item{w.key_hash, *w.value_hash, 0});
          }
          continue;
        }
        items.push_back(Item{old.key_hash, old.value_hash, leaf});
      }
      if (w.value_hash) items.push_back(Item{w.key_hash, *w.value_hash, 0});
    }
    if (!placed) items.push_back(Item{old.key_hash, old.value_hash, leaf});
    return Build(d, items, d);
  }

  // The canonical subtree at depth d holding exactly `items` (sorted). An existing leaf stays
  // itself only where it was (existing_depth); elsewhere it is copied at this version, so
  // page emission finds every node whose path changed by its version.
  uint32_t Build(unsigned d, std::span<const Item> items, unsigned existing_depth) {
    if (items.empty()) return 0;
    if (items.size() == 1) {
      const Item& it = items.front();
      if (it.leaf != 0) return d == existing_depth ? it.leaf : CopyLeaf(it.leaf);
      return NewLeaf(it.key_hash, it.value_hash);
    }
    const size_t split = SplitAt(items, d);
    // Two or more items: neither side can end up a lone leaf beside an Empty, so Join
    // never needs to raise a leaf here.
    return Join(Build(d + 1, items.first(split), existing_depth),
                Build(d + 1, items.subspan(split), existing_depth));
  }

  uint32_t NewLeaf(const Hash256& key_hash, const Hash256& value_hash) {
    const uint32_t li = NewLeafData();
    LeafData& ld = a_.leaves.at(li);
    ld.key_hash = key_hash;
    ld.value_hash = value_hash;
    const uint32_t i = NewNode();
    Node& n = a_.node(i);
    n.left = li;
    n.right = kLeafMark;
    n.version = version_;
    n.refs.store(0, std::memory_order_relaxed);
    n.hash = LeafHash(key_hash, value_hash);
    ++stats.leaf_hashes;
    return i;
  }

  // A leaf at a new depth: same hash (a leaf's hash does not depend on its depth), new
  // version.
  uint32_t CopyLeaf(uint32_t leaf) {
    const LeafData ld = a_.leaf_data(a_.node(leaf));
    const uint32_t li = NewLeafData();
    a_.leaves.at(li) = ld;
    const uint32_t i = NewNode();
    Node& n = a_.node(i);
    n.left = li;
    n.right = kLeafMark;
    n.version = version_;
    n.refs.store(0, std::memory_order_relaxed);
    n.hash = a_.node(leaf).hash;
    ++stats.leaf_copies;
    return i;
  }

  // A leaf rising one level: one built by this update (no reference yet, so private to it)
  // moves as is; one shared with older views is copied.
  uint32_t Rise(uint32_t leaf) {
    if (a_.node(leaf).refs.load(std::memory_order_relaxed) == 0) return leaf;
    return CopyLeaf(leaf);
  }

  uint32_t NewNode() {
    if (free_nodes_.empty()) a_.nodes.Grab(&free_nodes_, kBatch);
    const uint32_t i = free_nodes_.back();
    free_nodes_.pop_back();
    return i;
  }
  uint32_t NewLeafData() {
    if (free_leaves_.empty()) a_.leaves.Grab(&free_leaves_, kBatch);
    const uint32_t i = free_leaves_.back();
    free_leaves_.pop_back();
    return i;
  }

  Arena& a_;
  const uint64_t version_;
  std::vector<uint32_t> free_nodes_, free_leaves_;
};

// --- View ---

StateTree::View::View(std::shared_ptr<Arena> arena, uint32_t root)
    : arena_(std::move(arena)), root_(root) {
  if (root_ == 0) {
    arena_.reset();
  } else {
    arena_->Ref(root_);
  }
}

StateTree::View::View(const View& other) : arena_(other.arena_), root_(other.root_) {
  if (root_ != 0) arena_->Ref(root_);
}

StateTree::View& StateTree::View::operator=(const View& other) {
  if (this != &other) {
    View copy(other);
    *this = std::move(copy);
  }
  return *this;
}

StateTree::View::View(View&& other) noexcept
    : arena_(std::move(other.arena_)), root_(std::exchange(other.root_, 0)) {}

StateTree::View& StateTree::View::operator=(View&& other) noexcept {
  if (this != &other) {
    Reset();
    arena_ = std::move(other.arena_);
    root_ = std::exchange(other.root_, 0);
  }
  return *this;
}

StateTree::View::~View() { Reset(); }

void StateTree::View::Reset() {
  if (root_ != 0) arena_->Unref(root_);
  root_ = 0;
  arena_.reset();
}

// --- StateTree ---

StateTree::StateTree(StateTreeOptions options)
    : parallel_min_writes_(options.parallel_min_writes), arena_(std::make_shared<Arena>()) {}

StateTree::~StateTree() = default;

StateTree::View StateTree::Update(const View& parent, const StateDiff& diff, uint64_t version,
                                  TreeUpdateStats* stats) {
  std::vector<TreeWrite> writes;
  writes.reserve(diff.size());
  for (const auto& [key, value] : diff) {
    TreeWrite w{KeyHash(key), std::nullopt};
    if (value) w.value_hash = ValueHash(*value);
    writes.push_back(w);
  }
  return UpdateHashed(parent, std::move(writes), version, stats);
}

StateTree::View StateTree::UpdateHashed(const View& parent, std::vector<TreeWrite> writes,
                                        uint64_t version, TreeUpdateStats* stats) {
  assert(parent.empty() || parent.arena_ == arena_);
  auto by_key = [](const TreeWrite& x, const TreeWrite& y) { return x.key_hash < y.key_hash; };
  auto strictly = [](const TreeWrite& x, const TreeWrite& y) { return x.key_hash >= y.key_hash; };
  if (std::adjacent_find(writes.begin(), writes.end(), strictly) != writes.end()) {
    std::stable_sort(writes.begin(), writes.end(), by_key);
    // The later of two writes to one key wins: keep the last of each run.
    std::vector<TreeWrite> unique;
    unique.reserve(writes.size());
    for (size_t i = 0; i < writes.size(); ++i) {
      if (i + 1 < writes.size() && writes[i + 1].key_hash == writes[i].key_hash) continue;
      unique.push_back(writes[i]);
    }
    writes.swap(unique);
  }
  const std::span<const TreeWrite> all(writes);
  Builder main(*arena_, version);
  uint32_t root = 0;
  const uint32_t old = parent.root_;
  const bool splittable = old == 0 || !arena_->node(old).leaf();
  if (writes.size() >= parallel_min_writes_.load(std::memory_order_relaxed) && splittable) {
    // The root's subtrees are independent: the left one on a second thread with its own
    // Builder (its own free indices), the right one here, joined after.
    const size_t split = Builder::SplitAt(all, 0);
    const uint32_t old_l = old == 0 ? 0 : arena_->node(old).left;
    const uint32_t old_r = old == 0 ? 0 : arena_->node(old).right;
    uint32_t l = 0;
    TreeUpdateStats left_stats;
    {
      std::jthread left([&] {
        Builder b(*arena_, version);
        l = b.Update(old_l, 1, all.first(split));
        left_stats = b.stats;
      });
      const uint32_t r = main.Update(old_r, 1, all.subspan(split));
      left.join();
      root = (old != 0 && l == old_l && r == old_r) ? old : main.Join(l, r);
    }
    main.stats.node_hashes += left_stats.node_hashes;
    main.stats.leaf_hashes += left_stats.leaf_hashes;
    main.stats.leaf_copies += left_stats.leaf_copies;
  } else {
    root = main.Update(old, 0, all);
  }
  if (stats != nullptr) *stats = main.stats;
  return View(arena_, root);
}

Hash256 StateTree::Root(const View& view) {
  return view.root_ == 0 ? kEmptyTreeHash : view.arena_->node(view.root_).hash;
}

std::optional<Hash256> StateTree::Get(const View& view, const Hash256& key_hash) const {
  uint32_t i = view.root_;
  for (unsigned d = 0; i != 0; ++d) {
    const Node& n = arena_->node(i);
    if (n.leaf()) {
      const LeafData& ld = arena_->leaf_data(n);
      if (ld.key_hash == key_hash) return ld.value_hash;
      return std::nullopt;
    }
    i = KeyBit(key_hash, d) ? n.right : n.left;
  }
  return std::nullopt;
}

Bytes StateTree::Prove(const View& view, ByteView state_key) const {
  return ProveKeyHash(view, KeyHash(state_key));
}

Bytes StateTree::ProveKeyHash(const View& view, const Hash256& key_hash) const {
  // Sibling hashes by level: path[d] is the sibling at level d + 1.
  std::array<Hash256, StateProof::kMaxDepth> path;
  StateProof p;
  p.kind = StateProofKind::kAbsentEmpty;
  uint32_t i = view.root_;
  unsigned d = 0;
  while (i != 0) {
    const Node& n = arena_->node(i);
    if (n.leaf()) {
      const LeafData& ld = arena_->leaf_data(n);
      if (ld.key_hash == key_hash) {
        p.kind = StateProofKind::kPresent;
      } else {
        p.kind = StateProofKind::kAbsentOtherLeaf;
        p.other_key_hash = ld.key_hash;
        p.other_value_hash = ld.value_hash;
      }
      break;
    }
    const bool right = KeyBit(key_hash, d);
    path[d] = arena_->hash(right ? n.left : n.right);
    i = right ? n.right : n.left;
    ++d;
  }
  p.depth = static_cast<uint16_t>(d);
  p.bitmap.assign((d + 7) / 8, 0);
  p.siblings.reserve(d);
  for (unsigned level = d; level >= 1; --level) {
    if (path[level - 1].IsZero()) continue;
    p.bitmap[(level - 1) / 8] |= static_cast<uint8_t>(0x80 >> ((level - 1) % 8));
    p.siblings.push_back(path[level - 1]);
  }
  return p.Encode();
}

size_t StateTree::LiveNodes() const { return arena_->nodes.InUse(); }

// --- the naive root ---

namespace {

Hash256 NaiveT(std::span<const TreeEntry> e, unsigned d) {
  if (e.empty()) return kEmptyTreeHash;
  if (e.size() == 1) return LeafHash(e.front().key_hash, e.front().value_hash);
  assert(d < 256);  // two distinct key hashes differ in some bit below 256
  size_t split = 0;
  while (split < e.size() && !KeyBit(e[split].key_hash, d)) ++split;
  return NodeHash(NaiveT(e.first(split), d + 1), NaiveT(e.subspan(split), d + 1));
}

}  // namespace

Hash256 RootOf(std::vector<TreeEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const TreeEntry& x, const TreeEntry& y) { return x.key_hash < y.key_hash; });
  return NaiveT(entries, 0);
}

}  // namespace cairn::ledger
