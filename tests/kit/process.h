// Child processes for tests (cairnd, cairn, test helpers): spawn a binary, read its stdout line
// by line with a deadline, signal it, and wait for its exit status with a deadline. A Process is
// used from one thread at a time; RunCommand and the file helpers are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cairn::testkit {

class Process {
 public:
  // Starts `exe` with `args`; stdout is piped to us, stderr goes to `stderr_path`.
  Process(const std::string& exe, const std::vector<std::string>& args,
          const std::string& stderr_path);
  ~Process();  // SIGKILLs and reaps a process still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The first stdout line starting with `prefix` (returned whole), or nullopt when the
  // deadline passes or the process closes stdout.
  std::optional<std::string> WaitForLine(const std::string& prefix,
                                         std::chrono::milliseconds timeout);
  void Signal(int sig);
  // The exit code (or 128+signal), or nullopt if still running after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a command to completion (killed after `timeout`), capturing stdout and stderr.
CommandResult RunCommand(const std::string& exe, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string ReadFile(const std::string& path);
std::string TailOf(const std::string& path, size_t max_bytes = 4000);

}  // namespace cairn::testkit
