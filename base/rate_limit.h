// RateLimiter: a token bucket that says whether one more event (a log line, a handshake, an
// expensive request) may happen now, for anything an outsider can trigger at will.
// Thread-safe: one limiter may be shared by every thread that reports the same event.
#pragma once

#include <cstdint>

#include "base/clock.h"
#include "base/mutex.h"

namespace cairn {

class RateLimiter {
 public:
  // At most `burst` events at once, refilled at `per_second`. A null clock is the system's.
  RateLimiter(uint64_t per_second, uint64_t burst, const Clock* clock = nullptr);

  // True if the event may happen now (and spends a token). When it returns true after
  // refusals, *suppressed (if given) is how many were refused since the last allowed event,
  // so a log line can say "(N similar suppressed)"; otherwise it is left untouched.
  bool Allow(uint64_t* suppressed = nullptr) EXCLUDES(mu_);

  // Events refused since construction.
  uint64_t total_suppressed() const EXCLUDES(mu_);

 private:
  const Clock& clock_;
  // Tokens are counted in thousandths, so slow rates refill smoothly in whole numbers.
  const uint64_t per_second_;
  const uint64_t burst_milli_;
  mutable Mutex mu_;
  uint64_t tokens_milli_ GUARDED_BY(mu_);
  uint64_t last_ms_ GUARDED_BY(mu_);
  uint64_t suppressed_since_ GUARDED_BY(mu_) = 0;
  uint64_t total_suppressed_ GUARDED_BY(mu_) = 0;
};

}  // namespace cairn
