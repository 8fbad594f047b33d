#include "tests/kit/alloc_probe.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace cairn::testkit {
namespace {

std::atomic<size_t> g_largest{0};
std::atomic<size_t> g_total{0};
std::atomic<size_t> g_live{0};
std::atomic<size_t> g_peak{0};

void RaiseTo(std::atomic<size_t>& max, size_t n) {
  size_t cur = max.load(std::memory_order_relaxed);
  while (n > cur && !max.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
  }
}

// malloc_usable_size gives the size back at free, so unsized deletes are counted exactly.
void* CountedAlloc(size_t n) {
  g_total.fetch_add(n, std::memory_order_relaxed);
  RaiseTo(g_largest, n);
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) return nullptr;
  const size_t usable = malloc_usable_size(p);
  RaiseTo(g_peak, g_live.fetch_add(usable) + usable);
  return p;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(malloc_usable_size(p));
  std::free(p);
}

}  // namespace

void ResetAllocStats() {
  g_largest.store(0);
  g_total.store(0);
  g_peak.store(g_live.load());
}

AllocStats GetAllocStats() {
  return AllocStats{g_largest.load(), g_total.load(), g_live.load(), g_peak.load()};
}

}  // namespace cairn::testkit

// Every non-aligned form is replaced (not just the two libstdc++ forwards to), because under
// ASan the runtime defines each form itself and would see a mismatched pair otherwise.
using cairn::testkit::CountedAlloc;
using cairn::testkit::CountedFree;

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
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
