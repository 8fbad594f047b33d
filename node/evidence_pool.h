// EvidencePool: proof that a validator signed two conflicting votes, as the BFT engine reports
// it (Ready::evidence): kept in memory for getEvidence, stored through EngineStore, logged
// once per piece, and reloaded at startup. Bounded: a validator misbehaving at every height
// for a very long time cannot fill the disk.
// Thread-safety: Record and Load on the loop thread, List from RPC threads; mu_ guards the pool.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "api/node_api.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "genesis/genesis.h"
#include "node/engine_store.h"

namespace cairn::node {

class EvidencePool {
 public:
  static constexpr size_t kMaxPieces = 100'000;

  EvidencePool(const genesis::Genesis& genesis, EngineStore& store, const Clock& clock)
      : genesis_(genesis), store_(store), clock_(clock) {}

  // Before Load: how a voter index of height H names a key (set(H)); unset, the genesis
  // validators.
  using KeyOf = std::function<std::optional<crypto::PublicKey>(uint64_t height, uint32_t index)>;
  void set_key_of(KeyOf f) { key_of_ = std::move(f); }
  // Replaces the pool with what the store holds, oldest first.
  Status Load() EXCLUDES(mu_);
  // Adds one piece (an Evidence encoding) unless known; undecodable ones are logged.
  void Record(ByteView raw) EXCLUDES(mu_);
  std::vector<api::EvidenceInfo> List() const EXCLUDES(mu_);

 private:
  std::optional<api::EvidenceInfo> Describe(ByteView raw, uint64_t recorded_ms) const;

  const genesis::Genesis& genesis_;
  EngineStore& store_;
  const Clock& clock_;
  KeyOf key_of_;
  mutable Mutex mu_;
  std::vector<api::EvidenceInfo> pieces_ GUARDED_BY(mu_);
  std::set<crypto::Hash256> ids_ GUARDED_BY(mu_);  // sha256 of each piece in pieces_
  bool full_logged_ GUARDED_BY(mu_) = false;
};

}  // namespace cairn::node
