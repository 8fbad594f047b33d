#include "consensus/raft/raft_log.h"

#include <cassert>
#include <cstddef>

namespace cairn::consensus::raft {

std::optional<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i == base_.index) return base_.term;
  if (i < base_.index || i > last_index()) return std::nullopt;
  return At(i).term;
}

uint64_t RaftLog::HeightAt(uint64_t i) const {
  assert(i >= base_.index && i <= last_index());
  return i == base_.index ? base_.block.height : At(i).height;
}

BlockRef RaftLog::BlockAt(uint64_t i) const {
  assert(i >= base_.index && i <= last_index());
  // Walks back over no-ops only: at most one per election without a block in between.
  for (; i > base_.index; --i) {
    const Entry& e = At(i);
    if (e.is_block()) return BlockRef{e.height, e.hash};
  }
  return base_.block;
}

uint64_t RaftLog::LastIndexWithHeight(uint64_t height, uint64_t limit) const {
  assert(limit >= base_.index && limit <= last_index());
  assert(height >= base_.block.height && height <= HeightAt(limit));
  // Heights never decrease along the log: find the last index <= limit with height <= h.
  uint64_t lo = base_.index, hi = limit;  // invariant: HeightAt(lo) <= height
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    if (HeightAt(mid) <= height) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  if (index > last_index()) return {index, 0};
  for (;; --index) {
    // Below the base the terms are gone: the caller probes from there (and a leader
    // then finds it must send its base instead of entries).
    std::optional<uint64_t> t = Term(index);
    if (!t) return {index, 0};
    if (*t <= term) return {index, *t};
    if (index == 0) return {0, 0};
  }
}

void RaftLog::Append(Entry e) {
  assert(e.index == last_index() + 1);
  entries_.push_back(std::move(e));
}

void RaftLog::TruncateFrom(uint64_t from) {
  assert(from > base_.index);
  if (from > last_index()) return;
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(from - first_index()), entries_.end());
}

std::vector<Entry> RaftLog::Slice(uint64_t lo, uint64_t hi, size_t max_bytes) const {
  std::vector<Entry> out;
  if (lo > hi) return out;
  assert(lo >= first_index() && hi <= last_index());
  size_t bytes = 0;
  for (uint64_t i = lo; i <= hi && out.size() < kMaxEntriesPerMessage; ++i) {
    const Entry& e = At(i);
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::CompactTo(const LogBase& new_base) {
  assert(new_base.index > base_.index && new_base.index <= last_index());
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<ptrdiff_t>(new_base.index - base_.index));
  base_ = new_base;
}

void RaftLog::Reset(const LogBase& base) {
  entries_.clear();
  base_ = base;
}

}  // namespace cairn::consensus::raft
