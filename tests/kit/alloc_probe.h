// Counts the heap through a replaced global operator new, so a test can check that parsing
// hostile input allocates neither from an untrusted length field nor beyond a bound. Link the
// cairn_testkit_alloc_probe target into the one executable that wants it: the replacement is
// process-wide. Thread-safe (atomic counters); counts every thread's allocations.
#pragma once

#include <cstddef>

namespace cairn::testkit {

// What the heap saw since the last ResetAllocStats().
struct AllocStats {
  size_t largest = 0;    // largest single request
  size_t total = 0;      // bytes requested
  size_t live = 0;       // bytes live now (usable sizes, so frees are counted exactly)
  size_t peak_live = 0;  // highest `live`
};

// Forgets the requests and the peak (peak_live restarts at what is live now).
void ResetAllocStats();
AllocStats GetAllocStats();

}  // namespace cairn::testkit
