#include "base/rate_limit.h"

#include <catch2/catch.hpp>

namespace cairn {
namespace {

TEST_CASE("a rate limiter allows a burst, then its rate, and counts what it refused", "[base]") {
  ManualClock clock(1000);
  RateLimiter limit(/*per_second=*/2, /*burst=*/3, &clock);
  CHECK(limit.Allow());
  CHECK(limit.Allow());
  CHECK(limit.Allow());
  CHECK_FALSE(limit.Allow());
  CHECK_FALSE(limit.Allow());
  CHECK(limit.total_suppressed() == 2);

  clock.Advance(499);  // 0.998 of a token
  CHECK_FALSE(limit.Allow());
  clock.Advance(1);
  uint64_t suppressed = 99;
  CHECK(limit.Allow(&suppressed));
  CHECK(suppressed == 3);  // the three refusals since the last allowed event
  CHECK(limit.Allow(&suppressed) == false);

  // A long quiet spell refills to the burst, never beyond it.
  clock.Advance(3'600'000);
  suppressed = 99;
  CHECK(limit.Allow(&suppressed));
  CHECK(suppressed == 1);
  CHECK(limit.Allow());
  CHECK(limit.Allow());
  CHECK_FALSE(limit.Allow());
  CHECK(limit.total_suppressed() == 5);
}

TEST_CASE("a rate limiter of rate zero allows only its burst", "[base]") {
  ManualClock clock;
  RateLimiter limit(0, 1, &clock);
  CHECK(limit.Allow());
  clock.Advance(10'000'000);
  CHECK_FALSE(limit.Allow());
}

}  // namespace
}  // namespace cairn
