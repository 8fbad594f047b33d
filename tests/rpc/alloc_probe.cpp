#include "tests/rpc/alloc_probe.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace cairn::rpc::testing {
namespace {

std::atomic<size_t> g_live{0};
std::atomic<size_t> g_peak{0};

}  // namespace

void ResetPeak() { g_peak.store(g_live.load()); }
size_t LiveBytes() { return g_live.load(); }
size_t PeakLiveBytes() { return g_peak.load(); }

}  // namespace cairn::rpc::testing

// malloc_usable_size gives the size back at free, so unsized deletes are counted exactly.
// Every non-aligned form is replaced, because under ASan the runtime defines each form itself
// and would see a mismatched pair otherwise.
namespace {

void* CountedAlloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) return nullptr;
  using cairn::rpc::testing::g_live;
  using cairn::rpc::testing::g_peak;
  const size_t live = g_live.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  size_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  cairn::rpc::testing::g_live.fetch_sub(malloc_usable_size(p));
  std::free(p);
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
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
