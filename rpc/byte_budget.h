// ByteBudget: bytes that may be held at once across a whole server (request bodies and answers
// in flight, docs/RPC.md "Memory in flight"), handed out as Reservations that give their bytes
// back when destroyed. Thread-safe: a budget is shared by every connection and handler thread;
// one Reservation is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace cairn::rpc {

// Bytes of each answer, and of each request body, that are not charged to a server's budget, so
// that small calls (getStatus, sendTransaction, /health) keep being answered while large answers
// held by clients that do not read use the whole budget. Each connection holds at most one body
// and one answer, so what is not counted is at most these two per connection: with the default
// 256 connections plus 64 refusing, 11.3 MiB (docs/RPC.md "Memory in flight").
// An answer: getStatus's is under 1 KiB, a transaction's acceptance under 300 bytes.
inline constexpr size_t kUncountedAnswerBytes = 4 << 10;
// A body: the largest transaction (ledger's kMaxTxSize, 8 KiB) is 16 KiB in hex, plus its
// JSON-RPC envelope.
inline constexpr size_t kUncountedBodyBytes = 32 << 10;

class ByteBudget {
 public:
  // Bytes of one holder (a body being read, an answer being built or written). Move-only;
  // releases what it holds on destruction. A default-constructed one belongs to no budget and
  // grants everything without counting it (a dispatcher called without a server).
  class Reservation {
   public:
    Reservation() = default;
    explicit Reservation(ByteBudget* budget) : budget_(budget) {}
    Reservation(Reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    Reservation& operator=(Reservation&& other) noexcept {
      if (this != &other) {
        Reset();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
      }
      return *this;
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Reset(); }

    // Adds `n` bytes if the budget has them; otherwise adds nothing and returns false.
    bool TryGrow(size_t n);
    // Adds as many of `n` bytes as the budget has left; returns how many.
    size_t GrowUpTo(size_t n);
    // Adds `n` bytes even past the limit. For the few bytes a holder cannot refuse (an error
    // message replacing a result); the limit is what the budget may grant, not a hard wall.
    void ForceGrow(size_t n);
    // Gives back what it holds above `n` bytes (nothing when it holds less).
    void ShrinkTo(size_t n);
    // Gives everything back.
    void Reset() { ShrinkTo(0); }
    size_t bytes() const { return bytes_; }
    bool limited() const { return budget_ != nullptr; }

   private:
    ByteBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  explicit ByteBudget(size_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // A new, empty reservation against this budget. REQUIRES: the budget outlives it.
  Reservation Open() { return Reservation(this); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  // Takes up to `n` bytes (all of them or nothing when !partial); returns how many.
  size_t Take(size_t n, bool partial);
  void Give(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  const size_t limit_;
  std::atomic<size_t> used_{0};
};

}  // namespace cairn::rpc
