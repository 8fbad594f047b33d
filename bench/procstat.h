// Reading another process's CPU time and memory from /proc (Linux), for the load report.
// Free functions; thread-safe.
#pragma once

#include <sys/types.h>
#include <optional>
#include <string>

namespace cairn::bench {

struct ProcSample {
  double cpu_s = 0;    // user + system time so far
  double rss_mib = 0;  // VmRSS
  double hwm_mib = 0;  // VmHWM: peak resident set since the process started
};

// nullopt when the process is gone or /proc is unreadable.
std::optional<ProcSample> ReadProc(pid_t pid);
// The 1-minute load average, or -1.
double LoadAverage1();
// Parses "NAME=PID" (or a bare PID, named after itself).
std::optional<std::pair<std::string, pid_t>> ParsePidSpec(const std::string& spec);

}  // namespace cairn::bench
