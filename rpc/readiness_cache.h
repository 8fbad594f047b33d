// ReadinessCache: GET /ready's answer reused for a short window. A check reads the store's head
// and takes the node's locks on the RPC I/O thread every connection shares, so a client
// polling /ready in a loop costs one check per window (docs/RPC.md "Health and readiness");
// an orchestrator polls every few seconds. Thread-safe: Get may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "rpc/subscription.h"

namespace cairn::rpc {

class ReadinessCache {
 public:
  // How long one check's answer is reused.
  static constexpr uint64_t kWindowMs = 250;

  // The answer of the last check when it ran less than kWindowMs before `now_ms` (a steady
  // clock's milliseconds), else `compute`'s fresh one. `compute` runs outside the lock: two
  // callers that find the answer stale at once may both run it.
  Readiness Get(uint64_t now_ms, const std::function<Readiness()>& compute) EXCLUDES(mu_);

 private:
  Mutex mu_;
  Readiness cached_ GUARDED_BY(mu_);
  uint64_t at_ms_ GUARDED_BY(mu_) = 0;
  bool valid_ GUARDED_BY(mu_) = false;
};

}  // namespace cairn::rpc
