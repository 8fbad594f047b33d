// Clock: the one source of time for code above the pure layers, injected so tests can run
// on a ManualClock. Steady time measures intervals; unix time stamps blocks and records.
// Thread-safety: SystemClock and ManualClock may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t SteadyMs() const = 0;  // monotonic, for intervals and timeouts
  virtual uint64_t UnixMs() const = 0;    // wall clock, for timestamps
};

class SystemClock final : public Clock {
 public:
  uint64_t SteadyMs() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  uint64_t UnixMs() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t unix_ms = 1'700'000'000'000) : unix_(unix_ms) {}
  uint64_t SteadyMs() const override { return steady_.load(); }
  uint64_t UnixMs() const override { return unix_.load(); }
  void Advance(uint64_t ms) {
    steady_ += ms;
    unix_ += ms;
  }

 private:
  std::atomic<uint64_t> steady_{0};
  std::atomic<uint64_t> unix_;
};

}  // namespace cairn
