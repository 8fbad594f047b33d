// The in-memory state tree. Node layout (section 4 of docs/design/state-tree.md, as built):
//   Node  left:u32 right:u32 version:u64 a:fixed[32] b:fixed[32]              (80 bytes)
//         internal: left, right are child indices (0 = Empty, never both), a and b their
//                   hashes
//         leaf:     right = kLeafMark, a = key hash, b = value hash
//   refs  atomic u32 per node, in arrays of their own
// A node holds its children's hashes rather than its own, so an update reads only the nodes
// on its paths, never their siblings, and a proof is read off the path. The root's hash lives
// in the View. A node's refcount is the number of parents plus views that hold it; keeping
// the counts apart from the nodes lets a dropped view decrement the children it shares
// without touching their (cold) nodes. Nodes never change after they are reachable from a
// view; an update copies the paths it changes.
#include "ledger/state_tree.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <string>
#include <system_error>
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
  uint32_t left = 0;
  uint32_t right = 0;
  uint64_t version = 0;
  Hash256 a;  // internal: the left child's hash; leaf: the key hash
  Hash256 b;  // internal: the right child's hash; leaf: the value hash

  bool leaf() const { return right == kLeafMark; }
};

// Nodes and their refcounts in fixed-size chunks behind a fixed table of chunk pointers: an
// index never moves, and a reader needs no lock (the index reached it through a view, which
// happened after the chunk was published). Index 0 is never handed out (it means Empty).
// (madvise(MADV_HUGEPAGE) on the chunks was tried: this VM gave no huge pages, so no gain.)
class NodePool {
 public:
  static constexpr unsigned kChunkBits = 15;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr size_t kMaxChunks = size_t{1} << (32 - kChunkBits);

  NodePool() : chunks_(new std::atomic<Chunk*>[kMaxChunks]) {
    for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~NodePool() {
    for (size_t i = 0; i < kMaxChunks; ++i) delete chunks_[i].load(std::memory_order_relaxed);
  }
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  Node& at(uint32_t i) const {
    return chunks_[i >> kChunkBits].load(std::memory_order_acquire)->nodes[i & (kChunkSize - 1)];
  }
  std::atomic<uint32_t>& refs(uint32_t i) const {
    return chunks_[i >> kChunkBits].load(std::memory_order_acquire)->refs[i & (kChunkSize - 1)];
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
      // 2^32 - 1 nodes would be ~340 GB: running out of indices is a bug, not an input.
      if (next_ == std::numeric_limits<uint32_t>::max()) std::abort();
      const size_t c = next_ >> kChunkBits;
      if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
        chunks_[c].store(NewChunk(), std::memory_order_release);
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
  struct Chunk {
    Node nodes[kChunkSize];
    std::atomic<uint32_t> refs[kChunkSize];
  };

  static Chunk* NewChunk() { return new Chunk; }

  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  mutable Mutex mu_;
  std::vector<uint32_t> free_ GUARDED_BY(mu_);
  uint32_t next_ GUARDED_BY(mu_) = 1;
};

unsigned Nibble(const Hash256& h, unsigned k) {
  return (h.data()[k / 2] >> (k % 2 == 0 ? 4 : 0)) & 0xf;
}

// The first n nibbles of a key hash or of a path prefix held as bits.
std::vector<uint8_t> Nibbles(const Hash256& h, unsigned n) {
  std::vector<uint8_t> out(n);
  for (unsigned k = 0; k < n; ++k) out[k] = static_cast<uint8_t>(Nibble(h, k));
  return out;
}

void SetBit(Hash256& h, unsigned i, bool v) {
  const auto mask = static_cast<uint8_t>(0x80 >> (i % 8));
  if (v) {
    h.data()[i / 8] |= mask;
  } else {
    h.data()[i / 8] &= static_cast<uint8_t>(~mask);
  }
}

// A subtree as its parent sees it: the node's index and its hash.
struct Sub {
  uint32_t node = 0;  // 0: Empty
  Hash256 hash;
};

}  // namespace

struct StateTree::Arena {
  NodePool pool;

