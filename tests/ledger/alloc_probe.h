// Counts heap allocations made through the global operator new of the ledger_test binary,
// so a test can check that a decoder does not allocate from an untrusted length field.
// Thread-safe (atomic counters); counts every thread's allocations.
#pragma once

#include <cstddef>

namespace cairn::ledger::testing {

struct AllocStats {
  size_t largest = 0;  // largest single request since Reset
  size_t total = 0;    // bytes requested since Reset
};

void ResetAllocStats();
AllocStats GetAllocStats();

}  // namespace cairn::ledger::testing
