#include "bench/procstat.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace cairn::bench {

std::optional<ProcSample> ReadProc(pid_t pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime(15), counted from 1 over the whole line.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  static const long ticks = sysconf(_SC_CLK_TCK);
  s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(ticks);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    auto kib = [&line](const char* key) -> std::optional<double> {
      if (line.rfind(key, 0) != 0) return std::nullopt;
      return std::stod(line.substr(std::string(key).size())) / 1024.0;
    };
    if (auto v = kib("VmRSS:")) s.rss_mib = *v;
    if (auto v = kib("VmHWM:")) s.hwm_mib = *v;
  }
  return s;
}

double LoadAverage1() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  if (!(f >> v)) return -1;
  return v;
}

std::optional<std::pair<std::string, pid_t>> ParsePidSpec(const std::string& spec) {
  size_t eq = spec.find('=');
  std::string name = eq == std::string::npos ? "" : spec.substr(0, eq);
  std::string num = eq == std::string::npos ? spec : spec.substr(eq + 1);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), pid);
  if (ec != std::errc() || p != num.data() + num.size() || pid <= 0) return std::nullopt;
  if (name.empty()) name = num;
  return std::make_pair(name, pid);
}

}  // namespace cairn::bench
