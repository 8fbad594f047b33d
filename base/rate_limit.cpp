#include "base/rate_limit.h"

#include <algorithm>

namespace cairn {

RateLimiter::RateLimiter(uint64_t per_second, uint64_t burst, const Clock* clock)
    : clock_(clock ? *clock : SystemClock::Instance()),
      per_second_(per_second),
      burst_milli_(std::max<uint64_t>(burst, 1) * 1000),
      tokens_milli_(burst_milli_),
      last_ms_(clock_.SteadyMs()) {}

bool RateLimiter::Allow(uint64_t* suppressed) {
  MutexLock lock(&mu_);
  const uint64_t now = clock_.SteadyMs();
  if (now > last_ms_) {
    // per_second tokens per 1000 ms is per_second thousandths per ms. Saturate before the
    // multiplication can overflow after a long quiet spell.
    const uint64_t elapsed = std::min<uint64_t>(now - last_ms_, 1'000'000'000);
    tokens_milli_ = std::min(burst_milli_, tokens_milli_ + elapsed * per_second_);
    last_ms_ = now;
  }
  if (tokens_milli_ < 1000) {
    ++suppressed_since_;
    ++total_suppressed_;
    return false;
  }
  tokens_milli_ -= 1000;
  if (suppressed) *suppressed = suppressed_since_;
  suppressed_since_ = 0;
  return true;
}

uint64_t RateLimiter::total_suppressed() const {
  MutexLock lock(&mu_);
  return total_suppressed_;
}

}  // namespace cairn
