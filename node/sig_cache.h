// SigCache: hashes of transactions whose signatures this node has verified (TxPool keeps one
// for good signatures and one for bad), so that a transaction costs one Ed25519 verification
// per node however it arrives and however often (RPC, gossip, a proposal to vote on, a
// committed block). A transaction's hash covers its signature and sender, so a hit proves the
// very same signed bytes were verified with the same outcome. Bounded: the oldest are
// forgotten. Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <span>
#include <unordered_set>

#include "base/mutex.h"
#include "crypto/sha256.h"

namespace cairn::node {

class SigCache {
 public:
  explicit SigCache(size_t capacity) : capacity_(capacity) {}

  bool Contains(const crypto::Hash256& h) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return set_.count(h) != 0;
  }
  void Insert(std::span<const crypto::Hash256> hashes) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (const crypto::Hash256& h : hashes) {
      if (set_.insert(h).second) order_.push_back(h);
    }
    while (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  std::unordered_set<crypto::Hash256, crypto::Hash256Hasher> set_ GUARDED_BY(mu_);
  std::deque<crypto::Hash256> order_ GUARDED_BY(mu_);
};

}  // namespace cairn::node
