// AdmissionControl: how many pending transactions a node accepts from clients, tied to what
// the network commits, so that it accepts only what can commit within a bounded time and
// refuses the rest cheaply, with a retry hint, before the excess starves block production.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

#include "base/clock.h"
#include "base/mutex.h"

namespace cairn::node {

class AdmissionControl {
 public:
  struct Options {
    // Client admissions stop while the pool holds more than this much of the measured commit
    // rate (mempool.admission_window_ms); 0 turns the bound off (only mempool.max_* apply).
    uint64_t window_ms = 2000;
    // ...but never below this many (an idle network has no commit rate yet).
    size_t floor_txs = 10000;
    // The commit rate is averaged over this much recent time.
    uint64_t horizon_ms = 5000;
  };

  AdmissionControl(Options options, const Clock& clock);

  // A block of `txs` transactions, proposed at `block_time_ms` (unix), committed now. A block
  // proposed more than 30 s ago (block sync catching up) does not count: its commit says
  // nothing about how fast the network commits now.
  void OnCommitted(size_t txs, uint64_t block_time_ms) EXCLUDES(mu_);
  // Transactions per second committed over the horizon.
  double CommitRate() const EXCLUDES(mu_);
  // The most pending transactions client admissions may bring the pool to; SIZE_MAX when off.
  size_t Bound() const EXCLUDES(mu_);
  // When a client refused with `pending` transactions in the pool should try again: the time
  // the network needs to commit the excess over 80% of the bound, 50 ms to 5 s.
  uint32_t RetryAfterMs(size_t pending) const EXCLUDES(mu_);

  // The three at one instant, under one lock (a refusal's numbers).
  struct Snapshot {
    double commit_rate = 0;
    size_t bound = 0;
    uint32_t retry_after_ms = 0;
  };
  Snapshot Measure(size_t pending) const EXCLUDES(mu_);

 private:
  double RateLocked(uint64_t now) const REQUIRES(mu_);
  size_t BoundLocked(uint64_t now) const REQUIRES(mu_);
  uint32_t RetryLocked(uint64_t now, size_t pending) const REQUIRES(mu_);

  const Options options_;
  const Clock& clock_;
  mutable Mutex mu_;
  // (steady ms, transactions) of each commit within the horizon, oldest first.
  mutable std::deque<std::pair<uint64_t, size_t>> commits_ GUARDED_BY(mu_);
};

}  // namespace cairn::node
