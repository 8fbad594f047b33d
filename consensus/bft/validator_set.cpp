#include "consensus/bft/validator_set.h"

#include <algorithm>
#include <string>
#include <utility>

#include "consensus/bft/messages.h"

namespace cairn::consensus::bft {

ValidatorSet ValidatorSet::Genesis(uint32_t n) {
  ValidatorSet s;
  s.members_.resize(n);
  for (uint32_t i = 0; i < n; ++i) s.members_[i].id = i;
  return s;
}

Result<ValidatorSet> ValidatorSet::FromMembers(std::vector<ValidatorInfo> members) {
  if (members.empty() || members.size() > kMaxValidators) {
    return Status::Error("validator set: " + std::to_string(members.size()) +
                         " members, must be in [1, " + std::to_string(kMaxValidators) + "]");
  }
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].id == kNoReplica) {
      return Status::Error("validator set: member " + std::to_string(i) + " has no id");
    }
    if (i > 0 && members[i].id <= members[i - 1].id) {
      return Status::Error("validator set: ids not strictly increasing (" +
                           std::to_string(members[i].id) + " after " +
                           std::to_string(members[i - 1].id) + ")");
    }
  }
  ValidatorSet s;
  s.members_ = std::move(members);
  s.keyed_ = true;
  return s;
}

std::optional<uint32_t> ValidatorSet::IndexOf(ReplicaId id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id,
                             [](const ValidatorInfo& m, ReplicaId x) { return m.id < x; });
  if (it == members_.end() || it->id != id) return std::nullopt;
  return static_cast<uint32_t>(it - members_.begin());
}

bool ValidatorSet::Verify(const Verifier& verifier, uint32_t index, ByteView message,
                          const crypto::Signature& sig) const {
  if (index >= members_.size()) return false;
  if (!keyed_) return verifier.Verify(members_[index].id, message, sig);
  return verifier.VerifyKey(members_[index].consensus_key, message, sig);
}

void ValidatorSchedule::Put(uint64_t from, ValidatorSet set) {
  const ValidatorSet* now = At(from);
  if (now != nullptr && *now == set) return;
  auto it = sets_.insert_or_assign(from, std::move(set)).first;
  // Keep the step function minimal: a later entry equal to this one says nothing new.
  auto next = std::next(it);
  if (next != sets_.end() && next->second == it->second) sets_.erase(next);
}

const ValidatorSet* ValidatorSchedule::At(uint64_t height) const {
  if (height < floor_) return nullptr;
  auto it = sets_.upper_bound(height);
  if (it == sets_.begin()) return nullptr;
  return &std::prev(it)->second;
}

void ValidatorSchedule::ForgetBelow(uint64_t height) {
  // The entry governing `height` stays; everything before it goes.
  floor_ = std::max(floor_, height);
  auto it = sets_.upper_bound(height);
  if (it == sets_.begin()) return;
  sets_.erase(sets_.begin(), std::prev(it));
}

bool ValidatorSchedule::AnyContains(ReplicaId id) const {
  for (const auto& [from, set] : sets_) {
    if (set.Contains(id)) return true;
  }
  return false;
}

}  // namespace cairn::consensus::bft
