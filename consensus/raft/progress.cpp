#include "consensus/raft/progress.h"

#include <algorithm>
#include <cassert>

namespace cairn::consensus::raft {

void Inflights::Add(uint64_t last) {
  assert(!Full());
  buf_[(start_ + count_) % buf_.size()] = last;
  ++count_;
}

void Inflights::FreeLE(uint64_t index) {
  while (count_ > 0 && buf_[start_] <= index) {
    start_ = (start_ + 1) % buf_.size();
    --count_;
  }
}

void Inflights::FreeFirstOne() {
  if (count_ == 0) return;
  start_ = (start_ + 1) % buf_.size();
  --count_;
}

void Progress::BecomeProbe() {
  state = ProgressState::kProbe;
  probe_sent = false;
  inflights.Reset();
  next = match + 1;
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  probe_sent = false;
  inflights.Reset();
  next = match + 1;
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t hint) {
  if (state == ProgressState::kReplicate) {
    // Rejections at or below match answer old messages; otherwise the optimistic
    // stream went wrong (a message was lost) and we restart from match.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe only the answer to the outstanding probe counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

}  // namespace cairn::consensus::raft
