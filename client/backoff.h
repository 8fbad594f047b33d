// Backoff: the delays between health probes of a node that is down: exponential from
// `initial_ms`, doubling to `max_ms`, each delay drawn from [d/2, d] ("equal jitter") by a
// seeded generator, so many clients that saw one node die do not probe it in step, and a
// test replays the schedule exactly. Thread-compatible (each node of a Client owns one).
#pragma once

#include <cstdint>
#include <random>

namespace cairn::client {

struct BackoffOptions {
  uint64_t initial_ms = 100;
  uint64_t max_ms = 5'000;
};

class Backoff {
 public:
  Backoff(BackoffOptions options, uint64_t seed) : options_(options), rng_(seed) {}

  // The delay before the next probe after one more failure: attempt k (from 0) draws from
  // [d/2, d] with d = min(max_ms, initial_ms * 2^k).
  uint64_t Next() {
    const uint64_t d = Ceiling(attempt_);
    if (attempt_ < 63) ++attempt_;
    const uint64_t low = d / 2;
    return low + std::uniform_int_distribution<uint64_t>(0, d - low)(rng_);
  }
  // After a success: the next failure starts again from initial_ms.
  void Reset() { attempt_ = 0; }
  // d for attempt k, without jitter (for tests and docs).
  uint64_t Ceiling(uint32_t k) const {
    uint64_t d = options_.initial_ms;
    for (uint32_t i = 0; i < k && d < options_.max_ms; ++i) d *= 2;
    return d < options_.max_ms ? d : options_.max_ms;
  }
  uint32_t attempt() const { return attempt_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  uint32_t attempt_ = 0;
};

}  // namespace cairn::client
