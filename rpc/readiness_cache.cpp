#include "rpc/readiness_cache.h"

namespace cairn::rpc {

Readiness ReadinessCache::Get(uint64_t now_ms, const std::function<Readiness()>& compute) {
  {
    MutexLock lock(&mu_);
    if (valid_ && now_ms < at_ms_ + kWindowMs) return cached_;
  }
  Readiness fresh = compute();
  MutexLock lock(&mu_);
  cached_ = fresh;
  at_ms_ = now_ms;
  valid_ = true;
  return fresh;
}

}  // namespace cairn::rpc
