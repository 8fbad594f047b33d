#include "rpc/byte_budget.h"

#include <algorithm>

namespace cairn::rpc {

size_t ByteBudget::Take(size_t n, bool partial) {
  // A compare-exchange loop rather than fetch_add and undo: a failed reservation must never
  // make the budget look fuller than it is to a concurrent one.
  size_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    const size_t left = used < limit_ ? limit_ - used : 0;
    const size_t take = std::min(n, left);
    if (take < n && !partial) return 0;
    if (take == 0) return 0;
    if (used_.compare_exchange_weak(used, used + take, std::memory_order_relaxed)) return take;
  }
}

bool ByteBudget::Reservation::TryGrow(size_t n) {
  if (budget_ == nullptr || n == 0) return true;
  if (budget_->Take(n, /*partial=*/false) != n) return false;
  bytes_ += n;
  return true;
}

size_t ByteBudget::Reservation::GrowUpTo(size_t n) {
  if (budget_ == nullptr) return n;
  const size_t got = budget_->Take(n, /*partial=*/true);
  bytes_ += got;
  return got;
}

void ByteBudget::Reservation::ForceGrow(size_t n) {
  if (budget_ == nullptr) return;
  budget_->used_.fetch_add(n, std::memory_order_relaxed);
  bytes_ += n;
}

void ByteBudget::Reservation::ShrinkTo(size_t n) {
  if (budget_ == nullptr || bytes_ <= n) return;
  budget_->Give(bytes_ - n);
  bytes_ = n;
}

}  // namespace cairn::rpc
