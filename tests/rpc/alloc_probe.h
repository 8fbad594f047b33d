// The rpc tests' names for the test kit's heap probe (tests/kit/alloc_probe.h), which
// cairn_testkit_alloc_probe links into rpc_test only. Thread-safe, as the probe.
#pragma once

#include <cstddef>

#include "tests/kit/alloc_probe.h"

namespace cairn::rpc::testing {

// Forgets the peak: from now on PeakLiveBytes() is the highest live count since this call.
inline void ResetPeak() { testkit::ResetAllocStats(); }
inline size_t LiveBytes() { return testkit::GetAllocStats().live; }
inline size_t PeakLiveBytes() { return testkit::GetAllocStats().peak_live; }

}  // namespace cairn::rpc::testing
