// Counts the heap bytes live in the rpc_test binary (through a replaced global operator new),
// so a test can bound what parsing hostile input costs. Thread-safe (atomic counters); counts
// every thread's allocations.
#pragma once

#include <cstddef>

namespace cairn::rpc::testing {

// Forgets the peak: from now on PeakLiveBytes() is the highest live count since this call.
void ResetPeak();
size_t LiveBytes();
size_t PeakLiveBytes();

}  // namespace cairn::rpc::testing
