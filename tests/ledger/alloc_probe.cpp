#include "alloc_probe.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace cairn::ledger::testing {
namespace {
std::atomic<size_t> g_largest{0};
std::atomic<size_t> g_total{0};

void Record(size_t n) {
  g_total.fetch_add(n, std::memory_order_relaxed);
  size_t cur = g_largest.load(std::memory_order_relaxed);
  while (n > cur && !g_largest.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
  }
}
}  // namespace

void ResetAllocStats() {
  g_largest.store(0);
  g_total.store(0);
}

AllocStats GetAllocStats() { return AllocStats{g_largest.load(), g_total.load()}; }

}  // namespace cairn::ledger::testing

// Every non-aligned form is replaced (not just the two libstdc++ forwards to), because under
// ASan the runtime defines each form itself and would see a mismatched pair otherwise.
namespace {
void* CountedAlloc(size_t n) {
  cairn::ledger::testing::Record(n);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
