// Clock: the one way code below node/ reads the time, so tests can drive it (ManualClock)
// and production reads the system (SystemClock). Every implementation here is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds on a monotonic clock with an arbitrary epoch: for intervals, timeouts and
  // deadlines. Never goes back; means nothing across processes.
  virtual uint64_t SteadyMs() const = 0;
  // Milliseconds since the Unix epoch: for timestamps others read (block times, "connected
  // since"). May jump when the operator or NTP sets the system time.
  virtual uint64_t UnixMs() const = 0;
};

// std::chrono's steady_clock and system_clock; stateless.
class SystemClock final : public Clock {
 public:
  // One shared instance, for defaults ("nullptr means the system clock" without a branch).
  static const SystemClock& Instance();

  uint64_t SteadyMs() const override;
  uint64_t UnixMs() const override;
};

// A clock that moves only when told to. Steady and Unix time advance together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t steady_ms = 0, uint64_t unix_ms = 0)
      : steady_ms_(steady_ms), unix_ms_(unix_ms) {}

  uint64_t SteadyMs() const override { return steady_ms_.load(std::memory_order_relaxed); }
  uint64_t UnixMs() const override { return unix_ms_.load(std::memory_order_relaxed); }

  void Advance(uint64_t ms) {
    steady_ms_.fetch_add(ms, std::memory_order_relaxed);
    unix_ms_.fetch_add(ms, std::memory_order_relaxed);
  }
  // Sets the wall clock alone, as an operator or NTP would; the steady clock does not move.
  void SetUnixMs(uint64_t ms) { unix_ms_.store(ms, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> steady_ms_;
  std::atomic<uint64_t> unix_ms_;
};

}  // namespace cairn