  const Node& node(uint32_t i) const { return pool.at(i); }
  // Asks for node i's refcount line, to be written soon.
  void Prefetch(uint32_t i) const {
    if (i != 0) __builtin_prefetch(&pool.refs(i), /*rw=*/1);
  }
  void Ref(uint32_t i) {
    if (i != 0) pool.refs(i).fetch_add(1, std::memory_order_relaxed);
  }

  // Drops one reference on i and frees every node that loses its last one. Level by level,
  // fetching a whole level's counts and nodes before using any: a node's children are
  // known only once it is read, and a one-at-a-time walk pays a full memory latency
  // (~0.5 us on this machine) per node; a level's fetches overlap.
  void Unref(uint32_t i) {
    if (i == 0) return;
    std::vector<uint32_t> level{i}, dying, next, freed;
    while (!level.empty()) {
      for (uint32_t j : level) Prefetch(j);
      dying.clear();
      for (uint32_t j : level) {
        // acq_rel: the freeing thread must see every write other holders made before their
        // decrement (as std::shared_ptr does).
        if (pool.refs(j).fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
        __builtin_prefetch(&pool.at(j));
        dying.push_back(j);
      }
      next.clear();
      for (uint32_t j : dying) {
        const Node& n = pool.at(j);
        if (!n.leaf()) {
          if (n.left != 0) next.push_back(n.left);
          if (n.right != 0) next.push_back(n.right);
        }
        freed.push_back(j);
      }
      level.swap(next);
    }
    pool.Release(freed);
  }

  // Brings into cache the nodes on the paths of `writes` below `root` (at depth d) and the
  // counts of their siblings, walking many paths at once: the update then finds them there
  // instead of waiting on each level in turn. Only a hint: reads nothing it returns.
  void Warm(uint32_t root, unsigned d, std::span<const TreeWrite> writes) const {
    if (root == 0) return;
    constexpr size_t kLanes = 16;
    struct Lane {
      uint32_t node = 0;
      unsigned depth = 0;
      size_t write = 0;
    };
    std::array<Lane, kLanes> lanes;
    size_t next_write = 0, active = 0;
    auto start = [&](Lane& lane) {
      if (next_write >= writes.size()) return false;
      lane = Lane{root, d, next_write++};
      return true;
    };
    for (Lane& lane : lanes) active += start(lane) ? 1 : 0;
    while (active > 0) {
      for (Lane& lane : lanes) {
        if (lane.node == 0) continue;
        const Node& n = pool.at(lane.node);
        if (n.leaf() || lane.depth >= 256) {
          lane.node = 0;
          if (!start(lane)) --active;
          continue;
        }
        const bool right = KeyBit(writes[lane.write].key_hash, lane.depth);
        const uint32_t child = right ? n.right : n.left;
        Prefetch(right ? n.left : n.right);
        lane.node = child;
        ++lane.depth;
        if (child == 0) {
          if (!start(lane)) --active;
          continue;
        }
        __builtin_prefetch(&pool.at(child));
        __builtin_prefetch(reinterpret_cast<const char*>(&pool.at(child)) + 64);
      }
    }
  }
};

// One thread's part of one Update: its own batch of free indices (so allocation takes the
// pool's lock once per kBatch nodes) and its counters. Indices left over go back at the end.
class StateTree::Builder {
 public:
  Builder(Arena& arena, uint64_t version) : a_(arena), version_(version) {}
  ~Builder() {
    assert(shared_refs_.empty());  // Finish() was called
    a_.pool.Release(free_);
  }
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // Takes the references on older nodes that Join deferred. REQUIRES: called before the
  // result is published, while the parent view still holds those nodes.
  void Finish() {
    for (uint32_t c : shared_refs_) a_.Prefetch(c);
    for (uint32_t c : shared_refs_) a_.Ref(c);
    shared_refs_.clear();
  }

  TreeUpdateStats stats;

