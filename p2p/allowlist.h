// Who may connect: the permission check consulted once per connection, at handshake time.
// Implementations must be thread-safe; the host calls IsAllowed from its network thread.
#pragma once

#include <set>
#include <vector>

#include "base/mutex.h"
#include "crypto/ed25519.h"

namespace cairn::p2p {

using NodeId = crypto::PublicKey;

// The node builds one from the genesis validators and observers and, later, from on-chain
// validator-set changes. After changing what an implementation answers, call
// Host::RecheckAllowlist() so established connections are re-judged too.
class Allowlist {
 public:
  virtual ~Allowlist() = default;
  virtual bool IsAllowed(const NodeId& id) const = 0;
};

// A fixed set of node ids. Immutable after construction, hence thread-safe.
class StaticAllowlist final : public Allowlist {
 public:
  explicit StaticAllowlist(const std::vector<NodeId>& ids) : ids_(ids.begin(), ids.end()) {}
  bool IsAllowed(const NodeId& id) const override { return ids_.count(id) != 0; }

 private:
  const std::set<NodeId> ids_;
};

// A set the node may replace at runtime (validator-set changes). Thread-safe.
class MutableAllowlist final : public Allowlist {
 public:
  explicit MutableAllowlist(const std::vector<NodeId>& ids) { Replace(ids); }
  bool IsAllowed(const NodeId& id) const override {
    MutexLock lock(&mu_);
    return ids_.count(id) != 0;
  }
  void Replace(const std::vector<NodeId>& ids) {
    std::set<NodeId> next(ids.begin(), ids.end());
    MutexLock lock(&mu_);
    ids_.swap(next);
  }

 private:
  mutable Mutex mu_;
  std::set<NodeId> ids_ GUARDED_BY(mu_);
};

}  // namespace cairn::p2p
