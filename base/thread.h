// Naming and de-prioritising the calling thread, so operators can tell a node's threads
// apart (`top -H`, /proc/PID/task/*/comm) and the block pipeline keeps its share of the CPU
// when transaction admission has more work than the machine (issue 13).
#pragma once

#include <string_view>

#include "base/status.h"

namespace cairn {

// Sets the calling thread's name (at most 15 bytes are kept, the kernel's limit).
void NameThisThread(std::string_view name);

// Raises the calling thread's nice value by `by` (0..19), capped at 19: it then gets less
// of a contended CPU than the threads it was started beside. Needs no privilege.
Status LowerThisThreadPriority(int by);

}  // namespace cairn
