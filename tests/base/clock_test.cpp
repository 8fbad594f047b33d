// The clocks: ManualClock moves only when told; SystemClock reads real, sane time.
#include "base/clock.h"

#include <catch2/catch.hpp>

namespace cairn {
namespace {

TEST_CASE("ManualClock: both clocks advance together, the wall clock can be set alone",
          "[base][clock]") {
  ManualClock c(/*steady_ms=*/100, /*unix_ms=*/1'700'000'000'000);
  const Clock& clock = c;
  CHECK(clock.SteadyMs() == 100);
  CHECK(clock.UnixMs() == 1'700'000'000'000);
  c.Advance(25);
  CHECK(clock.SteadyMs() == 125);
  CHECK(clock.UnixMs() == 1'700'000'000'025);
  c.SetUnixMs(5);  // the operator moved the wall clock back
  CHECK(clock.UnixMs() == 5);
  CHECK(clock.SteadyMs() == 125);
}

TEST_CASE("SystemClock: the Unix clock is past 2020 and the steady clock does not go back",
          "[base][clock]") {
  const Clock& c = SystemClock::Instance();
  CHECK(c.UnixMs() > 1'577'836'800'000ull);  // 2020-01-01T00:00:00Z
  const uint64_t a = c.SteadyMs();
  const uint64_t b = c.SteadyMs();
  CHECK(b >= a);
}

}  // namespace
}  // namespace cairn
