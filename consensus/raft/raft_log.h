// RaftLog: the in-memory Raft log after its compacted base, with the lookups replication
// needs (term at index, conflict search, chain height at index). Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "consensus/raft/messages.h"

namespace cairn::consensus::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogBase& base) : base_(base) {}

  const LogBase& base() const { return base_; }
  uint64_t first_index() const { return base_.index + 1; }
  uint64_t last_index() const { return base_.index + entries_.size(); }
  uint64_t last_term() const { return entries_.empty() ? base_.term : entries_.back().term; }
  uint64_t last_height() const {
    return entries_.empty() ? base_.block.height : entries_.back().height;
  }

  // The term of entry i; nullopt if i is before the base or after the last entry.
  std::optional<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const {
    std::optional<uint64_t> t = Term(i);
    return t && *t == term;
  }
  // Chain height at index i. REQUIRES: base().index <= i <= last_index().
  uint64_t HeightAt(uint64_t i) const;
  // The last block at or before index i. REQUIRES: base().index <= i <= last_index().
  BlockRef BlockAt(uint64_t i) const;
  // The largest index <= `limit` whose height is `height`. REQUIRES: the base's height
  // <= height <= HeightAt(limit), base().index <= limit <= last_index(). O(log n).
  uint64_t LastIndexWithHeight(uint64_t height, uint64_t limit) const;
  // REQUIRES: first_index() <= i <= last_index().
  const Entry& At(uint64_t i) const { return entries_[i - first_index()]; }

  // Raft section 5.4.1: a candidate's log is at least as up-to-date as ours.
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const {
    return last_term > this->last_term() ||
           (last_term == this->last_term() && last_index >= this->last_index());
  }
  // The index of the first of `ents` (with consecutive indices) that we lack or whose
  // term differs from ours; 0 if we hold all of them.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // The largest index <= `index` whose term is <= `term`, and that term (etcd's fast
  // log backtracking). Returns (index, 0) if index is past the end or when the search
  // reaches an index below the base, whose term is unknown.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // REQUIRES: e.index == last_index() + 1.
  void Append(Entry e);
  // Removes entries with index >= from. REQUIRES: from > base().index.
  void TruncateFrom(uint64_t from);
  // Copies of entries [lo, hi], stopping before max_bytes of block data is exceeded or
  // kMaxEntriesPerMessage entries (but always at least one entry when lo <= hi).
  // REQUIRES: first_index() <= lo.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi, size_t max_bytes) const;
  // Drops entries up to and including new_base.index, which becomes the base.
  // REQUIRES: base().index < new_base.index <= last_index().
  void CompactTo(const LogBase& new_base);
  // Discards every entry; the log restarts after `base` (a snapshot install).
  void Reset(const LogBase& base);

 private:
  LogBase base_;
  std::deque<Entry> entries_;  // entries_[k] has index base_.index + 1 + k
};

}  // namespace cairn::consensus::raft
