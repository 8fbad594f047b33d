#include "base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace cairn {

void NameThisThread(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

Status LowerThisThreadPriority(int by) {
  if (by < 0 || by > 19) return Status::Error("a priority step must be 0 to 19");
  // getpriority/setpriority(PRIO_PROCESS, tid) act on one thread on Linux (a documented
  // departure from POSIX, where they would act on the whole process).
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);
  if (now == -1 && errno != 0)
    return Status::Error(std::string("getpriority: ") + std::strerror(errno));
  const int target = now + by > 19 ? 19 : now + by;
  if (setpriority(PRIO_PROCESS, tid, target) != 0) {
    return Status::Error(std::string("setpriority: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace cairn
