// ValidatorSet and ValidatorSchedule: which validators govern a height of the BFT engine (set(H),
// sorted by member id), how a voter's index in a message maps to its member id and key, and
// the step function of sets over heights that the node feeds the engine. Value types,
// thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "consensus/signer.h"
#include "consensus/types.h"
#include "crypto/ed25519.h"

namespace cairn::consensus::bft {

// The validators of one height. A vote, proposal or certificate signature names its signer by
// index in the set of its own height, so an index is never read against another height's set.
class ValidatorSet {
 public:
  // The genesis set of `n` validators as chains without governance know it: ids 0..n-1 and
  // keys behind Verifier::Verify(index), so the engine needs no keys of its own.
  static ValidatorSet Genesis(uint32_t n);
  // A set given with keys: non-empty, at most kMaxValidators, ids strictly increasing.
  static Result<ValidatorSet> FromMembers(std::vector<ValidatorInfo> members);

  ValidatorSet() = default;

  uint32_t size() const { return static_cast<uint32_t>(members_.size()); }
  // REQUIRES: index < size().
  ReplicaId id(uint32_t index) const { return members_[index].id; }
  std::optional<uint32_t> IndexOf(ReplicaId id) const;
  bool Contains(ReplicaId id) const { return IndexOf(id).has_value(); }
  // Whether `sig` over `message` is the signature of the member at `index` (false for an
  // index outside the set).
  bool Verify(const Verifier& verifier, uint32_t index, ByteView message,
              const crypto::Signature& sig) const;
  // The members, in index order; their keys are meaningful only when keyed().
  const std::vector<ValidatorInfo>& members() const { return members_; }
  bool keyed() const { return keyed_; }

  friend bool operator==(const ValidatorSet&, const ValidatorSet&) = default;

 private:
  std::vector<ValidatorInfo> members_;
  bool keyed_ = false;
};

// set(H) for a range of heights, as a step function: an entry (from, S) says S governs `from`
// and every later height up to the next entry. What lies above the heights the node has
// vouched for is the caller's business (BftEngine only reads up to decided + 2).
class ValidatorSchedule {
 public:
  // set(H) = `set` for H >= from, up to the next later entry.
  void Put(uint64_t from, ValidatorSet set);
  // nullptr when no entry starts at or below `height`, or `height` was forgotten.
  const ValidatorSet* At(uint64_t height) const;
  // Forgets the sets of heights below `height`; At(h) for h >= height is unchanged.
  void ForgetBelow(uint64_t height);
  // Whether `id` is a member of any set still held.
  bool AnyContains(ReplicaId id) const;
  size_t entries() const { return sets_.size(); }

 private:
  std::map<uint64_t, ValidatorSet> sets_;
  uint64_t floor_ = 0;
};

}  // namespace cairn::consensus::bft
