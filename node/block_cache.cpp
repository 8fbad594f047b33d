#include "node/block_cache.h"

#include <algorithm>

namespace cairn::node {

void BlockCache::Add(const crypto::Hash256& hash, Entry entry) {
  if (!entries_.emplace(hash, std::move(entry)).second) return;
  order_.push_back(hash);
  while (entries_.size() > kCapacity && !order_.empty()) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  // Hashes taken or pruned stay in order_ until they reach the front; keep it bounded too.
  while (order_.size() > 4 * kCapacity) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

const BlockCache::Entry* BlockCache::Find(const crypto::Hash256& hash) const {
  auto it = entries_.find(hash);
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<BlockCache::Entry> BlockCache::Take(const crypto::Hash256& hash) {
  auto it = entries_.find(hash);
  if (it == entries_.end()) return std::nullopt;
  Entry e = std::move(it->second);
  entries_.erase(it);
  return e;
}

void BlockCache::Erase(const crypto::Hash256& hash) { entries_.erase(hash); }

void BlockCache::PruneThrough(uint64_t height) {
  std::erase_if(entries_,
                [height](const auto& kv) { return kv.second.block.header.height <= height; });
}

}  // namespace cairn::node
