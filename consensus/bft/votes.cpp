#include "consensus/bft/votes.h"

#include <algorithm>
#include <cassert>

namespace cairn::consensus::bft {

void VoteSet::Add(const Vote& v) {
  assert(v.voter < votes_.size() && !votes_[v.voter]);
  votes_[v.voter] = v;
  ++total_;
  if (v.block) {
    ++for_block_[*v.block];
  } else {
    ++nil_;
  }
}

bool VoteSet::AddConflicting(const Vote& v) {
  assert(v.voter < votes_.size() && votes_[v.voter] && votes_[v.voter]->block != v.block);
  for (const Vote& x : extra_) {
    if (x.voter == v.voter && x.block == v.block) return false;
  }
  extra_.push_back(v);
  if (v.block) {
    ++for_block_[*v.block];
  } else {
    ++nil_;
  }
  return true;
}

bool VoteSet::HasConflicting(const Vote& v) const {
  return std::find(extra_.begin(), extra_.end(), v) != extra_.end();
}

std::vector<Vote> VoteSet::VotesFor(const std::optional<crypto::Hash256>& block) const {
  std::vector<Vote> out;
  for (const std::optional<Vote>& v : votes_) {
    if (v && v->block == block) out.push_back(*v);
  }
  for (const Vote& v : extra_) {
    if (v.block == block) out.push_back(v);
  }
  std::sort(out.begin(), out.end(), [](const Vote& a, const Vote& b) { return a.voter < b.voter; });
  return out;
}

uint32_t VoteSet::CountFor(const std::optional<crypto::Hash256>& block) const {
  if (!block) return nil_;
  auto it = for_block_.find(*block);
  return it == for_block_.end() ? 0 : it->second;
}

}  // namespace cairn::consensus::bft
