// Vote bookkeeping for one height of the BFT engine: per round, the proposal and the
// prevotes and precommits, at most one of each kind per validator, with running tallies
// so every quorum rule is answered without rescanning the votes. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "consensus/bft/messages.h"

namespace cairn::consensus::bft {

class VoteSet {
 public:
  explicit VoteSet(uint32_t validators) : votes_(validators) {}

  // The first vote of `voter`, or nullptr. REQUIRES: voter < validators.
  const Vote* Get(ReplicaId voter) const { return votes_[voter] ? &*votes_[voter] : nullptr; }
  // Stores `v` as the vote of its voter. REQUIRES: v.voter < validators,
  // Get(v.voter) == nullptr, signature checked.
  void Add(const Vote& v);
  // Also counts `v`, a vote of a voter who already voted for another value, towards the
  // tally of its own value: an equivocator's votes for two blocks cannot make both reach
  // a quorum (two quorums share an honest validator), and without it a proof of lock
  // that includes the equivocator's vote convinces only the replicas that saw that vote
  // first (Tendermint's votesByBlock). Returns false if already counted.
  // REQUIRES: Get(v.voter) votes for another value, signature checked.
  bool AddConflicting(const Vote& v);
  size_t conflicting() const { return extra_.size(); }
  bool HasConflicting(const Vote& v) const;

  // Distinct voters with a vote of any value (the "2f+1 of any" rules).
  uint32_t total() const { return total_; }
  // Voters with a vote for `block` (nullopt: nil).
  uint32_t CountFor(const std::optional<crypto::Hash256>& block) const;
  // The votes for `block` (nullopt: nil), one per voter, sorted by voter: certificates
  // and proofs of lock.
  std::vector<Vote> VotesFor(const std::optional<crypto::Hash256>& block) const;

 private:
  std::vector<std::optional<Vote>> votes_;
  std::vector<Vote> extra_;
  std::map<crypto::Hash256, uint32_t> for_block_;
  uint32_t nil_ = 0;
  uint32_t total_ = 0;
};

// One round of one height. The flags record which "for the first time" rules of
// Tendermint's Algorithm 1 have fired.
struct RoundState {
  explicit RoundState(uint32_t validators) : prevotes(validators), precommits(validators) {}

  size_t size() const {
    return (proposal ? 1 : 0) + prevotes.total() + precommits.total() + prevotes.conflicting() +
           precommits.conflicting();
  }
  VoteSet& votes(VoteType t) { return t == VoteType::kPrevote ? prevotes : precommits; }

  std::optional<Proposal> proposal;
  VoteSet prevotes;
  VoteSet precommits;
  bool prevote_timer_started = false;    // line 34
  bool polka_handled = false;            // line 36
  bool precommit_timer_started = false;  // line 47
};

}  // namespace cairn::consensus::bft