  // The subtree at depth d after `writes` (sorted, unique, all sharing node's first d bits).
  Sub Update(const Sub& sub, unsigned d, std::span<const TreeWrite> writes) {
    if (writes.empty()) return sub;
    if (sub.node == 0) {
      scratch_.clear();
      for (const TreeWrite& w : writes) {
        if (w.value_hash) scratch_.push_back(Item{w.key_hash, *w.value_hash, Sub{}});
      }
      return Build(d, scratch_, /*existing_depth=*/0);
    }
    const Node& n = a_.node(sub.node);
    if (n.leaf()) return UpdateLeaf(sub, d, writes);
    const size_t split = SplitAt(writes, d);
    const Sub l = Update(Sub{n.left, n.a}, d + 1, writes.first(split));
    const Sub r = Update(Sub{n.right, n.b}, d + 1, writes.subspan(split));
    if (l.node == n.left && r.node == n.right) return sub;
    return Join(l, r);
  }

  // Empty, the lone leaf (risen to this level), or a new internal node over l and r.
  Sub Join(const Sub& l, const Sub& r) {
    if (l.node == 0 && r.node == 0) return Sub{};
    if (l.node == 0 && a_.node(r.node).leaf()) return Rise(r);
    if (r.node == 0 && a_.node(l.node).leaf()) return Rise(l);
    const uint32_t i = NewNode();
    Node& n = a_.pool.at(i);
    n.left = l.node;
    n.right = r.node;
    n.version = version_;
    n.a = l.hash;
    n.b = r.hash;
    Attach(l.node);
    Attach(r.node);
    ++stats.node_hashes;
    return Sub{i, NodeHash(l.hash, r.hash)};
  }

  // Records every node this builder creates in *created (a failed Load frees them).
  void Track(std::vector<uint32_t>* created) { created_ = created; }

  // A leaf node from its record, with the version of its key.
  Sub LoadLeaf(const TreeRecord& r, uint64_t version) {
    const uint32_t i = NewNode();
    Node& n = a_.pool.at(i);
    n.left = 0;
    n.right = kLeafMark;
    n.version = version;
    n.a = r.key_hash;
    n.b = r.value_hash;
    return Sub{i, LeafHash(r.key_hash, r.value_hash)};
  }

