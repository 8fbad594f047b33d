// Progress: the leader's view of one follower's log (Raft's nextIndex/matchIndex) plus
// etcd's flow control: probe one message at a time until the follower's position is
// known, then replicate optimistically with a bounded window of unacknowledged messages.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cairn::consensus::raft {

// A ring of the last index carried by each unacknowledged App message.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : buf_(capacity) {}

  bool Full() const { return count_ == buf_.size(); }
  size_t count() const { return count_; }
  // REQUIRES: !Full(), and `last` larger than every index already held.
  void Add(uint64_t last);
  // Frees every message whose last index is <= index (they are acknowledged).
  void FreeLE(uint64_t index);
  // Frees the oldest message, so a follower whose acks were lost gets one more message.
  void FreeFirstOne();
  void Reset() { start_ = count_ = 0; }

 private:
  std::vector<uint64_t> buf_;
  size_t start_ = 0;
  size_t count_ = 0;
};

enum class ProgressState : uint8_t {
  kProbe,      // position unknown: one App per heartbeat until the follower answers
  kReplicate,  // position known: stream entries, at most `inflights` capacity unacked
};

struct Progress {
  explicit Progress(size_t max_inflight) : inflights(max_inflight) {}

  uint64_t match = 0;  // highest index known to be replicated (durably) on the follower
  uint64_t next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: a probe is outstanding; wait for an answer
  bool recent_active = false;  // heard from since the last CheckQuorum round
  Inflights inflights;

  bool IsPaused() const { return state == ProgressState::kProbe ? probe_sent : inflights.Full(); }
  void BecomeProbe();
  void BecomeReplicate();
  // An acknowledgement of index n; false if it is stale.
  bool MaybeUpdate(uint64_t n);
  // A rejection of the App whose prev index was `rejected`; `hint` is where the logs may
  // match. False if the rejection is stale (answers an App sent before a newer probe).
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint);
};

}  // namespace cairn::consensus::raft
