#include "base/clock.h"

#include <chrono>

namespace cairn {
namespace {

template <typename C>
uint64_t MillisecondsOf() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(C::now().time_since_epoch()).count());
}

}  // namespace

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

uint64_t SystemClock::SteadyMs() const { return MillisecondsOf<std::chrono::steady_clock>(); }

uint64_t SystemClock::UnixMs() const { return MillisecondsOf<std::chrono::system_clock>(); }

}  // namespace cairn