  // The binary nodes of a page and everything below it. The page's inner nodes take the
  // page's version (only page roots and leaves have keys); slots are checked against what
  // loads below them. On failure sets *st and returns what it has (the caller drops it).
  Sub LoadPage(const TreeRecordReader& read, const TreeRecord& page,
               const std::vector<uint8_t>& path, uint64_t version, Status* st) {
    if (path.size() >= 64) {
      *st = Status::Corruption("state tree: a page below nibble 64");
      return Sub{};
    }
    if ((page.leaves & ~page.exists) != 0) {
      *st = Status::Corruption("state tree: a page marks an empty slot as a leaf");
      return Sub{};
    }
    const Sub root = LoadRange(read, page, path, version, 0, 16, st);
    if (st->ok() && (root.node == 0 || a_.node(root.node).leaf())) {
      *st =
          Status::Corruption("state tree: the page at version " + std::to_string(version) +
                             " depth " + std::to_string(path.size()) + " does not hold two nodes");
    }
    return root;
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

  // Slots [s, s + w) of `page` as a binary subtree (JMT's rule, section 3).
  Sub LoadRange(const TreeRecordReader& read, const TreeRecord& page,
                const std::vector<uint8_t>& path, uint64_t version, unsigned s, unsigned w,
                Status* st) {
    if (!st->ok()) return Sub{};
    const auto mask = static_cast<uint16_t>(((1u << w) - 1) << s);
    const uint16_t present = page.exists & mask;
    if (present == 0) return Sub{};
    if (std::popcount(present) == 1 && (page.leaves & present) != 0) {
      return LoadSlot(read, page, path, static_cast<unsigned>(std::countr_zero(present)), st);
    }
    if (w == 1) return LoadSlot(read, page, path, s, st);
    const Sub l = LoadRange(read, page, path, version, s, w / 2, st);
    const Sub r = LoadRange(read, page, path, version, s + w / 2, w / 2, st);
    if (!st->ok()) return Sub{};
    const uint32_t i = NewNode();
    Node& n = a_.pool.at(i);
    n.left = l.node;
    n.right = r.node;
    n.version = version;
    n.a = l.hash;
    n.b = r.hash;
    Attach(l.node);
    Attach(r.node);
    return Sub{i, NodeHash(l.hash, r.hash)};
  }

  Sub LoadSlot(const TreeRecordReader& read, const TreeRecord& page,
               const std::vector<uint8_t>& path, unsigned slot, Status* st) {
    TreeNodeKey key{page.version[slot], path};
    key.nibbles.push_back(static_cast<uint8_t>(slot));
    const TreeRecord* r = read(key);
    const bool leaf = (page.leaves & (1u << slot)) != 0;
    if (r == nullptr || r->kind != (leaf ? TreeRecord::Kind::kLeaf : TreeRecord::Kind::kPage)) {
      *st =
          r == nullptr
              ? Status::NotFound("state tree: no record at version " + std::to_string(key.version) +
                                 " for slot " + std::to_string(slot))
              : Status::Corruption("state tree: the record at version " +
                                   std::to_string(key.version) + " is not the slot's kind");
      return Sub{};
    }
    if (leaf && Nibbles(r->key_hash, static_cast<unsigned>(key.nibbles.size())) != key.nibbles) {
      *st = Status::Corruption("state tree: the leaf at version " + std::to_string(key.version) +
                               " is off its key's path");
      return Sub{};
    }
    const Sub sub =
        leaf ? LoadLeaf(*r, key.version) : LoadPage(read, *r, key.nibbles, key.version, st);
    if (st->ok() && sub.hash != page.hash[slot]) {
      *st = Status::Corruption("state tree: the node at version " + std::to_string(key.version) +
                               " hashes to " + crypto::ShortHex(sub.hash, 16) + ", its page says " +
                               crypto::ShortHex(page.hash[slot], 16));
    }
    return sub;
  }

  struct Item {  // an entry to place: a new leaf, or an existing one (existing.node != 0)
    Hash256 key_hash;
    Hash256 value_hash;
    Sub existing;
  };

  Sub UpdateLeaf(const Sub& leaf, unsigned d, std::span<const TreeWrite> writes) {
    const Node& n = a_.node(leaf.node);
    const Hash256 old_key = n.a, old_value = n.b;
    scratch_.clear();
    bool placed = false;  // the old leaf is in scratch_, or replaced, or deleted
    for (const TreeWrite& w : writes) {
      if (!placed && old_key <= w.key_hash) {
        placed = true;
        if (old_key == w.key_hash) {
          if (!w.value_hash) continue;  // deleted
          if (*w.value_hash == old_value) {
            scratch_.push_back(Item{old_key, old_value, leaf});  // a no-op write
          } else {
            scratch_.push_back(Item{w.key_hash, *w.value_hash, Sub{}});
          }
          continue;
        }
        scratch_.push_back(Item{old_key, old_value, leaf});
      }
      if (w.value_hash) scratch_.push_back(Item{w.key_hash, *w.value_hash, Sub{}});
    }
    if (!placed) scratch_.push_back(Item{old_key, old_value, leaf});
    return Build(d, scratch_, d);
  }

  // The canonical subtree at depth d holding exactly `items` (sorted). An existing leaf stays
  // itself only where it was (existing_depth); elsewhere it is copied at this version, so
  // page emission finds every node whose path changed by its version. Does not touch
  // scratch_ (which may be `items`).
  Sub Build(unsigned d, std::span<const Item> items, unsigned existing_depth) {
    if (items.empty()) return Sub{};
    if (items.size() == 1) {
      const Item& it = items.front();
      if (it.existing.node != 0) {
        return d == existing_depth ? it.existing : CopyLeaf(it.existing);
      }
      return NewLeaf(it.key_hash, it.value_hash);
    }
    const size_t split = SplitAt(items, d);
    // Two or more items: neither side can end up a lone leaf beside an Empty, so Join
    // never needs to raise a leaf here.
    return Join(Build(d + 1, items.first(split), existing_depth),
                Build(d + 1, items.subspan(split), existing_depth));
  }

  Sub NewLeaf(const Hash256& key_hash, const Hash256& value_hash) {
    const uint32_t i = NewNode();
    Node& n = a_.pool.at(i);
    n.left = 0;
    n.right = kLeafMark;
    n.version = version_;
    n.a = key_hash;
    n.b = value_hash;
    ++stats.leaf_hashes;
    return Sub{i, LeafHash(key_hash, value_hash)};
  }

  // A leaf at a new depth: same hash (a leaf's hash does not depend on its depth), new
  // version.
  Sub CopyLeaf(const Sub& leaf) {
    const Node& old = a_.node(leaf.node);
    const uint32_t i = NewNode();
    Node& n = a_.pool.at(i);
    n.left = 0;
    n.right = kLeafMark;
    n.version = version_;
    n.a = old.a;
    n.b = old.b;
    ++stats.leaf_copies;
    return Sub{i, leaf.hash};
  }

  // A leaf rising one level: one built by this update (no reference yet, so private to it)
  // moves as is; one shared with older views is copied.
  Sub Rise(const Sub& leaf) {
    if (a_.pool.refs(leaf.node).load(std::memory_order_relaxed) == 0) return leaf;
    return CopyLeaf(leaf);
  }

  // A new parent's reference on child c. A node built by this update has no reference yet
  // and no other thread can see it: a plain store. An older node (one reference at least,
  // held by the parent view, so never 0) needs an atomic increment, which is deferred to
  // Finish: a locked instruction here would wait for this Join's node stores, which miss the
  // cache on recycled slots.
  void Attach(uint32_t c) {
    if (c == 0) return;
    std::atomic<uint32_t>& refs = a_.pool.refs(c);
    if (refs.load(std::memory_order_relaxed) == 0) {
      refs.store(1, std::memory_order_relaxed);
    } else {
      shared_refs_.push_back(c);
    }
  }

  uint32_t NewNode() {
    if (free_.empty()) a_.pool.Grab(&free_, kBatch);
    const uint32_t i = free_.back();
    free_.pop_back();
    if (created_ != nullptr) created_->push_back(i);
    a_.pool.refs(i).store(0, std::memory_order_relaxed);
    return i;
  }

  Arena& a_;
  const uint64_t version_;
  std::vector<uint32_t> free_;
  std::vector<Item> scratch_;                 // the items of one Build from an Empty or a leaf
  std::vector<uint32_t> shared_refs_;         // older nodes given a new parent, see Attach
  std::vector<uint32_t>* created_ = nullptr;  // see Track
};

// --- View ---

StateTree::View::View(std::shared_ptr<Arena> arena, uint32_t root, const Hash256& root_hash)
    : arena_(std::move(arena)), root_(root), root_hash_(root_hash) {
  if (root_ == 0) {
    arena_.reset();
  } else {
    arena_->Ref(root_);
  }
}

StateTree::View::View(const View& other)
    : arena_(other.arena_), root_(other.root_), root_hash_(other.root_hash_) {
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
    : arena_(std::move(other.arena_)),
      root_(std::exchange(other.root_, 0)),
      root_hash_(std::exchange(other.root_hash_, Hash256())) {}

StateTree::View& StateTree::View::operator=(View&& other) noexcept {
  if (this != &other) {
    Reset();
    arena_ = std::move(other.arena_);
    root_ = std::exchange(other.root_, 0);
    root_hash_ = std::exchange(other.root_hash_, Hash256());
  }
  return *this;
}

StateTree::View::~View() { Reset(); }

void StateTree::View::Reset() {
  if (root_ != 0) arena_->Unref(root_);
  root_ = 0;
  root_hash_ = Hash256();
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
  auto unordered = [](const TreeWrite& x, const TreeWrite& y) { return x.key_hash >= y.key_hash; };
  if (std::adjacent_find(writes.begin(), writes.end(), unordered) != writes.end()) {
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
  const Sub old{parent.root_, parent.root_hash_};
  Sub root;
  const bool splittable = old.node == 0 || !arena_->node(old.node).leaf();
  if (writes.size() >= parallel_min_writes_.load(std::memory_order_relaxed) && splittable) {
    // The root's subtrees are independent: the left one on a second thread with its own
    // Builder (its own free indices), the right one here, joined after.
    const size_t split = Builder::SplitAt(all, 0);
    Sub old_l, old_r;
    if (old.node != 0) {
      const Node& n = arena_->node(old.node);
      old_l = Sub{n.left, n.a};
      old_r = Sub{n.right, n.b};
    }
    Sub l;
    TreeUpdateStats left_stats;
    auto update_left = [&] {
      arena_->Warm(old_l.node, 1, all.first(split));
      Builder b(*arena_, version);
      l = b.Update(old_l, 1, all.first(split));
      b.Finish();
      left_stats = b.stats;
    };
    std::jthread left;
    try {
      left = std::jthread(update_left);
    } catch (const std::system_error&) {
      update_left();  // no thread to be had: the same work on this one
    }
    arena_->Warm(old_r.node, 1, all.subspan(split));
    const Sub r = main.Update(old_r, 1, all.subspan(split));
    if (left.joinable()) left.join();
    const bool same = old.node != 0 && l.node == old_l.node && r.node == old_r.node;
    root = same ? old : main.Join(l, r);
    main.stats.node_hashes += left_stats.node_hashes;
    main.stats.leaf_hashes += left_stats.leaf_hashes;
    main.stats.leaf_copies += left_stats.leaf_copies;
  } else {
    arena_->Warm(old.node, 0, all);
    root = main.Update(old, 0, all);
  }
  main.Finish();
  if (stats != nullptr) *stats = main.stats;
  return View(arena_, root.node, root.hash);
}

Hash256 StateTree::Root(const View& view) { return view.root_hash_; }

std::optional<Hash256> StateTree::Get(const View& view, const Hash256& key_hash) const {
  uint32_t i = view.root_;
  for (unsigned d = 0; i != 0; ++d) {
    const Node& n = arena_->node(i);
    if (n.leaf()) {
      if (n.a == key_hash) return n.b;
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
  // The path's nodes: path[d] is the internal node at depth d, whose other child is the
  // sibling at level d + 1.
  std::array<const Node*, StateProof::kMaxDepth> path;
  StateProof p;
  p.kind = StateProofKind::kAbsentEmpty;
  uint32_t i = view.root_;
  unsigned d = 0;
  while (i != 0) {
    const Node& n = arena_->node(i);
    if (n.leaf()) {
      if (n.a == key_hash) {
        p.kind = StateProofKind::kPresent;
      } else {
        p.kind = StateProofKind::kAbsentOtherLeaf;
        p.other_key_hash = n.a;
        p.other_value_hash = n.b;
      }
      break;
    }
    path[d] = &n;
    i = KeyBit(key_hash, d) ? n.right : n.left;
    ++d;
  }
  p.depth = static_cast<uint16_t>(d);
  p.bitmap.assign((d + 7) / 8, 0);
  p.siblings.reserve(d);
  for (unsigned level = d; level >= 1; --level) {
    const Node& n = *path[level - 1];
    const Hash256& sibling = KeyBit(key_hash, level - 1) ? n.a : n.b;
    if (sibling.IsZero()) continue;
    p.bitmap[(level - 1) / 8] |= static_cast<uint8_t>(0x80 >> ((level - 1) % 8));
    p.siblings.push_back(sibling);
  }
  return p.Encode();
}

size_t StateTree::LiveNodes() const { return arena_->pool.InUse(); }

// --- pages: emission and loading (section 3) ---

// Emission walks level by level over the whole batch rather than page by page: most slots of
// an emitted page are old, cold nodes, and reading them one after another pays a full memory
// latency each; a level's reads are issued together (prefetch) and overlap.
class StateTree::Pages {
 public:
  Pages(Arena& a, uint64_t version) : a_(a), version_(version) {}

  // Fills out->records[page] (the page of the internal node `root` at depth 4k on `prefix`)
  // and emits every page and leaf below it created at this version.
  void EmitPages(const Sub& root, unsigned k, const Hash256& prefix, size_t page, TreeBatch* out) {
    std::vector<Entry> level, next;
    Expand(root, 4 * k, k, 0, prefix, page, &level);
    while (!level.empty()) {
      for (const Entry& e : level) __builtin_prefetch(&a_.node(e.sub.node));
      next.clear();
      for (const Entry& e : level) Visit(e, out, &next);
      level.swap(next);
    }
  }

  // Records of the old tree that the new one does not keep at the same place, level by
  // level: an old page root or leaf is stale unless the new tree holds the same node there.
  void Stale(uint32_t old_root, uint32_t new_root, TreeBatch* out) const {
    struct Pair {
      uint32_t o, n;
      unsigned d;
      Hash256 prefix;
    };
    std::vector<Pair> level{Pair{old_root, new_root, 0, Hash256()}}, next;
    while (!level.empty()) {
      for (const Pair& p : level) {
        __builtin_prefetch(&a_.node(p.o));
        if (p.n != 0) __builtin_prefetch(&a_.node(p.n));
      }
      next.clear();
      for (const Pair& p : level) {
        if (p.o == 0 || p.o == p.n) continue;
        const Node& on = a_.node(p.o);
        if (on.leaf()) {
          if (p.d > 0) {
            out->stale.push_back(TreeNodeKey{on.version, Nibbles(on.a, (p.d + 3) / 4)});
          }
          continue;
        }
        if (p.d > 0 && p.d % 4 == 0) {
          out->stale.push_back(TreeNodeKey{on.version, Nibbles(p.prefix, p.d / 4)});
        }
        uint32_t nl = 0, nr = 0;
        if (p.n != 0 && !a_.node(p.n).leaf()) {
          nl = a_.node(p.n).left;
          nr = a_.node(p.n).right;
        }
        Hash256 prefix = p.prefix;
        SetBit(prefix, p.d, false);
        if (on.left != 0) next.push_back(Pair{on.left, nl, p.d + 1, prefix});
        SetBit(prefix, p.d, true);
        if (on.right != 0) next.push_back(Pair{on.right, nr, p.d + 1, prefix});
      }
      level.swap(next);
    }
  }

 private:
  struct Entry {
    Sub sub;         // a node at depth d
    unsigned d;      // in (4k, 4k + 4]
    unsigned k;      // the page's nibble depth
    unsigned slot;   // the slot bits below the page root so far
    Hash256 prefix;  // the key bits above d
    size_t page;     // index of the page's record in out->records
  };

  // Queues the children of the internal node `sub` at depth d, slots of page k.
  void Expand(const Sub& sub, unsigned d, unsigned k, unsigned slot, const Hash256& prefix,
              size_t page, std::vector<Entry>* next) const {
    const Node& n = a_.node(sub.node);
    Hash256 p = prefix;
    if (n.left != 0) {
      SetBit(p, d, false);
      next->push_back(Entry{Sub{n.left, n.a}, d + 1, k, slot * 2, p, page});
    }
    if (n.right != 0) {
      SetBit(p, d, true);
      next->push_back(Entry{Sub{n.right, n.b}, d + 1, k, slot * 2 + 1, p, page});
    }
  }

  void Visit(const Entry& e, TreeBatch* out, std::vector<Entry>* next) {
    const Node& n = a_.node(e.sub.node);
    if (n.leaf()) {
      TreeRecord& page = out->records[e.page].second;
      const unsigned i = Nibble(n.a, e.k);
      page.exists |= static_cast<uint16_t>(1u << i);
      page.leaves |= static_cast<uint16_t>(1u << i);
      page.hash[i] = e.sub.hash;
      page.version[i] = n.version;
      if (n.version == version_) {
        TreeRecord leaf;
        leaf.kind = TreeRecord::Kind::kLeaf;
        leaf.key_hash = n.a;
        leaf.value_hash = n.b;
        out->records.emplace_back(TreeNodeKey{n.version, Nibbles(n.a, e.k + 1)}, leaf);
      }
      return;
    }
    if (e.d < 4 * e.k + 4) {
      Expand(e.sub, e.d, e.k, e.slot, e.prefix, e.page, next);
      return;
    }
    TreeRecord& page = out->records[e.page].second;
    page.exists |= static_cast<uint16_t>(1u << e.slot);
    page.hash[e.slot] = e.sub.hash;
    page.version[e.slot] = n.version;
    if (n.version != version_) return;  // an old page: not emitted, nothing below is new
    TreeRecord child;
    child.kind = TreeRecord::Kind::kPage;
    out->records.emplace_back(TreeNodeKey{n.version, Nibbles(e.prefix, e.k + 1)}, std::move(child));
    Expand(e.sub, e.d, e.k + 1, 0, e.prefix, out->records.size() - 1, next);
  }

  Arena& a_;
  const uint64_t version_;
};

void StateTree::Emit(const View& old, std::optional<uint64_t> old_version, const View& now,
                     uint64_t version, TreeBatch* batch) const {
  TreeBatch& out = *batch;
  out.records.clear();
  out.stale.clear();
  Pages pages(*arena_, version);
  TreeRecord root;
  bool root_page = false;
  if (now.root_ != 0) {
    const Node& n = arena_->node(now.root_);
    if (n.leaf()) {
      root.kind = TreeRecord::Kind::kLeaf;
      root.key_hash = n.a;
      root.value_hash = n.b;
    } else {
      root.kind = TreeRecord::Kind::kPage;
      root_page = true;
    }
  }
  out.records.emplace_back(TreeNodeKey{version, {}}, std::move(root));
  if (root_page) pages.EmitPages(Sub{now.root_, now.root_hash_}, 0, Hash256(), 0, &out);
  if (old_version) {
    // The root record is rewritten every version, so the old one is always stale.
    out.stale.push_back(TreeNodeKey{*old_version, {}});
    pages.Stale(old.root_, now.root_, &out);
  }
}

namespace {

Status Missing(const TreeNodeKey& key) {
  std::string path;
  for (uint8_t n : key.nibbles) path += "0123456789abcdef"[n];
  return Status::NotFound("state tree: no record at version " + std::to_string(key.version) +
                          " path [" + path + "]");
}

}  // namespace

Result<StateTree::View> StateTree::Load(const TreeRecordReader& read, uint64_t version) {
  Builder b(*arena_, version);
  std::vector<uint32_t> created;
  b.Track(&created);
  const TreeNodeKey root_key{version, {}};
  const TreeRecord* root = read(root_key);
  if (root == nullptr) return Missing(root_key);
  Status st;
  Sub sub;
  switch (root->kind) {
    case TreeRecord::Kind::kEmpty:
      break;
    case TreeRecord::Kind::kLeaf:
      sub = b.LoadLeaf(*root, version);
      break;
    case TreeRecord::Kind::kPage:
      sub = b.LoadPage(read, *root, {}, version, &st);
      break;
  }
  b.Finish();
  if (!st.ok()) {
    // Nothing loaded was published: give every node back as is.
    arena_->pool.Release(created);
    return st;
  }
  return View(arena_, sub.node, sub.hash);
}

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

StateTree& ProcessStateTree() {
  // Never destroyed: views held by static objects may outlive main's locals.
  static StateTree* tree = new StateTree();
  return *tree;
}

}  // namespace cairn::ledger
