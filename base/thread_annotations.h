// Clang thread-safety annotations (checked with -Wthread-safety; no-ops elsewhere) and a
// mutex that carries them, since libstdc++'s std::mutex does not.
#pragma once

#include <mutex>

#if defined(__clang__)
#define CAIRN_TSA(x) __attribute__((x))
#else
#define CAIRN_TSA(x)
#endif

#define CAPABILITY(x) CAIRN_TSA(capability(x))
#define SCOPED_CAPABILITY CAIRN_TSA(scoped_lockable)
#define GUARDED_BY(x) CAIRN_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) CAIRN_TSA(pt_guarded_by(x))
#define REQUIRES(...) CAIRN_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) CAIRN_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) CAIRN_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) CAIRN_TSA(release_capability(__VA_ARGS__))

namespace cairn {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace cairn
