// BlockCache: blocks this node built or validated but that are not committed yet, with their
// execution results, so committing one does not execute it again and a pipelining Raft leader
// can build on its own blocks in flight. One eviction rule: at most kCapacity blocks, the
// oldest dropped first (a dropped block that commits after all is just verified again), and
// everything at or below a committed height is dead.
// Thread-safety: none; the loop thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/executor.h"

namespace cairn::node {

class BlockCache {
 public:
  static constexpr size_t kCapacity = 32;

  enum class Origin : uint8_t {
    kBuilt,      // this node built it (as leader or proposer)
    kValidated,  // another validator proposed it and this node checked it (BFT)
  };
  struct Entry {
    ledger::Block block;
    ledger::ExecResult exec;
    Origin origin = Origin::kBuilt;
    uint64_t cached_ms = 0;  // steady ms when built or validated
  };

  void Add(const crypto::Hash256& hash, Entry entry);
  const Entry* Find(const crypto::Hash256& hash) const;
  bool Contains(const crypto::Hash256& hash) const { return Find(hash) != nullptr; }
  std::optional<Entry> Take(const crypto::Hash256& hash);
  void Erase(const crypto::Hash256& hash);
  // Drops every block at or below `height` (committed, or lost to another block there).
  void PruneThrough(uint64_t height);
  size_t size() const { return entries_.size(); }

 private:
  std::map<crypto::Hash256, Entry> entries_;
  std::deque<crypto::Hash256> order_;  // insertion order, oldest first; may hold stale hashes
};

}  // namespace cairn::node
