#include "node/admission_control.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cairn::node {

AdmissionControl::AdmissionControl(Options options, const Clock& clock)
    : options_(options), clock_(clock) {}

void AdmissionControl::OnCommitted(size_t txs, uint64_t block_time_ms) {
  constexpr uint64_t kLiveMs = 30'000;  // generous: proposers' clocks may differ by seconds
  if (block_time_ms + kLiveMs < clock_.UnixMs()) return;
  MutexLock lock(&mu_);
  const uint64_t now = clock_.SteadyMs();
  commits_.emplace_back(now, txs);
  RateLocked(now);  // drops what left the horizon: a node no client calls must not grow
}

double AdmissionControl::RateLocked(uint64_t now) const {
  while (!commits_.empty() && commits_.front().first + options_.horizon_ms < now) {
    commits_.pop_front();
  }
  size_t total = 0;
  for (const auto& [ms, txs] : commits_) total += txs;
  // Over the whole horizon, not since the first commit in it: a rate that starts low and
  // grows as the load does is what lets the bound follow the network up from the floor.
  return static_cast<double>(total) * 1000.0 / static_cast<double>(options_.horizon_ms);
}

size_t AdmissionControl::BoundLocked(uint64_t now) const {
  if (options_.window_ms == 0) return std::numeric_limits<size_t>::max();
  double by_rate = RateLocked(now) * static_cast<double>(options_.window_ms) / 1000.0;
  return std::max(options_.floor_txs, static_cast<size_t>(by_rate));
}

double AdmissionControl::CommitRate() const {
  MutexLock lock(&mu_);
  return RateLocked(clock_.SteadyMs());
}

size_t AdmissionControl::Bound() const {
  MutexLock lock(&mu_);
  return BoundLocked(clock_.SteadyMs());
}

uint32_t AdmissionControl::RetryAfterMs(size_t pending) const {
  MutexLock lock(&mu_);
  return RetryLocked(clock_.SteadyMs(), pending);
}

AdmissionControl::Snapshot AdmissionControl::Measure(size_t pending) const {
  MutexLock lock(&mu_);
  const uint64_t now = clock_.SteadyMs();
  return Snapshot{RateLocked(now), BoundLocked(now), RetryLocked(now, pending)};
}

uint32_t AdmissionControl::RetryLocked(uint64_t now, size_t pending) const {
  const double rate = RateLocked(now);
  const size_t bound = BoundLocked(now);
  if (rate <= 0) return 1000;  // nothing commits: a leader election, a stalled network
  const double target = bound == std::numeric_limits<size_t>::max()
                            ? static_cast<double>(pending) * 0.8
                            : static_cast<double>(bound) * 0.8;
  const double excess = std::max(static_cast<double>(pending) - target, 0.0);
  const double ms = std::ceil(excess / rate * 1000.0);
  return static_cast<uint32_t>(std::clamp(ms, 50.0, 5000.0));
}

}  // namespace cairn::node
